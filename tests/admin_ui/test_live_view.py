"""The supervisors' live view: every figure of a known floor, on SQLite and PostgreSQL.

One floor is built at a frozen moment (handlers in each state; calls ringing, in the IVR, at an
answering machine, being checked, waiting for a handler and on one; today's finished calls,
texts and letters; abandoned and lost handoffs; callbacks; yesterday's calls) and every figure
of /api/live and of the /live page is checked against it by hand.
"""

from __future__ import annotations

import dataclasses
import json
import uuid
from collections.abc import Iterator
from datetime import datetime, timedelta
from html.parser import HTMLParser
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from flask.testing import FlaskClient
from sqlalchemy import Engine, update
from sqlalchemy.orm import Session

from admin_ui.live import format_figure
from rmc_outreach import pacing
from rmc_outreach.clock import frozen_at
from rmc_outreach.db import session_scope
from rmc_outreach.events import EventKind
from rmc_outreach.models import (
    AttemptOutcome,
    AttemptState,
    CallbackRequest,
    Channel,
    ContactAttempt,
    Handler,
    HandlerState,
    Handoff,
    ProviderEvent,
    Referral,
    ReferralStatus,
)
from tests.factories import create_attempt, create_patient, create_referral

LONDON = ZoneInfo("Europe/London")
# Tuesday 16 June 2026, 16:30 in London (BST): inside the calling window.
NOW = datetime(2026, 6, 16, 16, 30, tzinfo=LONDON)
TODAY = NOW - timedelta(hours=2)
YESTERDAY = NOW - timedelta(days=1)
S, Out = AttemptState, AttemptOutcome


def ago(seconds: int) -> datetime:
    """A moment ``seconds`` before NOW."""
    return NOW - timedelta(seconds=seconds)


@dataclasses.dataclass
class Floor:
    """What was made, and every personal detail used (none may reach the live view)."""

    personal: list[str] = dataclasses.field(default_factory=list)
    referrals: dict[str, Referral] = dataclasses.field(default_factory=dict)

    def referral(
        self, session: Session, name: str, *, reached_at: datetime | None = None
    ) -> Referral:
        """A referral of a new patient; reached by call at ``reached_at`` when given."""
        patient = create_patient(session)
        referral = create_referral(
            session,
            patient=patient,
            status=ReferralStatus.REACHED if reached_at else ReferralStatus.IN_OUTREACH,
            reached_at=reached_at,
            reached_by=Channel.CALL if reached_at else None,
        )
        mobile = patient.mobile_phone or ""
        self.personal += [
            patient.given_name,
            patient.family_name,
            patient.nhs_number,
            mobile,
            "0" + mobile.removeprefix("+44"),
            referral.ubrn,
        ]
        self.referrals[name] = referral
        return referral

    def call(
        self,
        session: Session,
        name: str,
        state: AttemptState,
        outcome: AttemptOutcome | None = None,
        *,
        created_at: datetime = TODAY,
        reached_at: datetime | None = None,
        **facts: Any,
    ) -> ContactAttempt:
        """A call attempt on a new referral (or on ``name``'s, when it exists)."""
        referral = self.referrals.get(name) or self.referral(session, name, reached_at=reached_at)
        facts.setdefault("claimed_at", None if state is S.PENDING else created_at)
        return create_attempt(
            session,
            referral,
            state=state,
            outcome=outcome,
            created_at=created_at,
            provider_sid=None if state is S.PENDING else "CA" + uuid.uuid4().hex,
            **facts,
        )


def handoff(session: Session, attempt: ContactAttempt, **values: Any) -> None:
    """A handoff of the attempt's patient."""
    session.add(Handoff(attempt_id=attempt.id, referral_id=attempt.referral_id, **values))


def make_handlers(session: Session) -> dict[str, Handler]:
    """One handler in each state but ringing, each changed state a known time ago."""
    handlers = {
        name: Handler(
            display_name=name,
            endpoint=f"client:{name.lower()}",
            state=state,
            state_changed_at=ago(seconds),
        )
        for name, state, seconds in (
            ("Asha", HandlerState.AVAILABLE, 120),
            ("Ben", HandlerState.ON_CALL, 300),
            ("Cara", HandlerState.WRAP_UP, 45),
            ("Dev", HandlerState.AWAY, 3700),
            ("Eve", HandlerState.OFFLINE, 90000),
        )
    }
    session.add_all(handlers.values())
    session.flush()
    return handlers


def make_floor() -> Floor:
    """The floor described in the module docstring, committed (see the expected figures)."""
    floor = Floor()
    with frozen_at(NOW), session_scope() as session:
        handlers = make_handlers(session)
        # Under way now.
        floor.call(session, "r1", S.CLAIMED)  # ringing (being dialled)
        floor.call(session, "r2", S.SENT)  # ringing
        floor.call(session, "r3", S.SENT, answered_at=ago(20))  # in the IVR
        answered = floor.call(session, "r4", S.SENT)  # in the IVR: answer stored, not applied
        session.add(
            ProviderEvent(
                event_key="call-answer:r4",
                kind=EventKind.CALL_ANSWER,
                attempt_id=answered.id,
                payload={},
                received_at=ago(5),
            )
        )
        floor.call(session, "r5", S.SENT, answered_at=ago(30), answered_by="machine_start")
        floor.call(session, "r6", S.UNCERTAIN)  # being checked
        for name, queued in (("r7", 40), ("r8", 10)):  # waiting for a handler
            attempt = floor.call(
                session,
                name,
                S.SENT,
                reached_at=ago(queued),
                answered_at=ago(queued + 15),
                answered_by="human",
                keypad_choice="1",
            )
            handoff(session, attempt, queued_at=ago(queued))
        attempt = floor.call(
            session, "r9", S.SENT, reached_at=ago(200), answered_by="human", keypad_choice="1"
        )
        handoff(
            session,
            attempt,
            queued_at=ago(200),
            connected_at=ago(180),
            handler_id=handlers["Ben"].id,
        )  # on a handler
        floor.call(session, "r10", S.PENDING)  # queued by dispatch: holds a slot
        # Finished today.
        abandoned = floor.call(
            session,
            "r11",
            S.FINAL,
            Out.HUMAN_HANDOFF,
            reached_at=TODAY,
            answered_by="human",
            keypad_choice="1",
        )
        handoff(
            session,
            abandoned,
            queued_at=TODAY,
            ended_at=TODAY + timedelta(seconds=60),
            abandoned=True,
        )
        lost = floor.call(
            session,
            "r12",
            S.FINAL,
            Out.HUMAN_HANDOFF,
            reached_at=ago(600),
            answered_by="human",
            keypad_choice="1",
        )
        handoff(session, lost, queued_at=ago(600))  # never closed: a lost event, not waiting
        floor.call(
            session,
            "r13",
            S.FINAL,
            Out.IVR_CHOICE,
            reached_at=TODAY,
            answered_by="human",
            keypad_choice="2",
        )
        floor.call(session, "r14", S.FINAL, Out.NO_ANSWER, answered_by="human")
        floor.call(session, "r15", S.FINAL, Out.VOICEMAIL_LEFT, answered_by="machine_end_beep")
        floor.call(session, "r16", S.FINAL, Out.NO_ANSWER)
        floor.call(
            session,
            "r17",
            S.FINAL,
            Out.FAILED,
            claimed_at=ago(300),
            ended_at=ago(300),
            error_reason="provider_error_21211",
        )
        floor.call(session, "r18", S.FINAL, Out.FAILED, claimed_at=ago(1200), ended_at=ago(1200))
        # Called yesterday first, reached today: not one of today's first calls.
        floor.call(session, "r19", S.FINAL, Out.NO_ANSWER, created_at=YESTERDAY, reached_at=TODAY)
        floor.call(
            session, "r19", S.FINAL, Out.IVR_CHOICE, step=2, answered_by="human", keypad_choice="2"
        )
        # A text the carrier refused a minute ago; a letter cancelled (not a provider error).
        texted = floor.referral(session, "r20")
        create_attempt(
            session,
            texted,
            channel=Channel.SMS,
            state=S.FINAL,
            outcome=Out.FAILED,
            created_at=ago(120),
            claimed_at=ago(120),
            ended_at=ago(60),
            provider_sid="SM" + "0" * 32,
        )
        lettered = floor.referral(session, "r21")
        create_attempt(
            session,
            lettered,
            channel=Channel.LETTER,
            state=S.FINAL,
            outcome=Out.LETTER_CANCELLED,
            created_at=ago(90),
            claimed_at=ago(90),
            ended_at=ago(60),
            error_reason="patient reached",
        )
        for referral, created, completed in (
            ("r11", TODAY, None),
            ("r14", ago(300), None),
            ("r20", ago(1800), ago(1700)),
        ):
            session.add(
                CallbackRequest(
                    referral_id=floor.referrals[referral].id,
                    reason="no_handler" if referral == "r11" else "sms_reply",
                    phone=floor.referrals[referral].patient.mobile_phone,
                    created_at=created,
                    completed_at=completed,
                )
            )
    return floor


EXPECTED_CALLS = {
    "ringing": 2,
    "in_ivr": 2,
    "at_answering_machine": 1,
    "checking": 1,
    "waiting_for_handler": 2,
    "longest_wait_seconds": 40,
    "on_handler": 1,
    "in_flight": 10,  # r1-r9 under way, r10 queued
}
EXPECTED_TODAY_CALLS = {
    "placed": 18,
    "answered_by_person": 5,
    "handed_to_booking_team": 2,
    "asked_for_text": 2,
    "no_longer_needed": 0,
    "person_no_choice": 1,
    "voicemail_left": 1,
    "machine_no_message": 0,
    "no_answer": 1,
    "busy": 0,
    "failed": 2,
    "in_progress": 9,
    "queued": 1,
    "not_placed": 0,
}
EXPECTED_HANDLERS = [
    {
        "display_name": "Asha",
        "state": "available",
        "state_label": "Available",
        "seconds_in_state": 120,
    },
    {
        "display_name": "Ben",
        "state": "on_call",
        "state_label": "On a call",
        "seconds_in_state": 300,
    },
    {
        "display_name": "Cara",
        "state": "wrap_up",
        "state_label": "Wrapping up",
        "seconds_in_state": 45,
    },
    {"display_name": "Dev", "state": "away", "state_label": "Away", "seconds_in_state": 3700},
]


@pytest.fixture
def floor(database: Engine) -> Iterator[Floor]:
    """The known floor, on the test database."""
    yield make_floor()


def live_json(client: FlaskClient) -> dict[str, Any]:
    """/api/live at NOW."""
    with frozen_at(NOW):
        response = client.get("/api/live")
    assert response.status_code == 200
    assert response.headers["Cache-Control"] == "no-store"
    body: dict[str, Any] = response.get_json()
    return body


def test_every_figure_of_the_live_json_matches_the_floor(floor: Floor, client: FlaskClient) -> None:
    body = live_json(client)

    assert body["generated_at"] == "2026-06-16T16:30:00+01:00"
    assert body["day"] == "2026-06-16"
    assert body["calls"] == EXPECTED_CALLS
    assert body["handlers"] == {
        "by_state": {
            "available": 1,
            "ringing": 0,
            "on_call": 1,
            "wrap_up": 1,
            "away": 1,
            "offline": 1,
        },
        "signed_in": EXPECTED_HANDLERS,
        "available": 1,
    }
    assert body["today"]["calls"] == EXPECTED_TODAY_CALLS
    assert body["today"]["sms"] == {
        "sent": 1,
        "delivered": 0,
        "undelivered": 1,
        "awaiting_report": 0,
        "queued": 0,
        "not_sent": 0,
    }
    assert body["today"]["letters"]["prepared"] == 1
    assert body["today"]["letters"]["cancelled"] == 1
    # r1-r18 were first called today; of them r7, r8, r9, r11, r12 and r13 were reached.
    assert body["reach"] == {"first_called": 18, "reached": 6, "rate": 0.3333}
    # Live-answered: r7, r8, r9, r11, r12, r13, r14 and r19's second call; r11 abandoned.
    assert body["abandoned"] == {
        "abandoned": 1,
        "live_answered": 8,
        "rate": 0.125,
        "cap": 0.03,
        "near_cap": 0.024,
        "over_cap": True,
        "close_to_cap": False,
    }
    # Pacing's own decision: 1 abandoned of 8 live-answered puts the day at its limit (one call
    # per available handler), and the one available handler has two patients waiting for it.
    # The day's allowance: 3% of the 8 calls (the few calls still due, counted cautiously, are
    # expected to bring none by 18:00), less the one abandoned and pacing's margin of two.
    assert body["pacing"] == {
        "calls_in_flight": 10,
        "available_handlers": 1,
        "ratio": 10.0,
        "calls_per_free_handler": 1.0,
        "calls_allowed": 0,
        "holding": "no_handler",
        "one_to_one": True,
        "day_allowance": round(0.03 * 8 - 1 - 2, 1),
        "status": "One call per available handler (the day is near its abandoned-call limit): "
        "holding, no handler is free for another patient.",
    }
    assert body["callbacks"] == {
        "waiting": 2,
        "oldest_requested_at": TODAY.astimezone(ZoneInfo("UTC")).isoformat(),
        "oldest_wait_seconds": 7200,
        "by_reason": {"no_handler": 1, "sms_reply": 1},
    }
    assert body["provider_errors"] == {"count": 2, "window_minutes": 15}
    assert [(alert["level"], alert["code"]) for alert in body["alerts"]] == [
        ("critical", "abandoned_rate_at_cap"),
        ("warning", "provider_errors"),
    ]
    assert body["alerts"][0]["text"] == (
        "Abandoned calls today are at 12.5% (1 of 8 live-answered calls): at or over the 3% "
        "limit. Slow outbound calling or bring more handlers online."
    )
    assert body["alerts"][1]["text"] == (
        "2 calls or texts failed at the telephony provider in the last 15 minutes."
    )
    assert body["referrals"] == {
        "by_status": {
            "waiting": 0,
            "in_outreach": 14,
            "reached": 7,
            "booked": 0,
            "declined": 0,
            "exhausted": 0,
            "cancelled": 0,
        },
        "total": 21,
    }


def test_no_patient_detail_reaches_the_live_json_or_page(floor: Floor, client: FlaskClient) -> None:
    text = json.dumps(live_json(client))
    with frozen_at(NOW):
        page = client.get("/live").get_data(as_text=True)

    assert floor.personal
    for detail in floor.personal:
        assert detail not in text
        assert detail not in page


class LivePageReader(HTMLParser):
    """The page's figures (by data-figure, with their format), handler rows and alerts."""

    def __init__(self) -> None:
        super().__init__()
        self.figures: dict[str, tuple[str, str]] = {}
        self.handlers: list[list[str]] = []
        self.alerts: list[tuple[str, str]] = []
        self.scripts: list[str] = []
        self._stack: list[tuple[str, dict[str, str | None]]] = []
        self._text = ""

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        attributes = dict(attrs)
        if tag == "script":
            self.scripts.append(attributes.get("src") or "inline")
        if tag in ("meta", "link", "input", "br"):
            return
        if tag == "tr" and self._inside("tbody", "live-handlers"):
            self.handlers.append([])
        if tag == "li" and self._inside("ul", "live-alerts"):
            self.alerts.append(((attributes.get("class") or "").split("-")[-1], ""))
        self._stack.append((tag, attributes))
        if "data-figure" in attributes or tag in ("th", "td"):
            self._text = ""

    def _inside(self, tag: str, element_id: str) -> bool:
        return any(t == tag and a.get("id") == element_id for t, a in self._stack)

    def handle_endtag(self, tag: str) -> None:
        if not self._stack or self._stack[-1][0] != tag:
            return
        _tag, attributes = self._stack.pop()
        text = " ".join(self._text.split())
        if attributes.get("data-figure"):
            self.figures[attributes["data-figure"] or ""] = (attributes["data-format"] or "", text)
        if tag in ("th", "td") and self._inside("tbody", "live-handlers") and self.handlers:
            self.handlers[-1].append(text)

    def handle_data(self, data: str) -> None:
        self._text += data
        if self.alerts and self._inside("ul", "live-alerts"):
            level, text = self.alerts[-1]
            self.alerts[-1] = (level, text + data)


def read_live_page(html: str) -> LivePageReader:
    """Parse the live page."""
    reader = LivePageReader()
    reader.feed(html)
    reader.close()
    reader.alerts = [(level, " ".join(text.split())) for level, text in reader.alerts]
    return reader


def lookup(body: dict[str, Any], path: str) -> Any:
    """The JSON value at a dotted path."""
    node: Any = body
    for part in path.split("."):
        node = node[part]
    return node


def test_the_page_shows_the_same_figures_as_the_json(floor: Floor, client: FlaskClient) -> None:
    body = live_json(client)
    with frozen_at(NOW):
        response = client.get("/live")
    page = read_live_page(response.get_data(as_text=True))

    assert response.headers["Cache-Control"] == "no-store"
    assert len(page.figures) > 40
    for key, (figure_format, text) in page.figures.items():
        assert text == format_figure(lookup(body, key), figure_format), key
    assert page.figures["calls.longest_wait_seconds"] == ("duration", "40 s")
    assert page.figures["abandoned.rate"] == ("percent", "12.5%")
    assert page.figures["reach.rate"] == ("percent", "33.3%")
    assert page.figures["pacing.ratio"] == ("ratio", "10.0")
    assert page.figures["callbacks.oldest_wait_seconds"] == ("duration", "2 h 00 min")
    assert page.handlers == [
        ["Asha", "Available", "2 min 00 s"],
        ["Ben", "On a call", "5 min 00 s"],
        ["Cara", "Wrapping up", "45 s"],
        ["Dev", "Away", "1 h 01 min"],
    ]
    assert page.alerts == [
        ("critical", "Act now: " + body["alerts"][0]["text"]),
        ("warning", "Warning: " + body["alerts"][1]["text"]),
    ]
    # The figures are redrawn by a script served by the app, none inline.
    assert page.scripts == ["/static/live.js"]


def test_the_live_page_is_in_the_navigation_and_its_script_is_served(
    database: Engine, client: FlaskClient
) -> None:
    html = client.get("/").get_data(as_text=True)
    assert '<a href="/live">Live view</a>' in html
    live = client.get("/live").get_data(as_text=True)
    assert '<a href="/live" aria-current="page">Live view</a>' in live
    assert "No handler is signed in." in live
    assert "All clear:" in live
    script = client.get("/static/live.js")
    assert script.status_code == 200
    assert script.mimetype == "text/javascript"
    script.close()


def test_with_no_handler_available_waiting_patients_raise_an_alert_and_pacing_has_no_ratio(
    floor: Floor, client: FlaskClient
) -> None:
    with session_scope() as session:
        session.execute(
            update(Handler)
            .where(Handler.state == HandlerState.AVAILABLE)
            .values(state=HandlerState.ON_CALL)
        )

    body = live_json(client)

    assert (body["pacing"]["available_handlers"], body["pacing"]["ratio"]) == (0, None)
    assert (body["pacing"]["calls_allowed"], body["pacing"]["holding"]) == (0, "no_handler")
    assert {alert["code"]: alert["level"] for alert in body["alerts"]} == {
        "abandoned_rate_at_cap": "critical",
        "patients_waiting_no_handler": "critical",
        "provider_errors": "warning",
    }
    waiting = next(a for a in body["alerts"] if a["code"] == "patients_waiting_no_handler")
    assert waiting["text"] == "2 patients are waiting for a handler and no handler is available."


def make_answered_calls(live_answered: int, abandoned: int) -> None:
    """Today's live-answered calls, ``abandoned`` of them abandoned; nothing else."""
    with frozen_at(NOW), session_scope() as session:
        for index in range(live_answered):
            referral = create_referral(session, status=ReferralStatus.REACHED, reached_at=TODAY)
            attempt = create_attempt(
                session,
                referral,
                state=S.FINAL,
                outcome=Out.HUMAN_HANDOFF,
                created_at=TODAY,
                answered_by="human",
                keypad_choice="1",
                provider_sid=f"CA{index:032d}",
            )
            handoff(
                session,
                attempt,
                queued_at=TODAY,
                ended_at=TODAY + timedelta(minutes=1),
                abandoned=index < abandoned,
                connected_at=None if index < abandoned else TODAY,
            )


@pytest.mark.parametrize(
    ("live_answered", "abandoned", "expected"),
    [
        (250, 5, None),  # 2.0%: under 80% of the cap
        (250, 6, ("warning", "abandoned_rate_near_cap")),  # 2.4%: exactly 80% of the cap
        (250, 7, ("warning", "abandoned_rate_near_cap")),  # 2.8%
        (100, 3, ("critical", "abandoned_rate_at_cap")),  # 3.0%: exactly the cap
        (250, 8, ("critical", "abandoned_rate_at_cap")),  # 3.2%
    ],
)
def test_the_abandoned_rate_alert_fires_at_80_percent_of_the_cap_and_at_the_cap(
    database: Engine,
    client: FlaskClient,
    live_answered: int,
    abandoned: int,
    expected: tuple[str, str] | None,
) -> None:
    make_answered_calls(live_answered, abandoned)

    body = live_json(client)

    assert body["abandoned"]["live_answered"] == live_answered
    assert body["abandoned"]["abandoned"] == abandoned
    found = [(alert["level"], alert["code"]) for alert in body["alerts"]]
    assert found == ([expected] if expected else [])


def test_an_empty_floor_has_no_rates_and_no_alerts(database: Engine, client: FlaskClient) -> None:
    body = live_json(client)

    assert body["reach"] == {"first_called": 0, "reached": 0, "rate": None}
    assert body["abandoned"]["rate"] is None
    assert body["calls"]["longest_wait_seconds"] is None
    assert body["pacing"]["ratio"] is None
    assert body["alerts"] == []
    assert body["handlers"]["signed_in"] == []


def test_paused_outreach_is_an_alert_until_resumed(database: Engine, client: FlaskClient) -> None:
    with session_scope() as session:
        pacing.pause(session, "all", reason="phone system change", actor_label="test")
    paused = live_json(client)["alerts"]
    with session_scope() as session:
        pacing.resume(session, "all", actor_label="test")
    resumed = live_json(client)["alerts"]

    assert [(alert["code"], alert["level"]) for alert in paused] == [("outreach_paused", "warning")]
    assert "paused for all referrals" in paused[0]["text"]
    assert resumed == []
