"""Password hashing with scrypt (a memory-hard KDF from the standard library).

Stored form: ``scrypt$<n>$<r>$<p>$<salt b64>$<hash b64>``, so parameters can be raised later and
old hashes still verify.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets

SCRYPT_N = 2**15
SCRYPT_R = 8
SCRYPT_P = 1
_MAX_MEMORY = 128 * 1024 * 1024
MIN_PASSWORD_LENGTH = 12
# Sign-in reads at most this many characters of a password (``admin_ui.auth``): a longer one
# could be set but never typed in again.
MAX_PASSWORD_LENGTH = 256


class WeakPasswordError(ValueError):
    """The password does not meet the minimum rules."""


def check_password_strength(password: str) -> None:
    """Raise WeakPasswordError unless the password is long enough and not trivially weak."""
    if len(password) < MIN_PASSWORD_LENGTH:
        raise WeakPasswordError(f"password must be at least {MIN_PASSWORD_LENGTH} characters")
    if len(password) > MAX_PASSWORD_LENGTH:
        raise WeakPasswordError(f"password must be at most {MAX_PASSWORD_LENGTH} characters")
    if len(set(password)) < 5:
        raise WeakPasswordError("password must use at least 5 different characters")


def hash_password(password: str) -> str:
    """Hash a password with a fresh random salt."""
    salt = secrets.token_bytes(16)
    digest = hashlib.scrypt(
        password.encode("utf-8"), salt=salt, n=SCRYPT_N, r=SCRYPT_R, p=SCRYPT_P, maxmem=_MAX_MEMORY
    )
    encoded_salt = base64.b64encode(salt).decode("ascii")
    encoded_digest = base64.b64encode(digest).decode("ascii")
    return f"scrypt${SCRYPT_N}${SCRYPT_R}${SCRYPT_P}${encoded_salt}${encoded_digest}"


def verify_password(password: str, stored: str) -> bool:
    """True when ``password`` matches the stored hash; False for any malformed hash."""
    try:
        scheme, n, r, p, encoded_salt, encoded_digest = stored.split("$")
        if scheme != "scrypt":
            return False
        expected = base64.b64decode(encoded_digest)
        digest = hashlib.scrypt(
            password.encode("utf-8"),
            salt=base64.b64decode(encoded_salt),
            n=int(n),
            r=int(r),
            p=int(p),
            maxmem=_MAX_MEMORY,
            dklen=len(expected),
        )
    except (ValueError, TypeError):
        return False
    return hmac.compare_digest(digest, expected)
