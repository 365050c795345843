"""Helpers for the webhook tests: signing requests as Twilio does, and running what the webhooks
enqueue the way the workers would (in-process, after the request has returned)."""

from __future__ import annotations

import dataclasses
import uuid
from collections.abc import Iterator
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from twilio.request_validator import RequestValidator
from werkzeug.test import TestResponse

from admin_ui import create_app
from admin_ui.webhooks import CONNECT_HANDLERS, ENGINE_CONFIG_EXTENSION, ENQUEUE_EXTENSION
from rmc_outreach import acd, call_events, events, outreach
from rmc_outreach.config import Settings
from rmc_outreach.db import session_scope
from rmc_outreach.engine_config import EngineConfig
from rmc_outreach.models import ProviderEvent
from tests.engine.support import ACCOUNT_SID, AUTH_TOKEN, FakeProvider, engine_config_for

PUBLIC_BASE_URL = "https://outreach.example.nhs.uk"


@dataclasses.dataclass
class Webhooks:
    """A web app whose task queue is a list, a fake provider, and the engine configuration."""

    app: Flask
    client: FlaskClient
    config: EngineConfig
    provider: FakeProvider
    enqueued: list[tuple[str, list[Any]]]
    # Kinds of the applied events after which the worker would kick dispatch (pace_now).
    paced: list[str] = dataclasses.field(default_factory=list)

    def post(
        self, path: str, params: dict[str, str], *, signed_url: str | None = None
    ) -> TestResponse:
        """POST form params signed with the auth token over the public URL of ``path``."""
        url = signed_url or PUBLIC_BASE_URL + path
        signature = RequestValidator(AUTH_TOKEN).compute_signature(url, params)
        return self.client.post(path, data=params, headers={"X-Twilio-Signature": signature})

    def run_enqueued(self) -> int:
        """Run every enqueued task as the worker would (applying events, then their
        follow-ups; connecting handlers), including the tasks they enqueue; returns how many
        event tasks ran."""
        ran = 0
        while self.enqueued:
            name, args = self.enqueued.pop(0)
            if name == CONNECT_HANDLERS:
                acd.connect_waiting(self.config, self.provider)
                continue
            follow_ups, _applied = events.apply_event(int(args[0]))
            call_events.answer_machines(follow_ups, self.provider, self.config)
            for sms_attempt_id in follow_ups.sms_attempt_ids:
                outreach.send_sms(sms_attempt_id, self.provider, self.config)
            acd.hang_up_handler_calls(follow_ups.hang_up_calls, self.provider)
            if follow_ups.connect_handlers:
                self.enqueued.append((CONNECT_HANDLERS, []))
            if follow_ups.pace_now:
                with session_scope(read_only=True) as session:
                    self.paced.append(session.get_one(ProviderEvent, int(args[0])).kind)
            ran += 1
        return ran


def call_params(call_sid: str, **extra: str) -> dict[str, str]:
    """The parameters Twilio posts with every voice callback."""
    return {
        "AccountSid": ACCOUNT_SID,
        "CallSid": call_sid,
        "From": "+441632960000",
        "To": "+447700900001",
        "Direction": "outbound-api",
        "ApiVersion": "2010-04-01",
        **extra,
    }


def new_call_sid() -> str:
    """A call sid shaped like Twilio's."""
    return "CA" + uuid.uuid4().hex


@pytest.fixture(name="webhooks")
def webhooks_fixture(web_settings: Settings) -> Iterator[Webhooks]:
    """The app with Twilio credentials and a public URL, its enqueue captured in a list."""
    settings = dataclasses.replace(
        web_settings,
        twilio_account_sid=ACCOUNT_SID,
        twilio_auth_token=AUTH_TOKEN,
        public_base_url=PUBLIC_BASE_URL,
    )
    config = engine_config_for(settings)
    app = create_app(settings)
    enqueued: list[tuple[str, list[Any]]] = []
    app.extensions[ENQUEUE_EXTENSION] = lambda name, args: enqueued.append((name, args))
    app.extensions[ENGINE_CONFIG_EXTENSION] = config
    yield Webhooks(app, app.test_client(), config, FakeProvider(), enqueued)
