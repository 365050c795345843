"""Settings from the environment, validated once at start.

Every setting has a safe default for one machine (SQLite under ``var/``, a private Redis started by
the run command, the carrier simulator). Production mode (``RMC_MODE=production``) fails closed: it
refuses to start without a real secret key, PostgreSQL, Twilio credentials and an https public URL.
"""

from __future__ import annotations

import os
import re
import secrets
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

PROJECT_ROOT = Path(__file__).resolve().parent.parent

ACCOUNT_SID_PATTERN = re.compile(r"^AC[0-9a-fA-F]{32}$")
E164_PATTERN = re.compile(r"^\+[1-9]\d{6,14}$")
LOOPBACK_HOSTS = frozenset({"127.0.0.1", "localhost", "::1"})


class ConfigError(ValueError):
    """One or more settings are missing or invalid; the message lists every problem."""


@dataclass(frozen=True)
class Settings:
    """Validated settings for every process (web, worker, beat, CLI)."""

    mode: str
    var_dir: Path
    database_url: str
    redis_url: str | None
    secret_key: str
    port: int
    public_base_url: str
    timezone: str
    intake_max_bytes: int
    intake_max_rows: int
    twilio_account_sid: str | None
    twilio_auth_token: str | None
    twilio_caller_id: str | None
    twilio_sms_from: str | None
    twilio_api_base_url: str | None
    twilio_allow_remote_api_base: bool
    clock_mode: str = "real"
    # Reverse proxies in front of the web (nginx, a load balancer) whose X-Forwarded-For and
    # X-Forwarded-Proto are believed: 0 = none, the client's own address is the peer's.
    trusted_proxies: int = 0

    @property
    def production(self) -> bool:
        """True when the service runs for real patients: test data and fictional numbers refused."""
        return self.mode == "production"

    @property
    def is_sqlite(self) -> bool:
        """True when the database is the embedded SQLite default."""
        return self.database_url.startswith("sqlite")


def _int_setting(env: Mapping[str, str], name: str, default: int, problems: list[str]) -> int:
    raw = env.get(name, "").strip()
    if not raw:
        return default
    try:
        value = int(raw)
    except ValueError:
        problems.append(f"{name} must be a whole number, got {raw!r}")
        return default
    if value <= 0:
        problems.append(f"{name} must be positive, got {value}")
    return value


MAX_TRUSTED_PROXIES = 5


def _trusted_proxies(env: Mapping[str, str], problems: list[str]) -> int:
    """RMC_TRUSTED_PROXIES: how many reverse proxies in front of the web to believe."""
    raw = env.get("RMC_TRUSTED_PROXIES", "").strip()
    if not raw:
        return 0
    if not raw.isdigit() or int(raw) > MAX_TRUSTED_PROXIES:
        problems.append(
            f"RMC_TRUSTED_PROXIES must be a whole number from 0 to {MAX_TRUSTED_PROXIES} "
            f"(reverse proxies in front of the web), got {raw!r}"
        )
        return 0
    return int(raw)


def _bool_setting(env: Mapping[str, str], name: str, problems: list[str]) -> bool:
    raw = env.get(name, "").strip().lower()
    if raw in ("", "0", "false", "no"):
        return False
    if raw in ("1", "true", "yes"):
        return True
    problems.append(f"{name} must be true or false, got {raw!r}")
    return False


def _secret_key(
    env: Mapping[str, str], var_dir: Path, production: bool, problems: list[str]
) -> str:
    configured = env.get("SECRET_KEY", "").strip()
    if configured:
        if production and len(configured) < 32:
            problems.append("SECRET_KEY must be at least 32 characters in production")
        return configured
    if production:
        problems.append("SECRET_KEY is required in production (at least 32 random characters)")
        return ""
    if problems:
        return ""  # the key file is only written once everything else is known to be valid
    # Development: a random key kept under var/ so sessions survive a restart of the demo.
    key_file = var_dir / "secret_key"
    if key_file.exists():
        return key_file.read_text(encoding="ascii").strip()
    var_dir.mkdir(parents=True, exist_ok=True)
    key = secrets.token_urlsafe(48)
    key_file.write_text(key, encoding="ascii")
    key_file.chmod(0o600)
    return key


def _normalise_database_url(url: str) -> str:
    # Plain postgres URLs select psycopg 3, the driver we ship.
    for prefix in ("postgres://", "postgresql://"):
        if url.startswith(prefix):
            return "postgresql+psycopg://" + url[len(prefix) :]
    return url


def _database_url(
    env: Mapping[str, str], var_dir: Path, production: bool, problems: list[str]
) -> str:
    database_url = _normalise_database_url(env.get("DATABASE_URL", "").strip())
    if not database_url:
        if production:
            problems.append("DATABASE_URL must point at PostgreSQL in production")
        return f"sqlite:///{var_dir / 'rmc_outreach.sqlite3'}"
    scheme = database_url.split(":", 1)[0]
    if scheme not in ("sqlite", "postgresql+psycopg"):
        problems.append(
            f"DATABASE_URL must be a postgresql:// or sqlite:/// URL, got scheme {scheme!r}"
        )
    elif production and scheme != "postgresql+psycopg":
        problems.append("DATABASE_URL must point at PostgreSQL in production")
    return database_url


def _redis_url(env: Mapping[str, str], production: bool, problems: list[str]) -> str | None:
    redis_url = env.get("REDIS_URL", "").strip() or None
    if redis_url and urlsplit(redis_url).scheme not in ("redis", "rediss", "unix"):
        problems.append(f"REDIS_URL must be a redis:// URL, got {redis_url.split(':', 1)[0]!r}")
    if production and not redis_url:
        problems.append("REDIS_URL is required in production")
    return redis_url


def _public_base_url(
    env: Mapping[str, str], port: int, production: bool, problems: list[str]
) -> str:
    public_base_url = env.get("PUBLIC_BASE_URL", "").strip().rstrip("/")
    if not public_base_url:
        return f"http://127.0.0.1:{port}"
    parts = urlsplit(public_base_url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        problems.append(f"PUBLIC_BASE_URL must be an absolute http(s) URL, got {public_base_url!r}")
    elif production and parts.scheme != "https":
        problems.append("PUBLIC_BASE_URL must use https in production (Twilio signs that URL)")
    return public_base_url


@dataclass(frozen=True)
class _TwilioSettings:
    account_sid: str | None
    auth_token: str | None
    caller_id: str | None
    sms_from: str | None
    api_base_url: str | None
    allow_remote_api_base: bool


def _twilio_settings(
    env: Mapping[str, str], production: bool, problems: list[str]
) -> _TwilioSettings:
    sid = env.get("TWILIO_ACCOUNT_SID", "").strip() or None
    token = env.get("TWILIO_AUTH_TOKEN", "").strip() or None
    caller_id = env.get("TWILIO_CALLER_ID", "").strip() or None
    sms_from = env.get("TWILIO_SMS_FROM", "").strip() or caller_id
    if sid and not ACCOUNT_SID_PATTERN.match(sid):
        problems.append("TWILIO_ACCOUNT_SID must be AC followed by 32 hex characters")
    for name, value in (("TWILIO_CALLER_ID", caller_id), ("TWILIO_SMS_FROM", sms_from)):
        if value and not E164_PATTERN.match(value):
            problems.append(f"{name} must be an E.164 number such as +441632960000")
    if production:
        required = (
            ("TWILIO_ACCOUNT_SID", sid),
            ("TWILIO_AUTH_TOKEN", token),
            ("TWILIO_CALLER_ID", caller_id),
        )
        problems.extend(
            f"{name} is required in production" for name, value in required if not value
        )

    api_base = env.get("TWILIO_API_BASE_URL", "").strip().rstrip("/") or None
    allow_remote = _bool_setting(env, "TWILIO_ALLOW_REMOTE_API_BASE", problems)
    if api_base:
        api_parts = urlsplit(api_base)
        if api_parts.scheme not in ("http", "https") or not api_parts.hostname:
            problems.append(f"TWILIO_API_BASE_URL must be an http(s) URL, got {api_base!r}")
        elif api_parts.hostname not in LOOPBACK_HOSTS and not allow_remote:
            problems.append(
                "TWILIO_API_BASE_URL must be a loopback address unless "
                "TWILIO_ALLOW_REMOTE_API_BASE=true"
            )
        if production:
            problems.append("TWILIO_API_BASE_URL must not be set in production")
    return _TwilioSettings(sid, token, caller_id, sms_from, api_base, allow_remote)


def load_settings(env: Mapping[str, str] | None = None) -> Settings:
    """Read and validate settings; raise ConfigError naming every bad or missing setting."""
    env = os.environ if env is None else env
    problems: list[str] = []

    mode = env.get("RMC_MODE", "development").strip().lower() or "development"
    if mode not in ("development", "production"):
        problems.append(f"RMC_MODE must be development or production, got {mode!r}")
    production = mode == "production"
    var_dir = Path(env.get("RMC_VAR_DIR", "") or PROJECT_ROOT / "var").resolve()

    database_url = _database_url(env, var_dir, production, problems)
    redis_url = _redis_url(env, production, problems)
    port = _int_setting(env, "PORT", 8000, problems)
    if port > 65535:
        problems.append(f"PORT must be at most 65535, got {port}")
    public_base_url = _public_base_url(env, port, production, problems)
    twilio = _twilio_settings(env, production, problems)
    intake_max_bytes = _int_setting(env, "INTAKE_MAX_BYTES", 64 * 1024 * 1024, problems)
    intake_max_rows = _int_setting(env, "INTAKE_MAX_ROWS", 250_000, problems)
    timezone = env.get("RMC_TIMEZONE", "Europe/London").strip() or "Europe/London"
    try:
        ZoneInfo(timezone)
    except (ZoneInfoNotFoundError, ValueError):
        problems.append(
            f"RMC_TIMEZONE must be an IANA time zone such as Europe/London, got {timezone!r}"
        )
    clock_mode = env.get("RMC_CLOCK", "real").strip().lower() or "real"
    if clock_mode not in ("real", "simulated"):
        problems.append(f"RMC_CLOCK must be real or simulated, got {clock_mode!r}")
    elif clock_mode == "simulated" and (production or not redis_url):
        problems.append("RMC_CLOCK=simulated needs REDIS_URL and is refused in production")
    secret_key = _secret_key(env, var_dir, production, problems)
    trusted_proxies = _trusted_proxies(env, problems)

    if problems:
        raise ConfigError("Invalid configuration:\n  - " + "\n  - ".join(problems))

    return Settings(
        mode=mode,
        var_dir=var_dir,
        database_url=database_url,
        redis_url=redis_url,
        secret_key=secret_key,
        port=port,
        public_base_url=public_base_url,
        timezone=timezone,
        intake_max_bytes=intake_max_bytes,
        intake_max_rows=intake_max_rows,
        twilio_account_sid=twilio.account_sid,
        twilio_auth_token=twilio.auth_token,
        twilio_caller_id=twilio.caller_id,
        twilio_sms_from=twilio.sms_from,
        twilio_api_base_url=twilio.api_base_url,
        twilio_allow_remote_api_base=twilio.allow_remote_api_base,
        clock_mode=clock_mode,
        trusted_proxies=trusted_proxies,
    )
