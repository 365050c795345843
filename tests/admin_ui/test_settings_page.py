"""Admins' settings pages: saved whole or not at all with the field and reason shown, audited,
seen by the engine at once; message values previewed and checked before they are saved."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from flask import Flask
from sqlalchemy import select

from admin_ui.settings import ENGINE_KEYS, MESSAGE_KEYS, form_text
from rmc_outreach.db import session_scope
from rmc_outreach.engine_config import engine_config
from rmc_outreach.models import AuditEvent, Role, Setting
from rmc_outreach.settings_store.overrides import current_values
from rmc_outreach.settings_store.store import AUDIT_ACTION, REVISION_KEY
from tests.admin_ui.conftest import StaffClient

Clients = Callable[[Role], StaffClient]
# A right single quotation mark is not in the GSM alphabet: every text becomes UCS-2.
UCS2_SERVICE_NAME = "St Mary\u2019s referral booking service"


def engine_form(app: Flask, **changes: object) -> dict[str, object]:
    """The settings form as the page shows it (the environment's values), with ``changes``
    (keys with ``__`` for ``.``)."""
    values = current_values(engine_config(app.extensions["rmc_outreach.settings"]))
    form = {key: form_text(key, values[key]) for key in ENGINE_KEYS}
    form.update({key.replace("__", "."): value for key, value in changes.items()})
    return form


def messages_form(app: Flask, **changes: str) -> dict[str, object]:
    values = current_values(engine_config(app.extensions["rmc_outreach.settings"]))
    form = {key: form_text(key, values[key]) for key in MESSAGE_KEYS}
    form.update({f"messages.{key}": value for key, value in changes.items()})
    return form


def stored_settings() -> dict[str, object]:
    with session_scope(read_only=True) as session:
        rows = session.scalars(select(Setting).where(Setting.key != REVISION_KEY)).all()
        return {row.key: row.value for row in rows}


def setting_events() -> list[AuditEvent]:
    with session_scope(read_only=True) as session:
        return list(
            session.scalars(select(AuditEvent).where(AuditEvent.action == AUDIT_ACTION)).all()
        )


def test_the_settings_page_shows_every_setting_with_its_default(
    app: Flask, staff_client: Clients
) -> None:
    page = staff_client(Role.ADMIN).get("/admin/settings")

    assert page.status_code == 200
    text = page.get_data(as_text=True)
    for key in ENGINE_KEYS:
        assert f'name="{key}"' in text
    assert 'value="08:00"' in text
    assert "Default from the environment: 18:00" in text
    assert 'href="/admin/settings"' in text  # in the menu


def test_an_admin_changes_calling_hours_and_the_engine_uses_them_audited(
    app: Flask, staff_client: Clients
) -> None:
    admin = staff_client(Role.ADMIN)

    response = admin.post(
        "/admin/settings",
        data=engine_form(app, calling_hours__start="09:00", pacing__max_calls_in_flight="12"),
    )

    assert response.status_code == 303
    assert response.headers["Location"] == "/admin/settings?saved=1"
    assert stored_settings() == {"calling_hours.start": "09:00", "pacing.max_calls_in_flight": 12}
    [event] = setting_events()
    assert event.actor_user_id is not None
    assert event.detail == {
        "calling_hours.start": {"old": "08:00", "new": "09:00"},
        "pacing.max_calls_in_flight": {"old": 20, "new": 12},
    }
    page = admin.get("/admin/settings?saved=1").get_data(as_text=True)
    assert "The settings were saved" in page
    assert 'value="09:00"' in page
    with app.test_request_context():
        from admin_ui.context import current_engine_config
        from admin_ui.webhooks import webhook_config

        assert current_engine_config().window.start.isoformat() == "09:00:00"
        assert webhook_config().max_calls_in_flight == 12


@pytest.mark.parametrize(
    ("changes", "field", "reason"),
    [
        ({"calling_hours__end": "07:00"}, "calling_hours.end", "between 08:00 and 21:00"),
        ({"calling_hours__start": "18:30"}, "calling_hours.start", "must end after they start"),
        ({"calling_hours__days": []}, "calling_hours.days", "choose at least one day"),
        ({"pacing__max_calls_per_second": "fast"}, "pacing.max_calls_per_second", "whole number"),
        ({"journey__routine": "letter\ncall"}, "journey.routine", "step 1: a letter is the last"),
        ({"caller_ids__caller_id": "0906 123 4567"}, "caller_ids.caller_id", "premium-rate"),
    ],
)
def test_an_unusable_value_is_refused_with_its_field_and_nothing_is_saved(
    app: Flask, staff_client: Clients, changes: dict[str, object], field: str, reason: str
) -> None:
    response = staff_client(Role.ADMIN).post(
        "/admin/settings", data=engine_form(app, pacing__hold_wait_seconds="90", **changes)
    )

    assert response.status_code == 422
    text = response.get_data(as_text=True)
    assert "Nothing was saved" in text
    assert reason in text
    assert f'href="#{field}"' in text
    assert f'id="{field}-error"' in text
    assert stored_settings() == {}
    assert setting_events() == []


def test_only_admins_reach_the_settings(app: Flask, staff_client: Clients) -> None:
    for role in (Role.SUPERVISOR, Role.MANAGER, Role.HANDLER):
        client = staff_client(role)
        assert client.get("/admin/settings").status_code == 403
        assert client.post("/admin/settings", data=engine_form(app)).status_code == 403
        assert client.post("/admin/settings/messages", data=messages_form(app)).status_code == 403
    assert stored_settings() == {}


def test_a_settings_form_without_the_csrf_token_is_refused(
    app: Flask, staff_client: Clients
) -> None:
    response = staff_client(Role.ADMIN).post(
        "/admin/settings", data=engine_form(app, calling_hours__start="09:00"), csrf=False
    )
    assert response.status_code in (400, 403)
    assert stored_settings() == {}


def test_the_messages_page_renders_every_message_with_segments_and_a_sample_letter(
    app: Flask, staff_client: Clients
) -> None:
    page = staff_client(Role.ADMIN).get("/admin/settings/messages")

    assert page.status_code == 200
    text = page.get_data(as_text=True)
    assert 'data-template="sms/invitation"' in text
    assert 'data-template="voice/voicemail"' in text
    assert "GSM-7" in text
    assert 'data-segments="2"' in text or 'data-segments="1"' in text
    assert "Alex Sample" in text  # the synthetic sample patient's letter
    assert "NHS referral booking service" in text


def test_a_preview_renders_the_proposed_words_and_stores_nothing(
    app: Flask, staff_client: Clients
) -> None:
    response = staff_client(Role.ADMIN).post(
        "/admin/settings/messages/preview",
        data=messages_form(app, service_name="Example referral booking team"),
    )

    assert response.status_code == 200
    text = response.get_data(as_text=True)
    assert "Preview of the values above (not saved)" in text
    assert "Example referral booking team: we need to arrange an appointment" in text
    assert stored_settings() == {}


def test_a_preview_of_words_too_long_for_two_segments_shows_the_count_and_is_refused(
    app: Flask, staff_client: Clients
) -> None:
    response = staff_client(Role.ADMIN).post(
        "/admin/settings/messages/preview",
        data=messages_form(app, service_name=UCS2_SERVICE_NAME),
    )

    assert response.status_code == 422
    text = response.get_data(as_text=True)
    assert "UCS-2" in text
    assert 'data-segments="3"' in text
    assert "This cannot be saved" in text


def test_an_admin_saves_the_service_name_and_every_message_uses_it(
    app: Flask, staff_client: Clients
) -> None:
    admin = staff_client(Role.ADMIN)

    response = admin.post(
        "/admin/settings/messages",
        data=messages_form(app, service_name="Example referral booking team"),
    )

    assert response.status_code == 303
    assert stored_settings() == {"messages.service_name": "Example referral booking team"}
    [event] = setting_events()
    assert event.detail == {
        "messages.service_name": {
            "old": "NHS referral booking service",
            "new": "Example referral booking team",
        }
    }
    page = admin.get("/admin/settings/messages").get_data(as_text=True)
    assert "This is a message from the Example referral booking team" in page


@pytest.mark.parametrize(
    ("changes", "field", "reason"),
    [
        ({"service_name": "Cancer booking line"}, "messages.service_name", "must not say"),
        ({"service_name": "Call {{ nhs_number }}"}, "messages.service_name", "plain text"),
        ({"opening_hours": "9434765919"}, "messages.opening_hours", "long number"),
        ({"booking_number": "0909 879 0000"}, "messages.booking_number", "premium-rate"),
        ({"service_name": UCS2_SERVICE_NAME}, "messages.service_name", "UCS-2"),
    ],
)
def test_unsafe_message_values_are_refused_and_nothing_is_saved(
    app: Flask, staff_client: Clients, changes: dict[str, str], field: str, reason: str
) -> None:
    response = staff_client(Role.ADMIN).post(
        "/admin/settings/messages", data=messages_form(app, **changes)
    )

    assert response.status_code == 422
    text = response.get_data(as_text=True)
    assert "Nothing was saved" in text
    assert reason in text
    assert f'href="#{field}"' in text
    assert stored_settings() == {}
    assert setting_events() == []
