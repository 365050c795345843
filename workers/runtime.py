"""What the tasks of one worker process share: settings, engine config and the provider.

Built from the environment on first use. Tests install their own (test settings, and a fake
provider at the network edge) with ``configure_runtime``.
"""

from __future__ import annotations

from dataclasses import dataclass

from rmc_outreach.config import Settings, load_settings
from rmc_outreach.engine_config import EngineConfig, engine_config
from rmc_outreach.telephony.base import TelephonyProvider


@dataclass(frozen=True)
class Runtime:
    """Settings, engine configuration and the telephony provider of this process."""

    settings: Settings
    config: EngineConfig
    provider: TelephonyProvider


_runtime: Runtime | None = None


def configure_runtime(
    settings: Settings,
    *,
    provider: TelephonyProvider | None = None,
    config: EngineConfig | None = None,
) -> Runtime:
    """Set this process's runtime; the provider defaults to Twilio (or TWILIO_API_BASE_URL)."""
    global _runtime  # noqa: PLW0603
    if provider is None:
        from rmc_outreach.telephony.twilio_provider import TwilioProvider

        provider = TwilioProvider(settings)
    _runtime = Runtime(settings, config or engine_config(settings), provider)
    return _runtime


def runtime() -> Runtime:
    """This process's runtime, built from the environment on first use."""
    if _runtime is None:
        return configure_runtime(load_settings())
    return _runtime


def reset_runtime() -> None:
    """Forget the runtime (tests)."""
    global _runtime  # noqa: PLW0603
    _runtime = None
