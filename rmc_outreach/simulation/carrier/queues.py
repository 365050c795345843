"""Named call queues, as Twilio keeps them for ``<Enqueue>`` and ``<Dial><Queue>``.

A queue is created on demand by the first ``<Enqueue>`` naming it and then exists for the rest
of the run (empty or not), as on Twilio. Members wait in arrival order; ``<Dial><Queue>`` takes
the first one still waiting and builds a ``Bridge`` between the two calls. The caller's flow
notices it was dequeued, plays the ``<Queue url>`` TwiML on its own leg, then marks the bridge
connected; the dequeuing call talks and ends it. Either side ending the bridge wakes the other.
Times are simulated seconds (``SimTime.now_s``).
"""

from __future__ import annotations

import hashlib
import threading
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from rmc_outreach.simulation.carrier.resources import SimCall

MAX_QUEUE_SIZE = 1000  # Twilio's default for a queue created by <Enqueue>
MAX_QUEUE_NAME = 64


def queue_sid(name: str) -> str:
    """A stable Twilio-style Queue SID for a queue name."""
    return "QU" + hashlib.sha256(name.encode("utf-8")).hexdigest()[:32]


@dataclass
class Bridge:
    """Two calls joined by ``<Dial><Queue>``: the queued caller and the dequeuing call."""

    queue: str
    caller: SimCall
    dequeuer: SimCall
    queue_url: str | None
    queue_method: str
    wait_s: float
    connected: threading.Event = field(default_factory=threading.Event)
    ended: threading.Event = field(default_factory=threading.Event)
    ended_by: str | None = None
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def connect(self) -> None:
        """The caller's pre-bridge TwiML is done: the two parties hear each other."""
        self.connected.set()
        self.dequeuer.control.changed.set()

    def end(self, reason: str) -> None:
        """End the bridge (first reason wins) and wake both calls."""
        with self._lock:
            if self.ended_by is None:
                self.ended_by = reason
        self.ended.set()
        self.caller.control.changed.set()
        self.dequeuer.control.changed.set()


@dataclass
class QueueMember:
    """A call waiting in a queue."""

    queue: str
    call: SimCall
    joined_s: float
    bridge: Bridge | None = None


class QueueBook:
    """All named queues of the simulator; thread-safe."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._queues: dict[str, list[QueueMember]] = {}

    def exists(self, name: str) -> bool:
        """True once an ``<Enqueue>`` has created the queue."""
        with self._lock:
            return name in self._queues

    def join(self, name: str, call: SimCall, now_s: float) -> QueueMember | None:
        """Put ``call`` at the back of queue ``name`` (created on demand); None when full."""
        with self._lock:
            members = self._queues.setdefault(name, [])
            if len(members) >= MAX_QUEUE_SIZE:
                return None
            member = QueueMember(name, call, now_s)
            members.append(member)
            return member

    def leave(self, member: QueueMember) -> Bridge | None:
        """Take ``member`` out of its queue; the bridge if it was dequeued first."""
        with self._lock:
            members = self._queues.get(member.queue, [])
            if member in members:
                members.remove(member)
            return member.bridge

    def position(self, member: QueueMember, now_s: float) -> tuple[int, int, int]:
        """(position from 1, current size, average time in queue of its members in seconds)."""
        with self._lock:
            members = self._queues.get(member.queue, [])
            waiting = [m for m in members if m.bridge is None]
            position = waiting.index(member) + 1 if member in waiting else 0
            size = len(waiting)
            average = sum(now_s - m.joined_s for m in waiting) / size if size else 0.0
            return position, size, int(average)

    def dequeue(
        self,
        name: str,
        dequeuer: SimCall,
        now_s: float,
        *,
        queue_url: str | None,
        queue_method: str = "POST",
    ) -> Bridge | None:
        """Take the first caller still waiting in ``name`` and bridge it to ``dequeuer``."""
        with self._lock:
            members = self._queues.get(name, [])
            for member in members:
                if member.bridge is None and member.call is not dequeuer:
                    bridge = Bridge(
                        name,
                        member.call,
                        dequeuer,
                        queue_url,
                        queue_method,
                        wait_s=max(0.0, now_s - member.joined_s),
                    )
                    member.bridge = bridge
                    members.remove(member)
                    break
            else:
                return None
        member.call.control.changed.set()  # wake the caller's flow: it has been dequeued
        return bridge

    def snapshot(self, now_s: float) -> dict[str, Any]:
        """Queues with callers waiting: size and longest wait (for ``/_simulator/stats``)."""
        with self._lock:
            waiting = {
                name: [m for m in members if m.bridge is None]
                for name, members in self._queues.items()
            }
        return {
            "queues_known": len(waiting),
            "callers_waiting": sum(len(members) for members in waiting.values()),
            "longest_wait_s": int(
                max(
                    (now_s - m.joined_s for members in waiting.values() for m in members),
                    default=0.0,
                )
            ),
        }
