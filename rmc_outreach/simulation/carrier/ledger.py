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
