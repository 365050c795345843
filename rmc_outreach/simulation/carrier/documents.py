"""TwiML documents and the signals a call flow raises while it plays them.

Shared by ``twiml`` (the verbs of a call) and ``bridging`` (queues and Dial).
"""

from __future__ import annotations

from dataclasses import dataclass
from urllib.parse import urljoin
from xml.etree import ElementTree
from xml.etree.ElementTree import Element


class CallEnded(Exception):
    """The call is over; ``reason`` says why (twiml_hangup, callee_hung_up, api_hang_up, ...)."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


class Replace(Exception):
    """Run this document instead of the current one (an action, a Redirect, a REST update)."""

    def __init__(self, document: Document) -> None:
        super().__init__("replace")
        self.document = document


class LeaveQueue(Exception):
    """``<Leave/>`` while waiting in a queue."""


class Interrupted(Exception):
    """Something another call did (a dequeue, the end of a bridge) stops what is playing."""


@dataclass(frozen=True)
class Document:
    """A TwiML document, where it came from, and which REST update (0 = none) it descends from."""

    root: Element
    url: str | None
    generation: int


def parse_twiml(text: str, url: str | None, generation: int) -> Document:
    """Parse a TwiML ``<Response>``; raise CallEnded('twiml_error') if it is not one."""
    try:
        root = ElementTree.fromstring(text)  # noqa: S314 (TwiML from our own app, over loopback)
    except ElementTree.ParseError as error:
        raise CallEnded("twiml_error") from error
    if root.tag != "Response":
        raise CallEnded("twiml_error")
    return Document(root, url, generation)


def resolve(document: Document, url: str | None) -> str | None:
    """An attribute URL made absolute against the document's own URL (None when empty)."""
    if not url or not url.strip():
        return None
    url = url.strip()
    return urljoin(document.url, url) if document.url else url
