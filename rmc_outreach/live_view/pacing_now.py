"""What pacing decides now, and why, in a supervisor's words (the live view's pacing lines).

The calls in flight per available handler say how hard the floor is being dialled; they do not
say why no call is starting: outreach paused, the day at its abandoned-call limit, the calls in
flight already expected to fill every handler... ``pacing_now`` asks pacing itself
(``pacing.gather_inputs`` and ``pacing.decide``, the same reads dispatch makes) and puts its
answer in words. It reads the handler, handoff and attempt indexes pacing reads, a dozen small
queries.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy.orm import Session

from rmc_outreach import handlers, pacing
from rmc_outreach.dispatch import DISPATCH_INTERVAL
from rmc_outreach.engine_config import EngineConfig, in_clock_time
from rmc_outreach.pacing import HoldReason

HOLD_LABELS = {
    HoldReason.PAUSED: "outreach is paused",
    HoldReason.NO_HANDLER: "no handler is free for another patient",
    HoldReason.CONCURRENCY_LIMIT: "the limit on calls at once is reached",
    HoldReason.CALL_RATE_LIMIT: "the limit on calls per second is reached",
    HoldReason.ABANDON_CAP_REACHED: "every available handler already has a call",
    HoldReason.ABANDON_CAP_NEAR: "the calls in flight are enough while the abandoned rate is high",
    HoldReason.HANDLERS_COVERED: "the calls in flight are expected to fill every free handler",
    HoldReason.ABANDON_RISK: "more calls would risk patients waiting with no handler",
}


@dataclass(frozen=True)
class PacingNow:
    """Pacing's decision now: calls per free handler, calls it would start, why none, and
    whether the day is paced one call per available handler (at its abandoned-call limit);
    and whether the calling window is open and anyone is signed in (pacing applies only then:
    with nobody signed in, calls offer a call back and run on the cap on calls in flight)."""

    window_open: bool
    handlers_signed_in: bool
    calls_per_free_handler: float
    calls_allowed: int
    holding: HoldReason | None
    one_to_one: bool
    abandoned_today: int
    # Abandoned calls the day can still have and stay under the cap, pacing's margin kept
    # (``PacingInputs.day_allowance``); None when unknown.
    day_allowance: float | None

    @property
    def status(self) -> str:
        """One sentence a supervisor reads: what pacing is doing and why."""
        if not self.window_open:
            return "Not dialling: outside calling hours."
        if self.holding is HoldReason.PAUSED:
            return "Not dialling: outreach is paused."
        if not self.handlers_signed_in:
            return "No handler signed in: calls offer patients a call back instead of a wait."
        if not self.one_to_one:
            mode = f"{self.calls_per_free_handler:.1f} calls per free handler"
        elif self.abandoned_today:
            mode = "One call per available handler (the day is near its abandoned-call limit)"
        else:  # the day's first calls, or a small day: no room for an abandoned call
            mode = "One call per available handler (too few calls expected today to risk one)"
        if self.holding is None:
            calls = "call" if self.calls_allowed == 1 else "calls"
            return f"{mode}: {self.calls_allowed} more {calls} may start now."
        return f"{mode}: holding, {HOLD_LABELS[self.holding]}."


def pacing_now(session: Session, config: EngineConfig, moment: datetime) -> PacingNow:
    """Pacing's decision at ``moment``, read in the caller's transaction."""
    recent = in_clock_time(DISPATCH_INTERVAL)  # as dispatch asks (the calls-per-second limit)
    inputs = pacing.gather_inputs(session, config, moment, recent=recent)
    decision = pacing.decide(inputs)
    allowance = inputs.day_allowance
    return PacingNow(
        window_open=config.window.is_open(moment),
        handlers_signed_in=handlers.any_signed_in(session),
        calls_per_free_handler=round(decision.calls_per_free_handler, 2),
        calls_allowed=decision.calls_allowed,
        holding=decision.reason,
        one_to_one=inputs.at_cap,
        abandoned_today=inputs.abandoned_today,
        day_allowance=None if math.isinf(allowance) else round(allowance, 1),
    )
