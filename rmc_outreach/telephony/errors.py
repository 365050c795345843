"""Our own provider errors, and one table from Twilio error codes to what they mean for us.

Three kinds, because each needs a different response:

- ``RetryableProviderError``: the provider certainly did not act (connection refused, 429);
  retry after a short wait (tenacity, inside the adapter).
- ``PermanentProviderError``: the provider refused for good (invalid number, opted out);
  record the outcome, never retry.
- ``AmbiguousProviderError``: the request may or may not have been acted on (read timeout,
  5xx after sending); the attempt becomes ``uncertain`` and is reconciled, never re-sent blindly.
"""

from __future__ import annotations

from dataclasses import dataclass


class ProviderError(Exception):
    """Base of every provider error; ``code`` is the provider's error code when it gave one."""

    def __init__(self, message: str, *, code: int | None = None, reason: str = "") -> None:
        super().__init__(message)
        self.code = code
        self.reason = reason or "provider_error"


class RetryableProviderError(ProviderError):
    """Not processed by the provider: safe to retry shortly."""


class PermanentProviderError(ProviderError):
    """Refused for good: record and move on."""


class AmbiguousProviderError(ProviderError):
    """May have been processed: reconcile, do not resend."""


@dataclass(frozen=True)
class ErrorMeaning:
    """What a provider error code means: retry or not, and the reason we record."""

    retryable: bool
    reason: str


# Twilio error codes we act on. Anything else from a 4xx is permanent with reason "rejected".
TWILIO_ERROR_CODES: dict[int, ErrorMeaning] = {
    20429: ErrorMeaning(True, "rate_limited"),
    20003: ErrorMeaning(False, "authentication_failed"),
    20404: ErrorMeaning(False, "not_found"),
    21210: ErrorMeaning(False, "caller_id_not_verified"),
    21211: ErrorMeaning(False, "invalid_number"),
    21212: ErrorMeaning(False, "invalid_caller_id"),
    21213: ErrorMeaning(False, "caller_id_required"),
    21214: ErrorMeaning(False, "number_unreachable"),
    21215: ErrorMeaning(False, "geo_permission_denied"),
    21216: ErrorMeaning(False, "number_blocked"),
    21217: ErrorMeaning(False, "invalid_number"),
    21401: ErrorMeaning(False, "invalid_number"),
    21408: ErrorMeaning(False, "geo_permission_denied"),
    21601: ErrorMeaning(False, "invalid_number"),
    21602: ErrorMeaning(False, "empty_body"),
    21604: ErrorMeaning(False, "missing_to"),
    21606: ErrorMeaning(False, "invalid_sender"),
    21608: ErrorMeaning(False, "unverified_number"),
    21610: ErrorMeaning(False, "opted_out"),
    21612: ErrorMeaning(False, "cannot_route"),
    21614: ErrorMeaning(False, "not_sms_capable"),
    21617: ErrorMeaning(False, "body_too_long"),
    13224: ErrorMeaning(False, "invalid_number"),
    13227: ErrorMeaning(False, "geo_permission_denied"),
}


def classify_http_error(
    status: int, code: int | None, message: str, *, creates: bool
) -> ProviderError:
    """Turn a provider HTTP error into one of our errors.

    ``creates`` is True for requests that make something (a call, a message): a 5xx then means
    the provider may have acted, so it is ambiguous; for reads it is safe to retry.
    """
    meaning = TWILIO_ERROR_CODES.get(code) if code is not None else None
    if status == 429 or (meaning is not None and meaning.retryable):
        return RetryableProviderError(message, code=code, reason="rate_limited")
    if status >= 500:
        if creates:
            return AmbiguousProviderError(message, code=code, reason="provider_server_error")
        return RetryableProviderError(message, code=code, reason="provider_server_error")
    reason = meaning.reason if meaning is not None else "rejected"
    return PermanentProviderError(message, code=code, reason=reason)
