"""The simulated people behind the phone numbers: who answers, when, and what they do.

Deterministic: every trait of a number comes from a hash of (seed, number, trait), so the same
number behaves alike all through a run and across runs with the same seed; the n-th call (or SMS)
to a number draws from its own stream (seed, number, n), so a rerun makes the same choices.

Defaults (``PopulationConfig``), chosen to be plausible for an English referral population:

- **Kinds of people**: 55 % working age, 30 % retired, 15 % shift workers. Base answer rates
  45 %, 65 %, 50 %, scaled by the hour (local time, ``RMC_TIMEZONE``) and by a personal
  responsiveness factor (0.6-1.4). On weekdays working-age people answer least 09-11 and 13-15
  (x0.55, at work), best at lunch and after 17:00; retired people best 10-16; shift workers
  worst in the morning (asleep after nights). Weekends are flat. The probability is capped at 95 %.
- **Ringing**: a person picks up after a log-normal ring time (median 9 s); at or beyond the call's
  ``Timeout`` it is no-answer. 4 % of calls are busy.
- **Answering machines**: 55 % of people have voicemail, which picks up after 12-22 s (when
  the person did not) if that is before the ``Timeout``. Greetings last 8-20 s, then the beep.
- **AMD** (DetectMessageEnd): a person is recognised as ``human`` 2-4 s after answering; 3 % are
  mistaken for a machine (``machine_end_*``), 2 % are silent and come out ``unknown`` after 5 s.
  A machine is recognised after its greeting (``machine_end_beep`` 80 %, ``_silence`` 12 %,
  ``_other`` 8 %); 4 % are mistaken for ``human`` at 2-4 s. A greeting longer than the detection
  timeout gives ``unknown``. 0.3 % of numbers are fax lines (``fax`` at 3-5 s).
- **Keypad** (each Gather round): 1 55 %, 2 20 %, 3 7 %, 9 3 %, nothing 15 %, pressed 1-4 s after
  the prompt. 3 % of people hang up early (3-10 s in). Patience in the handler queue 120-900 s;
  15 % of people waiting there press 1 (call me back instead) when offered, after 20-120 s.
- **Wrong numbers** (3 %): when they answer, press nothing and hang up after 4-15 s.
- **Dead numbers** (2 %): calls fail; SMS are undelivered (30003, 30005 or 30006).
- **SMS replies** (per delivered SMS): CALL 8 %, free text 6 %, STOP 3 %, HELP 1 %, none 82 %,
  after a log-normal delay (median 10 min). 5 % of people who sent STOP send START later.
"""

from __future__ import annotations

import hashlib
import math
import random
from dataclasses import dataclass, field
from datetime import datetime
from functools import lru_cache

PERSON_KINDS = ("working", "retired", "shift")

# Hour-of-day answer factors (local time), index = hour. Weekdays only; weekends use 1.0.
_HOUR_FACTORS: dict[str, tuple[float, ...]] = {
    "working": (0.3,) * 7
    + (0.6, 0.9, 0.55, 0.55, 0.7, 1.0, 0.55, 0.55, 0.7, 0.85, 1.15, 1.2, 1.2, 1.1, 0.9)
    + (0.5, 0.4),
    "retired": (0.2,) * 7
    + (0.5, 0.8, 1.0, 1.1, 1.1, 0.95, 1.05, 1.1, 1.05, 1.0, 0.9, 0.85, 0.8, 0.7, 0.6)
    + (0.4, 0.3),
    "shift": (0.4,) * 7
    + (0.5, 0.5, 0.6, 0.7, 0.9, 1.0, 1.0, 1.0, 1.0, 1.0, 0.9, 0.9, 0.9, 0.8, 0.7)
    + (0.6, 0.5),
}
MAX_ANSWER_PROBABILITY = 0.95
SILENT_UNKNOWN_AFTER_S = 5.0  # Twilio's MachineDetectionSilenceTimeout default
FAX_HANGS_UP_AFTER_S = 30.0
KEYPAD_ROUNDS = 4

REPLY_TEXTS: dict[str, tuple[str, ...]] = {
    "call": ("CALL", "Call", "call"),
    "free_text": (
        "Can you ring me after 3pm please",
        "I am at work, please try tomorrow",
        "Who is this?",
        "Yes please",
        "I think I have already booked",
        "Please call me back",
    ),
    "stop": ("STOP", "Stop", "UNSUBSCRIBE", "STOPALL"),
    "help": ("HELP", "Help", "INFO"),
    "start": ("START", "UNSTOP"),
}
DEAD_SMS_ERRORS = (30003, 30005, 30006)


def _weights(**values: float) -> dict[str, float]:
    return dict(values)


@dataclass(frozen=True)
class PopulationConfig:
    """Rates and durations of the simulated population (defaults documented in the module)."""

    dead_number_share: float = 0.02
    wrong_number_share: float = 0.03
    fax_share: float = 0.003
    answering_machine_share: float = 0.55
    kind_shares: dict[str, float] = field(
        default_factory=lambda: _weights(working=0.55, retired=0.30, shift=0.15)
    )
    base_answer_rate: dict[str, float] = field(
        default_factory=lambda: _weights(working=0.45, retired=0.65, shift=0.50)
    )
    answer_rate_override: float | None = None  # fixed chance at every hour (tests, what-ifs)
    busy_rate: float = 0.04
    ring_time_median_s: float = 9.0
    ring_time_sigma: float = 0.5
    machine_pickup_s: tuple[float, float] = (12.0, 22.0)
    greeting_s: tuple[float, float] = (8.0, 20.0)
    human_detected_after_s: tuple[float, float] = (2.0, 4.0)
    amd_human_as_machine_rate: float = 0.03
    amd_human_unknown_rate: float = 0.02
    amd_machine_as_human_rate: float = 0.04
    machine_result_weights: dict[str, float] = field(
        default_factory=lambda: {
            "machine_end_beep": 0.80,
            "machine_end_silence": 0.12,
            "machine_end_other": 0.08,
        }
    )
    early_hang_up_rate: float = 0.03
    keypad_weights: dict[str, float] = field(
        default_factory=lambda: {"1": 0.55, "2": 0.20, "3": 0.07, "9": 0.03, "": 0.15}
    )
    keypad_delay_s: tuple[float, float] = (1.0, 4.0)
    queue_patience_s: tuple[float, float] = (120.0, 900.0)
    wait_callback_rate: float = 0.15
    wait_callback_after_s: tuple[float, float] = (20.0, 120.0)
    wrong_number_hang_up_s: tuple[float, float] = (4.0, 15.0)
    bridged_call_s: tuple[float, float] = (60.0, 400.0)
    machine_silence_hang_up_s: float = 8.0
    machine_max_message_s: float = 120.0
    sms_reply_weights: dict[str, float] = field(
        default_factory=lambda: {
            "call": 0.08,
            "free_text": 0.06,
            "stop": 0.03,
            "help": 0.01,
            "": 0.82,
        }
    )
    sms_reply_delay_median_s: float = 600.0
    sms_start_after_stop_rate: float = 0.05
    sms_sent_after_s: tuple[float, float] = (1.0, 3.0)
    sms_delivered_after_s: tuple[float, float] = (2.0, 12.0)

    def __post_init__(self) -> None:
        shares = (
            self.dead_number_share,
            self.wrong_number_share,
            self.fax_share,
            self.answering_machine_share,
            self.busy_rate,
            self.amd_human_as_machine_rate,
            self.amd_human_unknown_rate,
            self.amd_machine_as_human_rate,
            self.early_hang_up_rate,
            self.sms_start_after_stop_rate,
            self.wait_callback_rate,
        )
        if any(not 0.0 <= share <= 1.0 for share in shares):
            raise ValueError("population shares and rates must be between 0 and 1")
        if self.dead_number_share + self.wrong_number_share + self.fax_share > 1.0:
            raise ValueError("dead, wrong and fax shares add up to more than 1")
        for name in (
            "kind_shares",
            "machine_result_weights",
            "keypad_weights",
            "sms_reply_weights",
        ):
            weights: dict[str, float] = getattr(self, name)
            if not weights or any(w < 0 for w in weights.values()) or sum(weights.values()) <= 0:
                raise ValueError(f"{name} needs non-negative weights with a positive sum")


@dataclass(frozen=True)
class Person:
    """The fixed traits of the person (or line) behind one number."""

    number: str
    kind: str  # working, retired, shift
    line: str  # person, dead, wrong_number, fax
    has_machine: bool
    responsiveness: float
    greeting_s: float
    machine_pickup_s: float
    dead_sms_error: int


@dataclass(frozen=True)
class CallPlan:
    """What will happen on one call, decided when it starts ringing.

    ``outcome`` is ``human``, ``machine``, ``fax``, ``busy``, ``no-answer`` or ``failed``. Times
    are simulated seconds: ``ring_s`` from ringing to answer (or to busy/failure/no-answer);
    ``amd_after_s``, ``beep_at_s`` and ``hang_up_after_s`` from the answer. In a handler
    queue the person presses ``wait_digit`` (``"1"``: call me back instead; ``""``: never) at the
    first ``<Gather>`` of the wait music once they have waited ``wait_digit_after_s``.
    """

    outcome: str
    ring_s: float
    amd_result: str | None = None
    amd_after_s: float | None = None
    beep_at_s: float | None = None
    hang_up_after_s: float | None = None
    keypad: tuple[str, ...] = ()
    keypad_delay_s: float = 2.0
    queue_patience_s: float = 600.0
    bridged_s: float = 180.0
    wait_digit: str = ""
    wait_digit_after_s: float = 0.0


@dataclass(frozen=True)
class SmsPlan:
    """What happens to one SMS: delivery, and the reply (kind ``""`` when none)."""

    delivered: bool
    error_code: int | None
    sent_after_s: float
    delivered_after_s: float
    reply_kind: str
    reply_text: str
    reply_after_s: float
    start_after_stop_s: float | None


def _digest(*parts: object) -> bytes:
    return hashlib.blake2b("|".join(map(str, parts)).encode(), digest_size=16).digest()


def _unit(*parts: object) -> float:
    """A uniform number in [0, 1) fixed by the parts."""
    return int.from_bytes(_digest(*parts)[:8], "big") / 2**64


def _pick(weights: dict[str, float], draw: float) -> str:
    total = sum(weights.values())
    running = 0.0
    for name, weight in weights.items():
        running += weight / total
        if draw < running:
            return name
    return next(reversed(weights))


def _between(bounds: tuple[float, float], draw: float) -> float:
    low, high = bounds
    return low + (high - low) * draw


class Population:
    """The seeded population: traits per number and plans per call and SMS."""

    def __init__(self, config: PopulationConfig | None = None, *, seed: int = 0) -> None:
        self.config = config or PopulationConfig()
        self.seed = seed
        self.person = lru_cache(maxsize=65536)(self._person)

    def _person(self, number: str) -> Person:
        config, seed = self.config, self.seed

        def trait(name: str) -> float:
            return _unit(seed, number, name)

        line_draw = trait("line")
        if line_draw < config.dead_number_share:
            line = "dead"
        elif line_draw < config.dead_number_share + config.wrong_number_share:
            line = "wrong_number"
        elif line_draw < config.dead_number_share + config.wrong_number_share + config.fax_share:
            line = "fax"
        else:
            line = "person"
        return Person(
            number=number,
            kind=_pick(config.kind_shares, trait("kind")),
            line=line,
            has_machine=trait("machine") < config.answering_machine_share,
            responsiveness=0.6 + 0.8 * trait("responsiveness"),
            greeting_s=_between(config.greeting_s, trait("greeting")),
            machine_pickup_s=_between(config.machine_pickup_s, trait("pickup")),
            dead_sms_error=DEAD_SMS_ERRORS[int(trait("sms-error") * len(DEAD_SMS_ERRORS))],
        )

    def answer_probability(self, person: Person, local_time: datetime) -> float:
        """The chance this person answers a call at this local time."""
        if self.config.answer_rate_override is not None:
            return self.config.answer_rate_override
        weekday = local_time.weekday() < 5
        factor = _HOUR_FACTORS[person.kind][local_time.hour] if weekday else 1.0
        base = self.config.base_answer_rate.get(person.kind, 0.5)
        return min(MAX_ANSWER_PROBABILITY, base * factor * person.responsiveness)

    def plan_call(
        self,
        number: str,
        call_index: int,
        local_time: datetime,
        *,
        ring_timeout_s: float,
        detection_timeout_s: float = 30.0,
    ) -> CallPlan:
        """Decide the n-th call to ``number`` placed at ``local_time`` (deterministic)."""
        config, person = self.config, self.person(number)
        rng = random.Random(_digest(self.seed, number, "call", call_index))
        if person.line == "dead":
            return CallPlan("failed", ring_s=rng.uniform(1.0, 4.0))
        if rng.random() < config.busy_rate:
            return CallPlan("busy", ring_s=rng.uniform(2.0, 8.0))
        ring_s = math.exp(
            math.log(config.ring_time_median_s) + config.ring_time_sigma * rng.gauss()
        )
        answers = rng.random() < self.answer_probability(person, local_time)
        if person.line == "fax":
            answers = True
        if answers and ring_s < ring_timeout_s:
            return self._answered(person, rng, ring_s, detection_timeout_s, call_index)
        if person.has_machine and person.machine_pickup_s < ring_timeout_s:
            return self._machine(person, rng, detection_timeout_s)
        return CallPlan("no-answer", ring_s=float(ring_timeout_s))

    def _answered(
        self,
        person: Person,
        rng: random.Random,
        ring_s: float,
        detection_timeout_s: float,
        call_index: int,
    ) -> CallPlan:
        config = self.config
        if person.line == "fax":
            return CallPlan(
                "fax",
                ring_s,
                amd_result="fax",
                amd_after_s=rng.uniform(3.0, 5.0),
                hang_up_after_s=FAX_HANGS_UP_AFTER_S,
            )
        amd_draw = rng.random()
        if amd_draw < config.amd_human_as_machine_rate:
            amd_result = _pick(config.machine_result_weights, rng.random())
            amd_after = rng.uniform(4.0, min(12.0, detection_timeout_s))
        elif amd_draw < config.amd_human_as_machine_rate + config.amd_human_unknown_rate:
            amd_result, amd_after = "unknown", SILENT_UNKNOWN_AFTER_S
        else:
            amd_result = "human"
            amd_after = _between(config.human_detected_after_s, rng.random())
        keypad = tuple(_pick(config.keypad_weights, rng.random()) for _ in range(KEYPAD_ROUNDS))
        hang_up: float | None = None
        if person.line == "wrong_number":
            keypad = ("",) * KEYPAD_ROUNDS
            hang_up = _between(config.wrong_number_hang_up_s, rng.random())
        elif rng.random() < config.early_hang_up_rate:
            hang_up = rng.uniform(3.0, 10.0)
        waiting = random.Random(_digest(self.seed, person.number, "wait", call_index))
        wait_digit = "1" if waiting.random() < config.wait_callback_rate else ""
        return CallPlan(
            "human",
            ring_s,
            amd_result=amd_result,
            amd_after_s=amd_after,
            hang_up_after_s=hang_up,
            keypad=keypad,
            keypad_delay_s=_between(config.keypad_delay_s, rng.random()),
            queue_patience_s=_between(config.queue_patience_s, rng.random()),
            bridged_s=_between(config.bridged_call_s, rng.random()),
            wait_digit=wait_digit if person.line == "person" else "",
            wait_digit_after_s=_between(config.wait_callback_after_s, waiting.random()),
        )

    def _machine(self, person: Person, rng: random.Random, detection_timeout_s: float) -> CallPlan:
        config = self.config
        greeting = person.greeting_s
        if rng.random() < config.amd_machine_as_human_rate:
            amd_result, amd_after = "human", _between(config.human_detected_after_s, rng.random())
        elif greeting >= detection_timeout_s:
            amd_result, amd_after = "unknown", detection_timeout_s
        else:
            amd_result = _pick(config.machine_result_weights, rng.random())
            amd_after = greeting + rng.uniform(0.3, 1.2)
        return CallPlan(
            "machine",
            person.machine_pickup_s,
            amd_result=amd_result,
            amd_after_s=amd_after,
            beep_at_s=greeting,
            keypad=("",) * KEYPAD_ROUNDS,
        )

    def plan_sms(self, number: str, message_index: int) -> SmsPlan:
        """Decide delivery and reply for the n-th SMS to ``number`` (deterministic)."""
        config, person = self.config, self.person(number)
        rng = random.Random(_digest(self.seed, number, "sms", message_index))
        sent_after = _between(config.sms_sent_after_s, rng.random())
        delivered_after = _between(config.sms_delivered_after_s, rng.random())
        if person.line == "dead":
            return SmsPlan(
                False, person.dead_sms_error, sent_after, delivered_after, "", "", 0, None
            )
        kind = _pick(config.sms_reply_weights, rng.random())
        text = rng.choice(REPLY_TEXTS[kind]) if kind else ""
        median = config.sms_reply_delay_median_s
        reply_after = min(6 * 3600.0, max(20.0, math.exp(math.log(median) + 1.0 * rng.gauss())))
        start_after: float | None = None
        if kind == "stop" and rng.random() < config.sms_start_after_stop_rate:
            start_after = rng.uniform(3600.0, 3 * 86400.0)
        return SmsPlan(
            True, None, sent_after, delivered_after, kind, text, reply_after, start_after
        )
