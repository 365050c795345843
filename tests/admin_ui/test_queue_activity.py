"""The queue page shows outreach moving: today's figures, what is under way, the clock and window.

A known mix of attempts, callbacks, opt-outs, letters and print batches, today and yesterday, on
SQLite and PostgreSQL; every figure on the page and in /api/queue is checked against it.
"""

from __future__ import annotations

import dataclasses
import json
import re
from collections import Counter
from collections.abc import Iterator
from datetime import datetime, timedelta
from html.parser import HTMLParser
from typing import Any
from zoneinfo import ZoneInfo

import pytest
import redis
from flask.testing import FlaskClient
from sqlalchemy import Engine
from sqlalchemy.orm import Session

from admin_ui import create_app
from rmc_outreach import clock
from rmc_outreach.clock import frozen_at
from rmc_outreach.config import Settings
from rmc_outreach.db import session_scope
from rmc_outreach.inbound_sms import set_sms_opt_out
from rmc_outreach.models import (
    AttemptOutcome,
    AttemptState,
    CallbackRequest,
    Channel,
    ContactAttempt,
    Letter,
    LetterStatus,
    PrintBatch,
    Referral,
    ReferralStatus,
    Role,
)
from tests.admin_ui.conftest import signed_in_client
from tests.factories import create_attempt, create_patient, create_referral

LONDON = ZoneInfo("Europe/London")
# Tuesday 16 June 2026, 16:30 in London (BST): the window is open, today's print batch is cut.
NOW = datetime(2026, 6, 16, 16, 30, tzinfo=LONDON)
TODAY = NOW - timedelta(hours=2)
YESTERDAY = NOW - timedelta(days=1)
# 00:30 local is 23:30 UTC the evening before: it belongs to today; an hour earlier does not.
EDGES = (
    (datetime(2026, 6, 16, 0, 30, tzinfo=LONDON), True),
    (datetime(2026, 6, 15, 23, 30, tzinfo=LONDON), False),
)

S, Out = AttemptState, AttemptOutcome
# (state, outcome, keypad choice, answered by, has a carrier id) -> the figure the call adds to.
CALLS = {
    (S.FINAL, Out.HUMAN_HANDOFF, "1", "human", True): "handed_to_booking_team",
    (S.FINAL, Out.IVR_CHOICE, "2", "human", True): "asked_for_text",
    (S.FINAL, Out.IVR_CHOICE, "3", "machine_start", True): "no_longer_needed",
    (S.FINAL, Out.NO_ANSWER, None, "human", True): "person_no_choice",
    (S.FINAL, Out.VOICEMAIL_LEFT, None, "machine_end_beep", True): "voicemail_left",
    (S.FINAL, Out.MACHINE_NO_MESSAGE, None, "machine_end_silence", True): "machine_no_message",
    (S.FINAL, Out.NO_ANSWER, None, None, True): "no_answer",
    (S.FINAL, Out.NO_ANSWER, None, "unknown", True): "no_answer",
    (S.FINAL, Out.BUSY, None, None, True): "busy",
    (S.FINAL, Out.FAILED, None, None, True): "failed",
    (S.FINAL, Out.FAILED, None, None, False): "failed",
    (S.FINAL, Out.CANCELED, None, None, False): "not_placed",
    (S.SENT, None, None, None, True): "in_progress",
    (S.CLAIMED, None, None, None, False): "in_progress",
    (S.UNCERTAIN, None, None, None, False): "in_progress",
    (S.PENDING, None, None, None, False): "queued",
}
TEXTS = {
    (S.FINAL, Out.DELIVERED): "delivered",
    (S.FINAL, Out.UNDELIVERED): "undelivered",
    (S.FINAL, Out.FAILED): "undelivered",
    (S.SENT, None): "awaiting_report",
    (S.CLAIMED, None): "awaiting_report",
    (S.PENDING, None): "queued",
    (S.FINAL, Out.CANCELED): "not_sent",
}
LETTERS = {
    (S.SENT, None): "waiting_for_print",
    (S.FINAL, Out.LETTER_PRINTED): "printed",
    (S.FINAL, Out.LETTER_CANCELLED): "cancelled",
    (S.FINAL, Out.CANCELED): "not_prepared",
    (S.PENDING, None): "queued",
}
LETTER_STATUS = {
    "waiting_for_print": LetterStatus.PENDING,
    "printed": LetterStatus.PRINTED,
    "cancelled": LetterStatus.CANCELLED,
}
# Kinds made more than once today, so no figure is right by accident.
TIMES_TODAY = {"voicemail_left": 3, "no_answer": 2, "delivered": 3, "waiting_for_print": 2}
PERSON = ("handed_to_booking_team", "asked_for_text", "no_longer_needed", "person_no_choice")
UNDER_WAY = {
    S.PENDING: "queued",
    S.CLAIMED: "in_progress",
    S.SENT: "in_progress",
    S.UNCERTAIN: "checking",
}
TODAY_SECTIONS = ("calls", "sms", "letters", "responses")


@dataclasses.dataclass
class Mix:
    """What was made, counted as the page should count it, and every personal detail used."""

    calls: Counter[str] = dataclasses.field(default_factory=Counter)
    sms: Counter[str] = dataclasses.field(default_factory=Counter)
    letters: Counter[str] = dataclasses.field(default_factory=Counter)
    under_way: Counter[str] = dataclasses.field(default_factory=Counter)
    personal: list[str] = dataclasses.field(default_factory=list)
    batches: dict[str, PrintBatch] = dataclasses.field(default_factory=dict)

    def referral(self, session: Session, **values: Any) -> Referral:
        """A new referral of a new patient whose details are remembered as personal."""
        number = len(self.personal) // 4
        patient = create_patient(session, mobile_phone=f"+447700900{number:03d}")
        self.personal += [
            patient.given_name + " " + patient.family_name,
            patient.nhs_number,
            f"900{number:03d}",
            patient.address_line_1 or "",
        ]
        values.setdefault("status", ReferralStatus.IN_OUTREACH)
        return create_referral(session, patient=patient, **values)

    def attempt(
        self,
        session: Session,
        channel: Channel,
        state: AttemptState,
        outcome: AttemptOutcome | None,
        created_at: datetime,
        *,
        carrier_id: bool | None = None,
        **facts: Any,
    ) -> ContactAttempt:
        """An attempt of a new referral, as the engine would have left it."""
        if carrier_id is None:
            carrier_id = state is not S.PENDING and outcome is not Out.CANCELED
        if state is not S.FINAL and channel is not Channel.LETTER:
            self.under_way[f"{channel}_{UNDER_WAY[state]}"] += 1
        return create_attempt(
            session,
            self.referral(session),
            channel=channel,
            state=state,
            outcome=outcome,
            provider_sid=f"XX{len(self.personal):032d}" if carrier_id else None,
            created_at=created_at,
            **facts,
        )


def make_attempts(session: Session, mix: Mix) -> None:
    """Every kind of call, text and letter attempt, today (some several times) and yesterday."""
    for day, when in (("today", TODAY), ("yesterday", YESTERDAY)):
        mix.batches[day] = PrintBatch(
            day=when.date(), cut_at=when.replace(hour=16, minute=0), letter_count=1
        )
        session.add(mix.batches[day])
    session.flush()
    for day, when in (("today", TODAY), ("yesterday", YESTERDAY)):
        counts = day == "today"
        for (state, outcome, keypad, answered_by, carrier_id), figure in CALLS.items():
            for _ in range(TIMES_TODAY.get(figure, 1) if counts else 1):
                mix.attempt(
                    session,
                    Channel.CALL,
                    state,
                    outcome,
                    when,
                    carrier_id=carrier_id,
                    keypad_choice=keypad,
                    answered_by=answered_by,
                )
                mix.calls[figure] += counts
        for (state, outcome), figure in TEXTS.items():
            for _ in range(TIMES_TODAY.get(figure, 1) if counts else 1):
                mix.attempt(session, Channel.SMS, state, outcome, when)
                mix.sms[figure] += counts
        for (state, outcome), figure in LETTERS.items():
            for index in range(TIMES_TODAY.get(figure, 1) if counts else 1):
                attempt = mix.attempt(session, Channel.LETTER, state, outcome, when)
                mix.letters[figure] += counts
                if figure in LETTER_STATUS:
                    printed = LETTER_STATUS[figure] is LetterStatus.PRINTED
                    session.add(
                        Letter(
                            referral_id=attempt.referral_id,
                            attempt_id=attempt.id,
                            status=LETTER_STATUS[figure],
                            created_at=when,
                            batch_id=mix.batches[day].id if printed else None,
                            large_print=counts and index == 0,
                        )
                    )
    for when, counts in EDGES:
        mix.attempt(session, Channel.CALL, S.FINAL, Out.BUSY, when)
        mix.calls["busy"] += counts


# (reached by, status now, when): five reached today, one declining; one yesterday.
REACHED = (
    (Channel.CALL, ReferralStatus.REACHED, TODAY),
    (Channel.CALL, ReferralStatus.REACHED, TODAY),
    (Channel.CALL, ReferralStatus.DECLINED, TODAY),
    (Channel.SMS, ReferralStatus.REACHED, TODAY),
    (Channel.SMS, ReferralStatus.BOOKED, TODAY),
    (Channel.CALL, ReferralStatus.REACHED, YESTERDAY),
)
EXHAUSTED = (("exhausted", TODAY), ("no_usable_channel", TODAY), ("exhausted", YESTERDAY))
# (reason, created, completed): three replies today; four requests still waiting.
CALLBACKS = (
    ("sms_reply", TODAY, None),
    ("sms_reply", TODAY, TODAY + timedelta(minutes=5)),
    ("sms_reply_unmatched", TODAY, None),
    ("no_handler", TODAY, None),
    ("sms_reply", YESTERDAY, YESTERDAY + timedelta(minutes=5)),
    ("sms_reply", YESTERDAY - timedelta(hours=1), None),
)


def make_responses(session: Session, mix: Mix) -> None:
    """Reached, declined and exhausted referrals, callback requests and opt-outs."""
    for channel, status, when in REACHED:
        mix.referral(session, status=status, reached_by=channel, reached_at=when)
    for reason, when in EXHAUSTED:
        mix.referral(
            session, status=ReferralStatus.EXHAUSTED, journey_end_reason=reason, updated_at=when
        )
    for reason, created_at, completed_at in CALLBACKS:
        referral = mix.referral(session)
        session.add(
            CallbackRequest(
                referral_id=referral.id,
                reason=reason,
                phone=referral.patient.mobile_phone,
                created_at=created_at,
                completed_at=completed_at,
            )
        )
    session.flush()


def opt_out(number: str, when: datetime, *, opted_out: bool = True) -> None:
    """An SMS opt-out (or opt-in) written by the engine, as a STOP (or START) would."""
    with frozen_at(when), session_scope() as session:
        set_sms_opt_out(session, number, opted_out=opted_out, source="sms_stop")


def make_mix() -> Mix:
    """The whole mix, committed."""
    mix = Mix()
    with session_scope() as session:
        make_attempts(session, mix)
        make_responses(session, mix)
    # Two patients opt out today, one yesterday (and opts back in today: not an opt-out).
    for number, when in (("000", TODAY), ("001", TODAY), ("002", YESTERDAY)):
        opt_out(f"+447700900{number}", when)
    opt_out("+447700900002", TODAY, opted_out=False)
    return mix


def expected_figures(mix: Mix) -> dict[str, int]:
    """Every figure the page should show for the mix, keyed as on the page."""
    calls, sms, letters = mix.calls, mix.sms, mix.letters
    figures = {f"calls.{name}": count for name, count in calls.items() if name != "queued"}
    figures |= {
        "sms.not_sent": sms["not_sent"],
        "letters.not_prepared": letters["not_prepared"],
        "calls.placed": calls.total() - calls["queued"] - calls["not_placed"],
        "calls.answered_by_person": sum(calls[name] for name in PERSON),
        "sms.sent": sms.total() - sms["queued"] - sms["not_sent"],
        "sms.delivered": sms["delivered"],
        "sms.undelivered": sms["undelivered"],
        "sms.awaiting_report": sms["awaiting_report"],
        "letters.prepared": letters["waiting_for_print"]
        + letters["printed"]
        + letters["cancelled"],
        "letters.waiting_for_print": letters["waiting_for_print"],
        "letters.printed": letters["printed"],
        "letters.cancelled": letters["cancelled"],
    }
    reached_today = [(channel, status) for channel, status, when in REACHED if when == TODAY]
    figures |= {
        "responses.reached": len(reached_today),
        "responses.reached_by_call": sum(channel is Channel.CALL for channel, _ in reached_today),
        "responses.reached_by_sms": sum(channel is Channel.SMS for channel, _ in reached_today),
        "responses.declined": sum(status is ReferralStatus.DECLINED for _, status in reached_today),
        "responses.replies": sum(
            reason.startswith("sms_reply") and created.date() == NOW.date()
            for reason, created, _completed in CALLBACKS
        ),
        "responses.sms_opt_outs": 2,
        "responses.exhausted": sum(when == TODAY for _reason, when in EXHAUSTED),
    }
    for channel in ("call", "sms"):
        for part in ("queued", "in_progress", "checking"):
            key = f"{'calls' if channel == 'call' else 'sms'}_{part}"
            figures[f"under_way.{key}"] = mix.under_way[f"{channel}_{part}"]
    waiting = Counter(reason for reason, _created, completed in CALLBACKS if completed is None)
    figures |= {f"callbacks_waiting.by_reason.{reason}": n for reason, n in waiting.items()}
    figures["callbacks_waiting.total"] = waiting.total()
    figures["print_queue.letters_waiting"] = letters["waiting_for_print"] + 1  # + yesterday's
    figures["print_queue.large_print_waiting"] = 1
    return figures


class FigureReader(HTMLParser):
    """Reads every ``data-figure`` cell of the page, and the text of elements with an id."""

    def __init__(self) -> None:
        super().__init__()
        self.figures: dict[str, int] = {}
        self.texts: dict[str, str] = {}
        self._open: list[tuple[str, str | None, str | None]] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        attributes = dict(attrs)
        if "data-value" in attributes:
            self.figures[attributes["data-figure"] or ""] = int(attributes["data-value"] or "")
        elif tag not in ("input", "meta", "link", "br"):
            self._open.append((tag, attributes.get("data-figure"), attributes.get("id")))
            for _tag, _figure, element_id in self._open:
                if element_id:
                    self.texts.setdefault(element_id, "")

    def handle_endtag(self, tag: str) -> None:
        if self._open and self._open[-1][0] == tag:
            self._open.pop()

    def handle_data(self, data: str) -> None:
        for _tag, figure, element_id in self._open:
            if figure:
                self.figures[figure] = int(data.strip())
            if element_id:
                self.texts[element_id] += data


def read_page(html: str) -> FigureReader:
    """Parse the queue page."""
    reader = FigureReader()
    reader.feed(html)
    reader.close()
    reader.texts = {key: " ".join(text.split()) for key, text in reader.texts.items()}
    return reader


def json_figure(body: dict[str, Any], key: str) -> Any:
    """The JSON value for a page figure key (today's figures live under ``outreach_today``)."""
    path = key.split(".")
    node: Any = body["outreach_today"] if path[0] in TODAY_SECTIONS else body
    for part in path:
        node = node[part]
    return node


def test_the_page_and_the_json_show_todays_outreach_and_what_is_under_way_exactly(
    database: Engine, client: FlaskClient
) -> None:
    mix = make_mix()
    expected = expected_figures(mix)

    with frozen_at(NOW):
        page = read_page(client.get("/").get_data(as_text=True))
        body = client.get("/api/queue").get_json()

    shown = {key: value for key, value in page.figures.items() if key in expected}
    assert shown == expected
    # Every figure on the page is one we expected (zero where the mix has none).
    assert {key for key, value in page.figures.items() if key not in expected and value} == set()
    assert {key: json_figure(body, key) for key in page.figures} == page.figures
    # Attempts waiting to go out are in the JSON (the page shows them under "Under way now").
    queued = [json_figure(body, f"{name}.queued") for name in ("calls", "sms", "letters")]
    assert queued == [mix.calls["queued"], mix.sms["queued"], mix.letters["queued"]]
    assert body["outreach_today"]["day"] == "2026-06-16"
    assert body["outreach_today"]["responses"]["exhausted_by_reason"] == {
        "exhausted": 1,
        "no_usable_channel": 1,
    }


def test_the_print_batches_the_callbacks_and_the_calling_window_are_described_in_words(
    database: Engine, client: FlaskClient
) -> None:
    make_mix()

    with frozen_at(NOW):
        page = read_page(client.get("/").get_data(as_text=True))
        body = client.get("/api/queue").get_json()

    assert page.texts["calling-window"] == "Calling window: open until 18:00"
    assert page.texts["next-print-cut"] == "Wed 17 Jun 16:00"
    assert page.texts["last-print-batch"] == "Last batch: Tue 16 Jun, 1 letter, cut at 16:00."
    assert "simulated-time" not in page.texts
    oldest = min(created for _reason, created, completed in CALLBACKS if completed is None)
    assert datetime.fromisoformat(body["callbacks_waiting"]["oldest_requested_at"]) == oldest
    assert page.texts["oldest-callback"] == "Oldest asked Mon 15 Jun 15:30."
    last_batch = body["print_queue"]["last_batch"]
    assert (last_batch["day"], last_batch["letter_count"]) == ("2026-06-16", 1)
    assert datetime.fromisoformat(last_batch["cut_at"]) == NOW.replace(hour=16, minute=0)
    window = body["clock"]["calling_window"]
    assert (window["open"], window["closed_because"]) == (True, None)
    assert datetime.fromisoformat(window["closes_at"]) == NOW.replace(hour=18, minute=0)
    assert body["clock"]["simulated"] is False


def test_after_midnight_todays_figures_start_again_but_work_under_way_stays(
    database: Engine, client: FlaskClient
) -> None:
    mix = make_mix()
    tomorrow = NOW + timedelta(days=1)

    with frozen_at(tomorrow):
        page = read_page(client.get("/").get_data(as_text=True))

    today_keys = [key for key in page.figures if key.split(".")[0] in TODAY_SECTIONS]
    assert today_keys
    assert {key: page.figures[key] for key in today_keys} == dict.fromkeys(today_keys, 0)
    assert page.figures["under_way.calls_in_progress"] == mix.under_way["call_in_progress"] > 0
    assert page.figures["callbacks_waiting.total"] == 4


def test_nothing_personal_reaches_the_page_or_the_json(
    database: Engine, client: FlaskClient
) -> None:
    mix = make_mix()

    with frozen_at(NOW):
        html = client.get("/").get_data(as_text=True)
        json_text = json.dumps(client.get("/api/queue").get_json(), ensure_ascii=False)

    assert len(mix.personal) > 100
    for body in (html, json_text):
        for detail in mix.personal:
            assert detail not in body
        assert re.search(r"\+?44\s?7700|07700", body) is None


def test_a_closed_window_says_why_and_when_it_opens(database: Engine, client: FlaskClient) -> None:
    saturday = datetime(2026, 6, 20, 11, 5, tzinfo=LONDON)

    with frozen_at(saturday):
        page = read_page(client.get("/").get_data(as_text=True))

    assert page.texts["calling-window"] == (
        "Calling window: closed (not a calling day) until Mon 22 Jun 08:00"
    )


@pytest.fixture
def simulated_client(
    web_settings: Settings, redis_client: redis.Redis, redis_url: str
) -> Iterator[FlaskClient]:
    """The app as the demo runs it: the shared simulated clock, started at Mon 30 Nov 10:42."""
    settings = dataclasses.replace(web_settings, clock_mode="simulated")
    app = create_app(settings)
    simulated = clock.simulated_clock()
    assert simulated is not None
    simulated.start(datetime(2026, 11, 30, 10, 42, tzinfo=LONDON), rate=2.0)
    try:
        yield signed_in_client(app, Role.SUPERVISOR)
    finally:
        clock.use_real_clock()


def test_the_demos_simulated_time_is_shown_and_the_page_refreshes_faster(
    database: Engine, simulated_client: FlaskClient
) -> None:
    html = simulated_client.get("/").get_data(as_text=True)
    page = read_page(html)

    assert page.texts["simulated-time"] == (
        "Simulated time: Mon 30 Nov 10:42 (demo clock at 2\u00d7 real speed: days pass in minutes)"
    )
    assert '<meta http-equiv="refresh" content="5">' in html
    assert 'data-refresh-seconds="5"' in html
    assert simulated_client.get("/api/queue").get_json()["clock"]["rate"] == 2.0


def test_the_real_clock_shows_no_simulated_time_and_refreshes_every_10_seconds(
    database: Engine, client: FlaskClient
) -> None:
    html = client.get("/").get_data(as_text=True)

    assert "Simulated time" not in html
    assert '<meta http-equiv="refresh" content="10">' in html
    assert client.get("/api/queue").get_json()["clock"]["rate"] is None


def test_the_activity_sections_use_no_inline_script_or_style(
    database: Engine, client: FlaskClient
) -> None:
    make_mix()

    with frozen_at(NOW):
        html = client.get("/").get_data(as_text=True)

    assert "style=" not in html
    assert "<style" not in html
    assert re.findall(r"<script[^>]*>", html) == ['<script src="/static/refresh.js" defer>']
    for heading in ("Outreach today, Tuesday 16 June", "Under way now", "Call-backs waiting"):
        assert heading in re.sub(r"<[^>]+>", "", html)
