"""What the tasks of one worker process share: settings, engine config and the provider.

Built from the environment on first use. Tests install their own (test settings, and a fake
provider at the network edge) with ``configure_runtime``. The engine configuration in force is
that base with an admin's stored settings over it (``rmc_outreach.settings_store.live``): a
change made in the browser reaches every worker within a few seconds, without a restart, and a
task pays only a clock read to learn nothing has changed.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Any, cast

from rmc_outreach.config import Settings, load_settings
from rmc_outreach.engine_config import EngineConfig, engine_config
from rmc_outreach.settings_store.live import live_settings
from rmc_outreach.telephony.base import TelephonyProvider


@dataclass(frozen=True)
class Runtime:
    """Settings, engine configuration and the telephony provider of this process."""

    settings: Settings
    config: EngineConfig
    provider: TelephonyProvider


# The runtime from the environment (or a test), and the last one built from it with the
# stored settings applied.
_base: Runtime | None = None
_current: Runtime | None = None


def configure_runtime(
    settings: Settings,
    *,
    provider: TelephonyProvider | None = None,
    config: EngineConfig | None = None,
) -> Runtime:
    """Set this process's runtime; the provider defaults to Twilio (or TWILIO_API_BASE_URL).
    Returns it as configured (``runtime()`` adds the stored settings)."""
    global _base, _current  # noqa: PLW0603
    if provider is None:
        provider = cast(TelephonyProvider, _TwilioOnFirstUse(settings))
    _base = Runtime(settings, config or engine_config(settings), provider)
    _current = None
    return _base


class _TwilioOnFirstUse:
    """The Twilio provider, built when a task first uses it: a worker that only imports files
    or cuts print batches needs no Twilio credentials (a missing one still fails loudly, at the
    first call or text)."""

    def __init__(self, settings: Settings) -> None:
        self._settings = settings
        self._provider: TelephonyProvider | None = None

    def __getattr__(self, name: str) -> Any:
        if self._provider is None:
            from rmc_outreach.telephony.twilio_provider import TwilioProvider

            self._provider = TwilioProvider(self._settings)
        return getattr(self._provider, name)


def runtime() -> Runtime:
    """This process's runtime, built from the environment on first use, with the settings an
    admin has stored applied (re-read when they change, checked every few seconds)."""
    global _current  # noqa: PLW0603
    base = _base or configure_runtime(load_settings())
    config = live_settings.applied(base.config)
    if config is base.config:
        return base
    if _current is None or _current.config is not config or _current.provider is not base.provider:
        _current = replace(base, config=config)
    return _current


def reset_runtime() -> None:
    """Forget the runtime (tests)."""
    global _base, _current  # noqa: PLW0603
    _base = None
    _current = None
