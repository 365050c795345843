"""Plays TwiML to a simulated callee: Say, Play, Pause, Gather, Enqueue, Dial, Redirect, Hangup.

``CallRun`` executes documents verb by verb in simulated time. Speech takes 2.5 words a second.
The person answers a Gather with the keypad choice the population planned (after the prompt and a
reaction delay); a machine never presses. Enqueue and Dial (named queues, bridges, handler legs
dialling out) are in ``bridging``. Asynchronous AMD is posted at the planned moment while TwiML
plays. A REST update of the call (new ``Twiml``/``Url``, or ``Status=completed``) interrupts
whatever is playing; so does another call dequeuing this one or ending its bridge.

An answering machine records everything said after its beep; ``VoicemailRecorder`` summarises it
for the ledger by length and fingerprint, never the words.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any
from xml.etree.ElementTree import Element

from rmc_outreach.simulation.carrier.bridging import BridgingVerbs
from rmc_outreach.simulation.carrier.documents import (
    CallEnded,
    Document,
    LeaveQueue,
    Replace,
    parse_twiml,
    resolve,
)
from rmc_outreach.simulation.carrier.ledger import text_fingerprint

if TYPE_CHECKING:
    from rmc_outreach.simulation.carrier.population import CallPlan
    from rmc_outreach.simulation.carrier.resources import SimCall
    from rmc_outreach.simulation.carrier.staff import HandlerLeg
    from rmc_outreach.simulation.carrier.state import Carrier

__all__ = ["CallEnded", "CallRun", "Document", "VoicemailRecorder", "parse_twiml", "say_seconds"]

log = logging.getLogger(__name__)

WORDS_PER_SECOND = 2.5
PLAY_SECONDS = 5.0
MAX_LOOPS = 20


def say_seconds(text: str) -> float:
    """How long a Say takes: 2.5 words a second, at least one second."""
    return max(1.0, len(text.split()) / WORDS_PER_SECOND)


def _loops(verb: Element) -> int:
    raw = verb.get("loop", "1")
    count = int(raw) if raw.isdigit() else 1
    return MAX_LOOPS if count == 0 else min(count, MAX_LOOPS)


@dataclass
class _Segment:
    start: float
    end: float
    text: str
    generation: int


@dataclass
class VoicemailRecorder:
    """What an answering machine recorded after its beep."""

    beep_at: float
    segments: list[_Segment] = field(default_factory=list)

    def add(self, start: float, end: float, text: str, generation: int) -> None:
        """Something was said from ``start`` to ``end`` (call seconds)."""
        if text and end > self.beep_at:
            self.segments.append(_Segment(start, end, text, generation))

    @staticmethod
    def _recorded_chars(segment: _Segment, beep_at: float) -> int:
        if segment.start >= beep_at or segment.end <= segment.start:
            return len(segment.text)
        share = (segment.end - beep_at) / (segment.end - segment.start)
        return round(len(segment.text) * share)

    def summary(self) -> dict[str, Any] | None:
        """Ledger fields for the recording, or None when nothing was recorded.

        ``message_*`` describe what TwiML set through the REST API said (our voicemail);
        ``after_beep`` is True when all of it started at or after the beep (not clipped).
        """
        if not self.segments:
            return None
        message = [s for s in self.segments if s.generation > 0]
        return {
            "beep_at_s": round(self.beep_at, 1),
            "recorded_chars": sum(self._recorded_chars(s, self.beep_at) for s in self.segments),
            "message_chars": sum(self._recorded_chars(s, self.beep_at) for s in message),
            "message_sha256": text_fingerprint("\n".join(s.text for s in message))
            if message
            else None,
            "after_beep": all(s.start >= self.beep_at for s in message) if message else None,
            "other_chars": sum(
                self._recorded_chars(s, self.beep_at) for s in self.segments if s.generation == 0
            ),
        }


class CallRun(BridgingVerbs):
    """An answered call playing TwiML in simulated time."""

    def __init__(
        self,
        carrier: Carrier,
        call: SimCall,
        plan: CallPlan,
        time_limit_s: float,
        *,
        leg: HandlerLeg | None = None,
    ) -> None:
        self.carrier = carrier
        self.call = call
        self.plan = plan
        self.leg = leg
        self.time_limit_s = time_limit_s
        self.elapsed = 0.0
        self.generation = 0
        self.digits: list[str] = []
        self._gather_round = 0
        self._amd_at: float | None = None
        self._queue_deadline: float | None = None
        self._in_queue = False
        self._interrupt: Callable[[], None] | None = None
        self._last_sound_end = 0.0
        machine = plan.outcome == "machine" and plan.beep_at_s is not None
        self.recorder = VoicemailRecorder(plan.beep_at_s or 0.0) if machine else None

    # -- time ---------------------------------------------------------------------------------

    def schedule_amd(self, at_s: float) -> None:
        """Post the asynchronous AMD result when the call reaches ``at_s``."""
        self._amd_at = at_s

    def _deadlines(self, sound: bool) -> list[tuple[float, str]]:
        deadlines = [(self.time_limit_s, "time_limit")]
        if self.plan.hang_up_after_s is not None:
            deadlines.append((self.plan.hang_up_after_s, "callee_hung_up"))
        if self._queue_deadline is not None:
            deadlines.append((self._queue_deadline, "callee_hung_up"))
        if self.recorder is not None:
            config = self.carrier.population.config
            beep = self.recorder.beep_at
            deadlines.append((beep + config.machine_max_message_s, "machine_hung_up"))
            if not sound:
                quiet_since = max(beep, self._last_sound_end)
                deadlines.append(
                    (quiet_since + config.machine_silence_hang_up_s, "machine_hung_up")
                )
        return deadlines

    def advance(self, seconds: float, speech: str | None = None, generation: int = 0) -> None:
        """Let ``seconds`` of call time pass (saying ``speech``, if given; "" is a sound).

        Posts AMD when due; raises CallEnded or Replace when the call ends or is redirected.
        """
        start, target = self.elapsed, self.elapsed + max(0.0, seconds)
        sound = speech is not None
        try:
            while True:
                self.check_control()
                if self._interrupt is not None:
                    self._interrupt()  # another call dequeued us or ended our bridge
                deadlines = self._deadlines(sound)
                stops = [target, *(at for at, _ in deadlines)]
                if self._amd_at is not None:
                    stops.append(self._amd_at)
                next_stop = max(self.elapsed, min(stops))
                if next_stop > self.elapsed:
                    wanted = next_stop - self.elapsed
                    passed = self.carrier.sim_time.wait(wanted, self.call.control.changed)
                    self.elapsed += passed
                    if passed < wanted:
                        continue  # woken by the REST API (or the simulator stopping)
                if self._amd_at is not None and self.elapsed >= self._amd_at:
                    self._amd_at = None
                    self.carrier.post_amd(self.call, self.plan)
                    continue
                for at, reason in deadlines:
                    if self.elapsed >= at:
                        raise CallEnded(reason)
                if self.elapsed >= target:
                    return
        finally:
            if sound:
                self._last_sound_end = self.elapsed
                if self.recorder is not None and speech:
                    self.recorder.add(start, self.elapsed, speech, generation)

    def check_control(self) -> None:
        """Act on what the REST API asked: hang up, or run new TwiML."""
        if self.carrier.stopping.is_set():
            raise CallEnded("simulator_stopped")
        hang_up, twiml, redirect = self.call.control.take()
        if hang_up:
            raise CallEnded("api_hang_up")
        if twiml is not None:
            self.generation += 1
            raise Replace(parse_twiml(twiml, None, self.generation))
        if redirect is not None:
            self.generation += 1
            url, method = redirect
            raise Replace(self.fetch(url, method, {}, purpose="update_url"))

    # -- fetching -----------------------------------------------------------------------------

    def fetch(self, url: str, method: str, extra: dict[str, str], *, purpose: str) -> Document:
        """Request TwiML from our app (signed) and parse it.

        Documents inherit the current generation: after a REST update, everything that runs
        descends from the TwiML it set.
        """
        params = self.carrier.call_params(self.call)
        params.update(extra)
        reply = self.carrier.webhooks.send(url, params, purpose=purpose, method=method)
        if not reply.ok:
            raise CallEnded("webhook_error")
        return parse_twiml(reply.text, url, self.generation)

    # -- running ------------------------------------------------------------------------------

    def run(self, document: Document) -> None:
        """Play ``document`` and whatever it leads to, until the call ends (raises CallEnded)."""
        while True:
            try:
                self._verbs(document, list(document.root))
                raise CallEnded("twiml_end")
            except Replace as replace:
                document = replace.document

    def _verbs(self, document: Document, verbs: list[Element]) -> None:
        for verb in verbs:
            self._verb(document, verb)

    def _verb(self, document: Document, verb: Element) -> None:
        handler = {
            "Say": self._say,
            "Play": self._play,
            "Pause": self._pause,
            "Gather": self._gather,
            "Enqueue": self._enqueue,
            "Dial": self._dial,
            "Redirect": self._redirect,
            "Hangup": self._hangup,
            "Reject": self._hangup,
            "Leave": self._leave,
        }.get(verb.tag)
        if handler is None:
            log.debug("TwiML verb %s is not simulated; skipped", verb.tag)
            return
        handler(document, verb)

    def _say(self, document: Document, verb: Element) -> None:
        text = " ".join((verb.text or "").split())
        for _ in range(_loops(verb)):
            self.advance(say_seconds(text), speech=text, generation=document.generation)

    def _play(self, document: Document, verb: Element) -> None:
        self.advance(PLAY_SECONDS * _loops(verb), speech="")

    def _pause(self, document: Document, verb: Element) -> None:
        self.advance(float(verb.get("length", "1")))

    def _redirect(self, document: Document, verb: Element) -> None:
        url = resolve(document, verb.text)
        if url:
            raise Replace(self._fetch_from(url, verb.get("method", "POST")))

    def _hangup(self, document: Document, verb: Element) -> None:
        raise CallEnded("twiml_hangup")

    def _leave(self, document: Document, verb: Element) -> None:
        if self._in_queue:
            raise LeaveQueue

    def _fetch_from(self, url: str, method: str, extra: dict[str, str] | None = None) -> Document:
        return self.fetch(url, method, extra or {}, purpose="twiml")

    def _gather(self, document: Document, verb: Element) -> None:
        self._gather_round += 1
        keypad = self.plan.keypad
        choice = keypad[self._gather_round - 1] if self._gather_round <= len(keypad) else ""
        action = resolve(document, verb.get("action")) or document.url
        method = verb.get("method", "POST")
        for child in verb:
            if child.tag in ("Say", "Play", "Pause"):
                self._verb(document, child)
        if choice:
            self.advance(self.plan.keypad_delay_s)
            self.digits.append(choice)
            if action:
                extra = {"Digits": choice, "FinishedOnKey": ""}
                raise Replace(self._fetch_from(action, method, extra))
            return
        self.advance(float(verb.get("timeout", "5")))
        if action and verb.get("actionOnEmptyResult", "false").lower() == "true":
            raise Replace(self._fetch_from(action, method, {"Digits": ""}))
