"""The contact engine's knobs, built once per process from settings.

Defaults suit one centre; each can be overridden from the environment (names below).
``pacing_limits`` gathers the knobs ``rmc_outreach.pacing`` needs to answer "how many calls may
start now"; ``max_calls_in_flight`` is its concurrency limit.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import time, timedelta

from rmc_outreach.calendar import CallingWindow
from rmc_outreach.clock import simulated_clock
from rmc_outreach.config import Settings
from rmc_outreach.journey import JourneyPolicy
from rmc_outreach.messages import PublicContext, default_public_context
from rmc_outreach.phones import format_national
from rmc_outreach.telephony.urls import WebhookUrls

# The caller id used when none is configured outside production: an Ofcom drama-range number.
FICTIONAL_CALLER_ID = "+441632960000"

# Ofcom's persistent-misuse policy: abandoned calls under 3% of live-answered calls per day, and
# no call to the same number within 72 hours of an abandoned call. Production may be stricter,
# never looser.
OFCOM_ABANDONED_RATE_CAP = 0.03
OFCOM_REDIAL_LOCKOUT = timedelta(hours=72)


@dataclass(frozen=True)
class PacingLimits:
    """The configured limits on outbound calling that pacing must respect."""

    max_calls_per_second: int = 1  # RMC_MAX_CALLS_PER_SECOND (Twilio's default account rate)
    max_concurrent_calls: int = 20  # RMC_MAX_CALLS_IN_FLIGHT
    abandoned_rate_cap: float = OFCOM_ABANDONED_RATE_CAP  # RMC_ABANDONED_RATE_CAP
    redial_lockout: timedelta = OFCOM_REDIAL_LOCKOUT  # RMC_REDIAL_LOCKOUT_HOURS

    def __post_init__(self) -> None:
        if self.max_calls_per_second < 1:
            raise ValueError(
                f"max calls per second must be at least 1, got {self.max_calls_per_second}"
            )
        if self.max_concurrent_calls < 1:
            raise ValueError(
                f"max concurrent calls must be at least 1, got {self.max_concurrent_calls}"
            )
        if not 0 < self.abandoned_rate_cap <= 1:
            raise ValueError(
                f"the abandoned-call rate cap must be a fraction above 0 and at most 1, "
                f"got {self.abandoned_rate_cap}"
            )
        if self.redial_lockout <= timedelta(0):
            raise ValueError("the no-redial lockout after an abandoned call must be positive")


@dataclass(frozen=True)
class EngineConfig:
    """Everything dispatch, the workers, the webhooks and the sweeper need to agree on."""

    window: CallingWindow
    urls: WebhookUrls
    caller_id: str
    sms_sender: str
    public_context: PublicContext
    production: bool = False
    policy: JourneyPolicy = field(default_factory=JourneyPolicy)
    dispatch_batch_size: int = 100  # RMC_DISPATCH_BATCH_SIZE
    admit_batch_size: int = 500  # RMC_ADMIT_BATCH_SIZE
    max_calls_in_flight: int = 20  # RMC_MAX_CALLS_IN_FLIGHT (pacing's concurrency limit)
    max_calls_per_second: int = 1  # RMC_MAX_CALLS_PER_SECOND
    abandoned_rate_cap: float = OFCOM_ABANDONED_RATE_CAP  # RMC_ABANDONED_RATE_CAP
    redial_lockout: timedelta = OFCOM_REDIAL_LOCKOUT  # RMC_REDIAL_LOCKOUT_HOURS
    ring_timeout_s: int = 25  # Ofcom: let unanswered calls ring at least 15 s
    hold_wait: timedelta = timedelta(seconds=60)  # RMC_HOLD_WAIT_SECONDS
    hold_pause_s: int = 15
    # The sweeper: how long before a claimed or uncertain attempt is looked up at the provider,
    # a pending attempt is re-queued, a stored event is applied again. These measure how long a
    # worker or a queue may take, so they are *real* durations: ``in_clock_time`` scales them
    # when the demo's simulated clock runs faster than real time.
    stuck_claimed_after: timedelta = timedelta(minutes=2)
    stale_pending_after: timedelta = timedelta(minutes=2)
    unapplied_event_after: timedelta = timedelta(minutes=1)
    # No attempt is claimed this close to the window's end (real time, scaled likewise): the
    # provider must receive the call or text while the window is still open.
    window_guard: timedelta = timedelta(seconds=5)
    # A sent call with no final status after this long (call time) is fetched from the provider.
    stale_sent_call_after: timedelta = timedelta(minutes=15)
    # A sent SMS with no final delivery report after this long (call time) is fetched from the
    # provider: delivery reports are usually seconds apart, and one may be lost. Texts sent
    # longer ago than the horizon are left alone (a carrier may never report; fetching them at
    # every sweep would crowd out the rest).
    stale_sent_sms_after: timedelta = timedelta(hours=1)
    sms_report_horizon: timedelta = timedelta(days=3)
    sweep_batch_size: int = 50
    retry_after_provider_outage: timedelta = timedelta(minutes=5)
    print_cut_time: time = time(16, 0)  # RMC_PRINT_CUT_TIME (HH:MM, local)

    def __post_init__(self) -> None:
        self.pacing_limits  # noqa: B018 - validates the pacing knobs at construction

    @property
    def pacing_limits(self) -> PacingLimits:
        """The limits pacing respects, from this configuration."""
        return PacingLimits(
            max_calls_per_second=self.max_calls_per_second,
            max_concurrent_calls=self.max_calls_in_flight,
            abandoned_rate_cap=self.abandoned_rate_cap,
            redial_lockout=self.redial_lockout,
        )


def in_clock_time(real: timedelta) -> timedelta:
    """A real duration in the time ``clock.now()`` keeps: longer when the demo's simulated clock
    runs faster than real time, unchanged otherwise."""
    simulated = simulated_clock()
    return real * simulated.rate if simulated is not None else real


def _int(env: Mapping[str, str], name: str, default: int) -> int:
    raw = env.get(name, "").strip()
    return default if not raw else positive_int(raw, name)


def positive_int(raw: object, name: str) -> int:
    if isinstance(raw, bool) or not isinstance(raw, int | str):
        raise ValueError(f"{name} must be a whole number, got {raw!r}")
    try:
        value = int(raw)
    except ValueError:
        raise ValueError(f"{name} must be a whole number, got {raw!r}") from None
    if value <= 0:
        raise ValueError(f"{name} must be positive, got {value}")
    return value


def _abandonedabandoned_rate_cap_value(env: Mapping[str, str], *, production: bool) -> float:
    name = "RMC_ABANDONED_RATE_CAP"
    raw = env.get(name, "").strip()
    return (
        OFCOM_ABANDONED_RATE_CAP
        if not raw
        else abandoned_rate_cap_value(raw, name, production=production)
    )


def abandoned_rate_cap_value(raw: object, name: str, *, production: bool) -> float:
    if isinstance(raw, bool) or not isinstance(raw, int | float | str):
        raise ValueError(f"{name} must be a fraction such as 0.03, got {raw!r}")
    try:
        value = float(raw)
    except ValueError:
        raise ValueError(f"{name} must be a fraction such as 0.03, got {raw!r}") from None
    if not 0 < value <= 1:
        raise ValueError(f"{name} must be a fraction above 0 and at most 1 (0.03 is 3%), got {raw}")
    if production and value > OFCOM_ABANDONED_RATE_CAP:
        raise ValueError(
            f"{name} may not exceed Ofcom's {OFCOM_ABANDONED_RATE_CAP} in production, got {raw}"
        )
    return value


def _redialredial_lockout_value(env: Mapping[str, str], *, production: bool) -> timedelta:
    name = "RMC_REDIAL_LOCKOUT_HOURS"
    hours = _int(env, name, int(OFCOM_REDIAL_LOCKOUT.total_seconds()) // 3600)
    return redial_lockout_value(hours, name, production=production)


def redial_lockout_value(raw: object, name: str, *, production: bool) -> timedelta:
    lockout = timedelta(hours=positive_int(raw, name))
    if production and lockout < OFCOM_REDIAL_LOCKOUT:
        raise ValueError(f"{name} may not be shorter than Ofcom's 72 hours in production")
    return lockout


def engine_config(settings: Settings, env: Mapping[str, str] | None = None) -> EngineConfig:
    """The engine configuration for these settings (and optional environment overrides)."""
    env = os.environ if env is None else env
    caller_id = settings.twilio_caller_id
    if caller_id is None:
        if settings.production:
            raise ValueError("TWILIO_CALLER_ID is required in production")
        caller_id = FICTIONAL_CALLER_ID
    cut = env.get("RMC_PRINT_CUT_TIME", "").strip()
    return EngineConfig(
        window=CallingWindow(timezone=settings.timezone),
        urls=WebhookUrls(settings.public_base_url),
        caller_id=caller_id,
        sms_sender=settings.twilio_sms_from or caller_id,
        # The number patients call back is the one we call from: Ofcom asks for a returnable
        # caller id with a person behind it.
        public_context=default_public_context(format_national(caller_id)),
        production=settings.production,
        dispatch_batch_size=_int(env, "RMC_DISPATCH_BATCH_SIZE", 100),
        admit_batch_size=_int(env, "RMC_ADMIT_BATCH_SIZE", 500),
        max_calls_in_flight=_int(env, "RMC_MAX_CALLS_IN_FLIGHT", 20),
        max_calls_per_second=_int(env, "RMC_MAX_CALLS_PER_SECOND", 1),
        abandoned_rate_cap=_abandonedabandoned_rate_cap_value(env, production=settings.production),
        redial_lockout=_redialredial_lockout_value(env, production=settings.production),
        hold_wait=timedelta(seconds=_int(env, "RMC_HOLD_WAIT_SECONDS", 60)),
        print_cut_time=time.fromisoformat(cut) if cut else time(16, 0),
    )


def with_overrides(config: EngineConfig, overrides: Mapping[str, object]) -> EngineConfig:
    """``config`` with an admin's stored settings (``rmc_outreach.settings_store``) in place of
    the environment's, each checked by the rules the environment's values follow (production's
    limits included); ``SettingError`` naming the first value that cannot be used."""
    from rmc_outreach.settings_store.overrides import apply_overrides

    return apply_overrides(config, overrides)
