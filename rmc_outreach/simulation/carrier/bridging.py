"""``<Enqueue>`` and ``<Dial>`` as Twilio plays them: named queues, bridges, handler legs.

**Enqueue** puts the call at the back of the named queue (created on demand; full at 1,000:
``QueueResult=queue-full``). While it waits, the ``waitUrl`` is requested again and again with
``QueueSid``, ``QueuePosition``, ``CurrentQueueSize``, ``QueueTime``, ``AvgQueueTime`` and
``MaxQueueSize`` of that queue, and its TwiML plays (Say, Play, Pause, Gather, Redirect, Leave,
Hangup). A ``<Gather>`` there is answered by the person's planned ``wait_digit`` once they have
waited long enough; the Gather's action TwiML then plays in the queue. The call leaves the queue by
``<Leave/>`` (``leave``), by hanging up or running out of patience (``hangup``: the action is
requested, its TwiML ignored), by a REST update (``redirected``), or by being dequeued
(``bridged``: the action is requested when the bridge ends, as on Twilio). The action's TwiML
then runs; without an action the verbs after ``<Enqueue>`` run.

**Dial Queue** takes the first caller waiting in the named queue. An empty queue is waited on
until someone joins or the Dial ``timeout`` (default 30 s) passes (``DialCallStatus=no-answer``);
a queue no ``<Enqueue>`` ever created posts ``failed`` at once, as Twilio documents. The
``<Queue url>`` is requested (signed) on the caller's leg with ``QueueSid``, ``QueueTime`` and
``DequeingCallSid`` and its Say/Play/Pause/Redirect play to the caller; then the two are
connected. A simulated handler talks for their planned talk time and hangs up: the Dial action
is requested (``DialCallStatus=completed``, ``DialCallDuration``, ``DialCallSid`` = the caller)
with its TwiML ignored, and the handler's leg ends; the caller's Enqueue action gets
``QueueResult=bridged``. If the caller hangs up first, the bridge ends and the dequeuing call
goes on with the Dial action's TwiML.

**Dial Number** from a handler's leg rings the number through the population (it answers or not,
busy, fails; a machine takes a short message); on answer the ``<Number url>`` is requested
(signed, the dialled leg's ``CallSid`` and ``ParentCallSid``), then they talk for the handler's
talk time and the handler hangs up. From any
other call, Dial is a bridged conversation of the callee's planned length.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import TYPE_CHECKING, Any
from xml.etree.ElementTree import Element

from rmc_outreach import clock
from rmc_outreach.simulation.carrier.documents import (
    CallEnded,
    Document,
    Interrupted,
    LeaveQueue,
    Replace,
    resolve,
)
from rmc_outreach.simulation.carrier.queues import MAX_QUEUE_SIZE, Bridge, QueueMember, queue_sid
from rmc_outreach.simulation.carrier.resources import API_VERSION, new_sid
from rmc_outreach.simulation.carrier.staff import HANDOFF_QUEUE, identity_of, is_handler_endpoint

if TYPE_CHECKING:
    from rmc_outreach.simulation.carrier.population import CallPlan
    from rmc_outreach.simulation.carrier.resources import SimCall
    from rmc_outreach.simulation.carrier.staff import HandlerLeg
    from rmc_outreach.simulation.carrier.state import Carrier

DEFAULT_DIAL_TIMEOUT_S = 30.0
CONNECT_LIMIT_S = 120.0
DIALLING_S = 1.0
HOLD_MUSIC_S = 10.0
MACHINE_MESSAGE_S = 15.0
BRIDGE_FOREVER_S = 24 * 3600.0
WAIT_VERBS = ("Say", "Play", "Pause")


class BridgingVerbs:
    """Enqueue and Dial for ``twiml.CallRun`` (which provides the attributes and methods below)."""

    carrier: Carrier
    call: SimCall
    plan: CallPlan
    leg: HandlerLeg | None
    elapsed: float
    digits: list[str]
    _queue_deadline: float | None
    _in_queue: bool
    _interrupt: Callable[[], None] | None

    def advance(self, seconds: float, speech: str | None = None, generation: int = 0) -> None:
        """Let call time pass (``twiml.CallRun``)."""
        raise NotImplementedError

    def fetch(self, url: str, method: str, extra: dict[str, str], *, purpose: str) -> Document:
        """Request and parse TwiML (``twiml.CallRun``)."""
        raise NotImplementedError

    def _verb(self, document: Document, verb: Element) -> None:
        raise NotImplementedError

    # -- helpers ------------------------------------------------------------------------------

    def _notify(self, url: str, method: str, extra: dict[str, str], *, purpose: str) -> None:
        """Request a URL whose TwiML Twilio ignores (the call is over or elsewhere)."""
        params = self.carrier.call_params(self.call)
        params.update(extra)
        self.carrier.webhooks.send(url, params, purpose=purpose, method=method)

    def _wait_until(self, done: Callable[[], bool], limit_s: float) -> bool:
        """Let time pass (silence) until ``done()`` or ``limit_s``; True when ``done()``."""

        def check() -> None:
            if done():
                raise Interrupted

        previous, self._interrupt = self._interrupt, check
        try:
            self.advance(limit_s, speech="")
        except Interrupted:
            return True
        finally:
            self._interrupt = previous
        return done()

    def _record(self, kind: str, **fields: Any) -> None:
        self.carrier.ledger.record(kind, **fields)

    # -- Enqueue ------------------------------------------------------------------------------

    def _enqueue(self, document: Document, verb: Element) -> None:
        name = " ".join((verb.text or "").split())
        action, method = resolve(document, verb.get("action")), verb.get("method", "POST")
        sid, queues = queue_sid(name), self.carrier.queues
        member = queues.join(name, self.call, self.carrier.sim_time.now_s())
        base = {"sid": self.call.sid, "attempt_id": self.call.attempt_id, "queue": name}
        if member is None:
            self._record("queue_leave", **base, result="queue-full", wait_s=0)
            if action:
                extra = {"QueueResult": "queue-full", "QueueSid": sid, "QueueTime": "0"}
                raise Replace(self.fetch(action, method, extra, purpose="enqueue_action"))
            return
        position, size, _ = queues.position(member, self.carrier.sim_time.now_s())
        self._record("queue_join", **base, queue_sid=sid, position=position, size=size)
        entered = self.elapsed
        bridge = self._hold(member, document, verb, action=action, method=method, entered=entered)
        wait = self.elapsed - entered
        if bridge is None:
            self._record("queue_leave", **base, result="leave", wait_s=round(wait, 1))
            if action:
                extra = {"QueueResult": "leave", "QueueSid": sid, "QueueTime": str(int(wait))}
                raise Replace(self.fetch(action, method, extra, purpose="enqueue_action"))
            return
        self._record(
            "queue_leave", **base, result="bridged", wait_s=round(bridge.wait_s, 1),
            handler_sid=bridge.dequeuer.sid, identity=_identity(bridge.dequeuer),
        )  # fmt: skip
        self._caller_bridged(bridge, action, method)
        if action:
            extra = {
                "QueueResult": "bridged",
                "QueueSid": sid,
                "QueueTime": str(int(bridge.wait_s)),
            }
            raise Replace(self.fetch(action, method, extra, purpose="enqueue_action"))

    def _hold(
        self,
        member: QueueMember,
        document: Document,
        verb: Element,
        *,
        action: str | None,
        method: str,
        entered: float,
    ) -> Bridge | None:
        """Wait in the queue until dequeued (the bridge) or leaving by <Leave/> (None)."""
        queues = self.carrier.queues

        def dequeued() -> None:
            if member.bridge is not None:
                raise Interrupted

        self._queue_deadline = self.elapsed + self.plan.queue_patience_s
        self._in_queue, self._interrupt = True, dequeued
        wait_url = resolve(document, verb.get("waitUrl"))
        wait_method = verb.get("waitUrlMethod", "POST")
        try:
            while True:
                before = self.elapsed
                if wait_url is None:
                    self.advance(HOLD_MUSIC_S, speech="")  # Twilio's default hold music
                    continue
                position, size, average = queues.position(member, self.carrier.sim_time.now_s())
                params = {
                    "QueueSid": queue_sid(member.queue),
                    "QueuePosition": str(position),
                    "QueueTime": str(int(self.elapsed - entered)),
                    "AvgQueueTime": str(average),
                    "CurrentQueueSize": str(size),
                    "MaxQueueSize": str(MAX_QUEUE_SIZE),
                }
                wait = self.fetch(wait_url, wait_method, params, purpose="enqueue_wait")
                self._wait_document(wait, entered)
                if self.elapsed - before < 1.0:
                    self.advance(1.0)  # a wait document that takes no time must not spin
        except (LeaveQueue, Interrupted):
            return queues.leave(member)  # dequeued at the same moment: the bridge wins
        except Replace:
            self._left_early(member, action, method, entered=entered, result="redirected")
            raise
        except CallEnded as ended:
            self._left_early(
                member, action, method, entered=entered, result="hangup", reason=ended.reason
            )
            raise
        finally:
            self._queue_deadline = None
            self._in_queue, self._interrupt = False, None

    def _left_early(
        self,
        member: QueueMember,
        action: str | None,
        method: str,
        *,
        entered: float,
        result: str,
        reason: str | None = None,
    ) -> None:
        bridge = self.carrier.queues.leave(member)
        if bridge is not None:
            bridge.end("caller_hung_up")
        wait = self.elapsed - entered
        self._record(
            "queue_leave", sid=self.call.sid, attempt_id=self.call.attempt_id,
            queue=member.queue, result=result, wait_s=round(wait, 1), ended_by=reason,
        )  # fmt: skip
        if action and reason != "simulator_stopped":
            extra = {
                "QueueResult": result,
                "QueueSid": queue_sid(member.queue),
                "QueueTime": str(int(wait)),
            }
            self._notify(action, method, extra, purpose="enqueue_action")

    def _wait_document(self, document: Document, entered: float) -> None:
        """Play one wait document (verbs allowed in a queue's wait TwiML)."""
        for child in document.root:
            if child.tag in WAIT_VERBS:
                self._verb(document, child)
            elif child.tag == "Leave":
                raise LeaveQueue
            elif child.tag == "Hangup":
                raise CallEnded("twiml_hangup")
            elif child.tag == "Redirect":
                url = resolve(document, child.text)
                if url:
                    method = child.get("method", "POST")
                    self._wait_document(self.fetch(url, method, {}, purpose="twiml"), entered)
                    return
            elif child.tag == "Gather":
                reply = self._wait_gather(document, child, entered)
                if reply is not None:
                    self._wait_document(reply, entered)
                    return

    def _wait_gather(self, document: Document, verb: Element, entered: float) -> Document | None:
        action = resolve(document, verb.get("action")) or document.url
        method = verb.get("method", "POST")
        for child in verb:
            if child.tag in WAIT_VERBS:
                self._verb(document, child)
        digit = self.plan.wait_digit
        if digit and self.elapsed - entered >= self.plan.wait_digit_after_s:
            self.advance(self.plan.keypad_delay_s)
            self.digits.append(digit)
            if action:
                extra = {"Digits": digit, "FinishedOnKey": ""}
                return self.fetch(action, method, extra, purpose="wait_choice")
            return None
        self.advance(float(verb.get("timeout", "5")))
        if action and verb.get("actionOnEmptyResult", "false").lower() == "true":
            return self.fetch(action, method, {"Digits": ""}, purpose="wait_choice")
        return None

    def _caller_bridged(self, bridge: Bridge, action: str | None, method: str) -> None:
        """The caller's side of a bridge: the <Queue url> TwiML, then talk until it ends."""
        try:
            if bridge.queue_url:
                extra = {
                    "QueueSid": queue_sid(bridge.queue),
                    "QueueTime": str(int(bridge.wait_s)),
                    "DequeingCallSid": bridge.dequeuer.sid,
                }
                before = self.fetch(
                    bridge.queue_url, bridge.queue_method, extra, purpose="queue_url"
                )
                self._pre_bridge(before)
            bridge.connect()
            self._wait_until(bridge.ended.is_set, BRIDGE_FOREVER_S)
        except (CallEnded, Replace) as stopped:
            bridge.end("caller_hung_up")
            reason = stopped.reason if isinstance(stopped, CallEnded) else "redirected"
            if action and reason != "simulator_stopped":
                extra = {
                    "QueueResult": "bridged",
                    "QueueSid": queue_sid(bridge.queue),
                    "QueueTime": str(int(bridge.wait_s)),
                }
                self._notify(action, method, extra, purpose="enqueue_action")
            raise

    def _pre_bridge(self, document: Document) -> None:
        for child in document.root:
            if child.tag in WAIT_VERBS:
                self._verb(document, child)
            elif child.tag == "Redirect":
                url = resolve(document, child.text)
                if url:
                    self._pre_bridge(
                        self.fetch(url, child.get("method", "POST"), {}, purpose="twiml")
                    )
                    return

    # -- Dial ---------------------------------------------------------------------------------

    def _dial(self, document: Document, verb: Element) -> None:
        nouns = [child for child in verb if child.tag in ("Queue", "Number", "Client", "Sip")]
        queue = next((noun for noun in nouns if noun.tag == "Queue"), None)
        if queue is not None:
            self._dial_queue(document, verb, queue)
            return
        target = (nouns[0].text if nouns else verb.text) or ""
        if self.leg is not None and target.strip():
            noun = nouns[0] if nouns else None
            self._dial_out(document, verb, noun, " ".join(target.split()))
            return
        self.advance(self.plan.bridged_s, speech="")
        self._dial_ended(document, verb, "completed", self.plan.bridged_s, None, hangs_up=False)

    def _dial_ended(
        self,
        document: Document,
        verb: Element,
        status: str,
        duration_s: float,
        dialled_sid: str | None,
        *,
        hangs_up: bool,
        extra: dict[str, str] | None = None,
    ) -> None:
        """Request the Dial action; run its TwiML, or (the handler hung up) end the call."""
        action = resolve(document, verb.get("action"))
        method = verb.get("method", "POST")
        params = {
            "DialCallStatus": status,
            "DialCallDuration": str(int(duration_s)),
            "DialBridged": "true" if status == "completed" else "false",
            "ApiVersion": API_VERSION,
        }
        if dialled_sid:
            params["DialCallSid"] = dialled_sid
        params.update(extra or {})
        if hangs_up:
            if action:
                self._notify(action, method, params, purpose="dial_action")
            raise CallEnded("handler_hung_up")
        if action:
            raise Replace(self.fetch(action, method, params, purpose="dial_action"))

    def _dial_queue(self, document: Document, verb: Element, noun: Element) -> None:
        name = " ".join((noun.text or "").split())
        queues, sid = self.carrier.queues, queue_sid(name)
        extra = {"QueueSid": sid}
        if not queues.exists(name):
            self._dial_ended(document, verb, "failed", 0, None, hangs_up=False, extra=extra)
            return
        timeout = float(verb.get("timeout", DEFAULT_DIAL_TIMEOUT_S))
        started = self.elapsed
        url, method = resolve(document, noun.get("url")), noun.get("method", "POST")
        while True:
            now_s = self.carrier.sim_time.now_s()
            bridge = queues.dequeue(name, self.call, now_s, queue_url=url, queue_method=method)
            waited = self.elapsed - started
            if bridge is not None or waited >= timeout:
                break
            self.advance(min(1.0, timeout - waited), speech="")
        if bridge is None:
            self._dial_ended(document, verb, "no-answer", 0, None, hangs_up=False, extra=extra)
            return
        handoff = HANDOFF_QUEUE.match(name)
        if self.leg is not None:
            self.leg.queue = name
            self.leg.handoff_id = int(handoff.group(1)) if handoff else None
        talked, connected, started_at = 0.0, False, clock.now()
        try:
            connected = (
                self._wait_until(
                    lambda: bridge.connected.is_set() or bridge.ended.is_set(), CONNECT_LIMIT_S
                )
                and not bridge.ended.is_set()
            )
            if connected:
                started_at, talk_start = clock.now(), self.elapsed
                self._wait_until(bridge.ended.is_set, self.plan.bridged_s)
                talked = self.elapsed - talk_start
            if self.leg is not None:
                self.leg.bridged, self.leg.talked_s = connected, talked
        except (CallEnded, Replace):
            bridge.end("dequeuer_ended")
            self._record_bridge(bridge, connected, started_at, talked)
            raise
        hangs_up = not bridge.ended.is_set() and self.leg is not None
        bridge.end("handler_hung_up" if self.leg is not None else "dequeuer_hung_up")
        self._record_bridge(bridge, connected, started_at, talked)
        status = "completed" if connected else "canceled"
        self._dial_ended(
            document, verb, status, talked, bridge.caller.sid, hangs_up=hangs_up, extra=extra
        )

    def _record_bridge(
        self, bridge: Bridge, connected: bool, started_at: Any, talked: float
    ) -> None:
        self._record(
            "bridge",
            queue=bridge.queue,
            caller_sid=bridge.caller.sid,
            attempt_id=bridge.caller.attempt_id,
            handler_sid=self.call.sid,
            identity=_identity(self.call),
            handler_id=self._handler_id(),
            handoff_id=self.leg.handoff_id if self.leg is not None else None,
            wait_s=round(bridge.wait_s, 1),
            connected=connected,
            started_at=started_at.isoformat(),
            ended_at=clock.now().isoformat(),
            talk_s=round(talked, 1),
            ended_by=bridge.ended_by,
        )

    def _handler_id(self) -> int | None:
        handler = self.leg.handler if self.leg is not None else None
        return handler.handler_id if handler is not None else None

    def _dial_out(self, document: Document, verb: Element, noun: Element | None, to: str) -> None:
        """A handler's leg dials a number: the population answers (or not), then they talk."""
        carrier = self.carrier
        timeout = float(verb.get("timeout", DEFAULT_DIAL_TIMEOUT_S))
        with carrier.lock:
            index = carrier.calls_per_number[to]
            carrier.calls_per_number[to] += 1
        if is_handler_endpoint(to):
            plan, _ = carrier.staff.plan_leg(to, timeout)
        else:
            plan = carrier.population.plan_call(
                to, index, carrier.local_now(), ring_timeout_s=timeout
            )
        child_sid = new_sid("CA")
        self.advance(DIALLING_S + min(plan.ring_s, timeout), speech="")
        talked, status = 0.0, plan.outcome
        if plan.outcome not in ("busy", "no-answer", "failed"):
            status = "completed"
            talk = self.plan.bridged_s
            if plan.outcome != "human":  # a machine or fax: a short message, or nothing
                talk = min(talk, (plan.beep_at_s or 0.0) + MACHINE_MESSAGE_S)
            callee_hangs_up = plan.hang_up_after_s is not None and plan.hang_up_after_s < talk
            if callee_hangs_up and plan.hang_up_after_s is not None:
                talk = plan.hang_up_after_s
            url = resolve(document, noun.get("url")) if noun is not None else None
            if url and noun is not None:  # requested on the answered leg before connecting
                self._notify_dialled(url, noun.get("method", "POST"), child_sid, to, verb)
            started = self.elapsed
            try:
                self.advance(talk, speech="")
            finally:
                talked = self.elapsed - started
                self._record_dial_leg(child_sid, to, status, plan, talked)
            if self.leg is not None:
                self.leg.bridged, self.leg.talked_s = True, talked
            self._dial_ended(
                document, verb, status, talked, child_sid, hangs_up=not callee_hangs_up
            )
            return
        self._record_dial_leg(child_sid, to, status, plan, 0.0)
        self._dial_ended(document, verb, status, 0, child_sid, hangs_up=False)

    def _notify_dialled(self, url: str, method: str, sid: str, to: str, verb: Element) -> None:
        params = {
            "AccountSid": self.call.account_sid,
            "ApiVersion": API_VERSION,
            "CallSid": sid,
            "ParentCallSid": self.call.sid,
            "CallStatus": "in-progress",
            "Direction": "outbound-dial",
            "From": verb.get("callerId") or self.call.sender,
            "To": to,
        }
        self.carrier.webhooks.send(url, params, purpose="dial_url", method=method)

    def _record_dial_leg(
        self, sid: str, to: str, status: str, plan: CallPlan, talked: float
    ) -> None:
        self._record(
            "dial_leg",
            sid=sid,
            parent_sid=self.call.sid,
            to=to,
            status=status,
            answered_by=plan.outcome,
            ring_s=round(plan.ring_s, 1),
            duration_s=math.ceil(talked),
            identity=_identity(self.call),
            handler_id=self._handler_id(),
        )


def _identity(call: SimCall) -> str | None:
    return identity_of(call.to) if is_handler_endpoint(call.to) else None
