"""Whatever order a call's callbacks arrive and are applied in, duplicated or not, the attempt
and its referral end in the same state with the same outcome."""

from __future__ import annotations

import uuid
from dataclasses import dataclass

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from rmc_outreach import attempts
from rmc_outreach.clock import frozen_at
from rmc_outreach.db import session_scope
from rmc_outreach.models import AttemptState, Referral, ReferralStatus
from tests.admin_ui.webhook_support import (  # noqa: F401 (fixture)
    Webhooks,
    call_params,
    new_call_sid,
    webhooks_fixture,
)
from tests.engine.support import WEDNESDAY_10AM
from tests.factories import create_attempt, create_patient, create_referral

ANSWERED_BY = [
    "human",
    "machine_end_beep",
    "machine_end_silence",
    "machine_end_other",
    "fax",
    "unknown",
    None,
]
CHOICES = ["1", "2", "3", None]


@dataclass(frozen=True)
class Callback:
    """One webhook request: which endpoint, with which parameters."""

    endpoint: str
    params: tuple[tuple[str, str], ...]


def callbacks_of_a_call(
    call_sid: str, answered_by: str | None, choice: str | None
) -> list[Callback]:
    """The callbacks Twilio makes for one answered call, in the order it makes them."""

    def status(name: str, sequence: int, **extra: str) -> Callback:
        params = call_params(call_sid, CallStatus=name, SequenceNumber=str(sequence), **extra)
        return Callback("status", tuple(sorted(params.items())))

    sequence = [status("initiated", 0), status("ringing", 1), status("in-progress", 2)]
    sequence.append(Callback("answer", tuple(sorted(call_params(call_sid).items()))))
    if answered_by is not None:
        params = call_params(call_sid, AnsweredBy=answered_by, MachineDetectionDuration="2400")
        sequence.append(Callback("amd", tuple(sorted(params.items()))))
    if choice is not None:
        params = call_params(call_sid, Digits=choice)
        sequence.append(Callback("choice?round=1", tuple(sorted(params.items()))))
    sequence.append(status("completed", 3, CallDuration="42"))
    return sequence


def new_call(no_voicemail: bool) -> tuple[uuid.UUID, str]:
    call_sid = new_call_sid()
    with session_scope() as session:
        patient = create_patient(session, no_voicemail=no_voicemail)
        referral = create_referral(
            session, patient=patient, status=ReferralStatus.IN_OUTREACH, journey_step=1
        )
        attempt = create_attempt(session, referral, state=AttemptState.SENT, provider_sid=call_sid)
        return attempt.id, call_sid


def deliver(webhooks: Webhooks, attempt_id: uuid.UUID, callbacks: list[Callback]) -> None:
    for callback in callbacks:
        response = webhooks.post(
            f"/twilio/voice/{attempt_id}/{callback.endpoint}", dict(callback.params)
        )
        assert response.status_code in (200, 204)


def end_state(attempt_id: uuid.UUID) -> tuple[object, ...]:
    with session_scope(read_only=True) as session:
        attempt = attempts.get(session, attempt_id)
        referral = session.get_one(Referral, attempt.referral_id)
        return (
            attempt.state,
            attempt.outcome,
            attempt.answered_by,
            attempt.keypad_choice,
            attempt.duration_seconds,
            referral.status,
            referral.reached_by,
        )


@settings(
    max_examples=40,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(
    answered_by=st.sampled_from(ANSWERED_BY),
    choice=st.sampled_from(CHOICES),
    no_voicemail=st.booleans(),
    data=st.data(),
)
def test_any_arrival_and_apply_order_with_duplicates_converges_on_the_same_final_state(
    webhooks: Webhooks,
    answered_by: str | None,
    choice: str | None,
    no_voicemail: bool,
    data: st.DataObject,
) -> None:
    with frozen_at(WEDNESDAY_10AM):
        in_order_id, in_order_sid = new_call(no_voicemail)
        deliver(webhooks, in_order_id, callbacks_of_a_call(in_order_sid, answered_by, choice))
        webhooks.run_enqueued()
        expected = end_state(in_order_id)

        shuffled_id, shuffled_sid = new_call(no_voicemail)
        callbacks = callbacks_of_a_call(shuffled_sid, answered_by, choice)
        duplicates = data.draw(st.lists(st.sampled_from(callbacks), max_size=4), label="dups")
        arrival = data.draw(st.permutations(callbacks + duplicates), label="arrival")
        deliver(webhooks, shuffled_id, arrival)
        applying = data.draw(st.permutations(webhooks.enqueued), label="apply order")
        redelivered = data.draw(
            st.lists(st.sampled_from(applying), max_size=3), label="redelivered"
        )
        webhooks.enqueued[:] = list(applying) + redelivered
        webhooks.run_enqueued()

    assert expected[0] is AttemptState.FINAL
    assert end_state(shuffled_id) == expected
    if choice is not None:
        assert expected[5] in (ReferralStatus.REACHED, ReferralStatus.DECLINED)
    else:
        assert expected[5] is ReferralStatus.IN_OUTREACH
