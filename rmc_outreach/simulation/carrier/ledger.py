"""The simulator's ledger: every REST request it received and everything that came of it.

One JSON object per line, appended to a file (default ``var/simulator-ledger.jsonl``) and kept in
memory for ``GET /_simulator/ledger``. Benchmarks and tests check the project's behaviour against
it (duplicate calls, contacts outside hours, SMS after opt-out, voicemails after the beep), so it
holds the synthetic phone numbers (``to``, ``from``). It never holds message or voicemail text:
only its length (``*_chars``) and a SHA-256 prefix (``*_sha256``) to tell texts apart.

Entry kinds (all have ``seq``, ``kind``, ``at`` = ``clock.now()`` in ISO 8601):

- ``request``: ``operation``, ``method``, ``path``, ``status`` (HTTP), ``to``, ``from``,
  ``attempt_id`` (from the callback URLs), ``sid``, ``error_code``, ``validation_failed`` and
  ``problems`` (field and check, never values).
- ``call``: a call ended: ``sid``, ``attempt_id``, ``to``, ``status``, ``duration_s``,
  ``ring_s``, ``answered_by``, ``plan`` (what the population decided), ``digits`` pressed,
  ``ended_by``.
- ``voicemail``: speech recorded by an answering machine, see ``VoicemailRecorder``.
- ``message``: an SMS reached its final status: ``sid``, ``attempt_id``, ``to``, ``from``,
  ``status``, ``error_code``, ``segments``, ``body_chars``.
- ``sms_reply``: a simulated person texted back: ``from`` (the person), ``to``, ``reply``
  (call, free_text, stop, help, start), ``body_chars``, ``message_sid``, ``webhook_status``.
- ``webhook``: a webhook the simulator could not deliver or that answered an error:
  ``purpose``, ``path``, ``status`` or ``error``.

The handler side (issue 4). Times in ``at``/``*_at`` are ``clock.now()``; ``*_s`` are simulated
seconds. Handler legs also get a ``call`` entry (``to`` = ``client:...``, no ``attempt_id``).

- ``queue_join``: a call entered a named queue: ``sid``, ``attempt_id``, ``queue``, ``queue_sid``,
  ``position``, ``size``.
- ``queue_leave``: it left: ``sid``, ``attempt_id``, ``queue``, ``result`` (bridged, leave,
  hangup, redirected, queue-full), ``wait_s`` (time in the queue until dequeued or leaving);
  bridged: ``handler_sid``, ``identity``; hangup: ``ended_by`` (callee_hung_up, twiml_hangup...).
- ``bridge``: a ``<Dial><Queue>`` took a caller: ``queue``, ``caller_sid``, ``attempt_id`` (the
  patient's), ``handler_sid``, ``identity``, ``handler_id``, ``handoff_id`` (from
  ``handoff-<id>``), ``wait_s``, ``connected``, ``started_at``, ``ended_at``, ``talk_s``,
  ``ended_by`` (handler_hung_up, caller_hung_up, dequeuer_ended).
- ``handler_leg``: a call to a handler endpoint ended: ``sid``, ``identity``, ``handler_id``,
  ``simulated``, ``status``, ``answered``, ``bridged``, ``talk_s``, ``duration_s``, ``queue``,
  ``handoff_id``, ``ended_by``.
- ``dial_leg``: a handler's ``<Dial><Number>``: ``sid`` (the dialled leg), ``parent_sid``, ``to``,
  ``status``, ``answered_by`` (the population's plan: human, machine, no-answer...), ``ring_s``,
  ``duration_s``, ``identity``, ``handler_id``.
- ``wrap_up``: a simulated handler finished wrap-up: ``identity``, ``handler_id``, ``call_sid``,
  ``handoff_id``, ``started_at``, ``ended_at``, ``seconds``.
- ``handler_post``: a console API call by a simulated handler: ``identity``, ``handler_id``,
  ``purpose`` (sign_in, outcome, back_available), ``status`` (HTTP, 0 unreachable), ``state`` or
  ``outcome`` and ``handoff_id``, ``error``. Never the booking date, clinic or note.

From these a benchmark gets patients' waits (``queue_leave.wait_s`` by result), abandoned calls
(``queue_leave`` hangup/leave), and handler occupancy (signed in from ``handler_post`` sign_in;
busy = ``handler_leg`` durations + ``wrap_up.seconds``).
"""

from __future__ import annotations

import hashlib
import json
import threading
from collections import Counter
from pathlib import Path
from typing import Any

from rmc_outreach import clock


def text_fingerprint(text: str) -> str:
    """A short SHA-256 prefix of a text: tells texts apart without keeping them."""
    return hashlib.sha256(text.encode("utf-8")).hexdigest()[:16]


class Ledger:
    """Append-only, thread-safe record of the simulator's traffic, in memory and in a file."""

    def __init__(self, path: Path | None) -> None:
        self.path = path
        self._lock = threading.Lock()
        self._entries: list[dict[str, Any]] = []
        self._counts: Counter[str] = Counter()
        self._handle = None
        if path is not None:
            path.parent.mkdir(parents=True, exist_ok=True)
            self._handle = path.open("a", encoding="utf-8")

    def record(self, kind: str, **fields: Any) -> dict[str, Any]:
        """Append one entry; ``at`` defaults to ``clock.now()``."""
        entry: dict[str, Any] = {"kind": kind, "at": clock.now().isoformat()}
        entry.update(fields)
        with self._lock:
            entry["seq"] = len(self._entries)
            self._entries.append(entry)
            self._count(entry)
            if self._handle is not None:
                self._handle.write(json.dumps(entry, separators=(",", ":")) + "\n")
                self._handle.flush()
        return entry

    def _count(self, entry: dict[str, Any]) -> None:
        kind = entry["kind"]
        self._counts[kind] += 1
        if kind == "request":
            self._counts[f"request:{entry.get('operation')}:{entry.get('status')}"] += 1
            if entry.get("validation_failed"):
                self._counts["validation_failures"] += 1
        elif kind in ("call", "message"):
            self._counts[f"{kind}:{entry.get('status')}"] += 1
        elif kind == "sms_reply":
            self._counts[f"sms_reply:{entry.get('reply')}"] += 1

    def entries(self, *, after: int = -1, kind: str | None = None) -> list[dict[str, Any]]:
        """Entries with ``seq`` greater than ``after``, optionally of one kind (copies)."""
        with self._lock:
            selected = self._entries[after + 1 :]
            return [dict(entry) for entry in selected if kind is None or entry["kind"] == kind]

    def counts(self) -> dict[str, int]:
        """Counts by kind, by request operation and status, and by final call/SMS status."""
        with self._lock:
            return dict(self._counts)

    def close(self) -> None:
        """Close the file (entries stay readable in memory)."""
        with self._lock:
            if self._handle is not None:
                self._handle.close()
                self._handle = None
