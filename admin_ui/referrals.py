"""Referrals: search (``/referrals``), one referral's page (``/referrals/<id>``), reveals and
actions. Server-rendered; works without JavaScript.

Who may reach these routes is decided where the blueprint is registered (supervisors and
admins). Every look at a referral's page is audited (``referral.view``). A clear NHS number or
phone number is shown only in the answer to a POST (``/reveal``, CSRF-checked by
``admin_ui.access``), audited in the same transaction; a GET there is refused (405). Actions
are POSTs with a required reason: on success 303 back to the page with a message; refused, the
page again with the error (422, or 409 when the referral's state does not allow it) and nothing
written.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from flask import Blueprint, abort, flash, redirect, render_template, request, url_for
from werkzeug.wrappers import Response as BaseResponse

from admin_ui.access import current_identity
from admin_ui.context import current_engine_config, current_settings
from rmc_outreach import referral_actions as actions
from rmc_outreach.db import session_scope
from rmc_outreach.handoff_outcomes import OutcomeError
from rmc_outreach.models import Channel, Priority, ReferralStatus
from rmc_outreach.queue_view import PRIORITY_LABELS, STATUS_LABELS
from rmc_outreach.referral_search import (
    SearchError,
    SearchKind,
    parse_search,
    search_referrals,
    specialties,
)
from rmc_outreach.referral_view import (
    REVEALABLE,
    RevealRefused,
    load_referral_page,
    record_view,
    reveal,
)

blueprint = Blueprint("referrals", __name__)

CHANNEL_LABELS = {"call": "call", "sms": "text", "letter": "letter"}
CHANNEL_CHOICES = [
    *(
        (f"next:{channel.value}", f"Next step: {CHANNEL_LABELS[channel.value]}")
        for channel in Channel
    ),
    *(
        (f"reached:{channel.value}", f"Reached by {CHANNEL_LABELS[channel.value]}")
        for channel in Channel
    ),
]
KIND_HINTS = {
    SearchKind.UBRN: "UBRN",
    SearchKind.NHS_NUMBER: "NHS number",
    SearchKind.NAME: "name",
}


@blueprint.app_template_filter("local_moment")
def local_moment(moment: datetime | None) -> str:
    """A stored UTC moment in the centre's time zone: "Mon 30 Nov 2026 10:42"."""
    if moment is None:
        return ""
    local = moment.astimezone(ZoneInfo(current_settings().timezone))
    return f"{local:%a} {local.day} {local:%b %Y %H:%M}"


def page_url(page: int) -> str:
    """This page of results again, at another page number (filters kept)."""
    values: dict[str, Any] = {**request.args.to_dict(), "page": str(page)}
    return url_for(str(request.endpoint), **values)


@blueprint.app_context_processor
def paging_helpers() -> dict[str, Any]:
    """``page_url`` for the result pages' Previous and Next links."""
    return {"page_url": page_url}


def _user_id() -> int:
    identity = current_identity()
    if identity is None:  # the access rule lets no one unsigned in
        abort(401)
    return identity.id


@blueprint.get("/referrals")
def search_page() -> tuple[str, int] | str:
    """Search referrals by UBRN, NHS number or name, with filters; a page of masked results."""
    error = None
    results = None
    search = None
    try:
        search = parse_search(request.args)
    except SearchError as refused:
        error = refused
    with session_scope(read_only=True) as session:
        if search is not None:
            results = search_referrals(session, search)
        specialty_choices = specialties(session)
    context: dict[str, Any] = {
        "args": request.args,
        "search": search,
        "results": results,
        "error": error,
        "kind_hint": KIND_HINTS.get(search.kind) if search else None,
        "statuses": list(ReferralStatus),
        "priorities": list(Priority),
        "status_labels": STATUS_LABELS,
        "priority_labels": PRIORITY_LABELS,
        "specialties": specialty_choices,
        "channel_choices": CHANNEL_CHOICES,
        "channel_labels": CHANNEL_LABELS,
    }
    page = render_template("referrals.html", **context)
    return (page, 422) if error is not None else page


def _render_referral(
    referral_id: int,
    *,
    status: int = 200,
    revealed: tuple[str, str] | None = None,
    error: tuple[str, str] | None = None,
    form: dict[str, Any] | None = None,
) -> tuple[str, int]:
    """The referral's page; every rendering is a look, audited in the same transaction."""
    with session_scope() as session:
        page = load_referral_page(session, referral_id)
        if page is None:
            abort(404)
        record_view(session, referral_id, _user_id())
    html = render_template(
        "referral.html",
        page=page,
        revealed=revealed,
        error=error,
        form=form or {},
        status_labels=STATUS_LABELS,
        priority_labels=PRIORITY_LABELS,
        channel_labels=CHANNEL_LABELS,
        revealable=REVEALABLE,
        timezone=current_settings().timezone,
    )
    return html, status


@blueprint.get("/referrals/<int:referral_id>")
def referral_page(referral_id: int) -> tuple[str, int]:
    """One referral: the patient (masked), the referral, the timeline and the actions."""
    return _render_referral(referral_id)


@blueprint.post("/referrals/<int:referral_id>/reveal")
def reveal_identifier(referral_id: int) -> tuple[str, int]:
    """Show one clear identifier, once, in this answer; the reveal is audited."""
    field = str(request.form.get("field") or "")
    try:
        with session_scope() as session:
            revealed = reveal(session, referral_id, field, _user_id())
    except LookupError:
        abort(404)
    except RevealRefused as refused:
        return _render_referral(referral_id, status=422, error=("field", str(refused)))
    return _render_referral(referral_id, revealed=revealed)


def _act(
    referral_id: int, done: str, work: Callable[[Any, str, int], object]
) -> BaseResponse | tuple[str, int]:
    """Run one action in one transaction: redirect with ``done`` on success; on a refusal the
    page again with the message (nothing written: the transaction rolled back)."""
    form = request.form.to_dict()
    try:
        reason = actions.parse_reason(form.get("reason"))
        with session_scope() as session:
            work(session, reason, _user_id())
    except actions.ReferralNotFound:
        abort(404)
    except actions.ActionRefused as refused:
        return _render_referral(
            referral_id, status=422, error=(refused.field, refused.message), form=form
        )
    except (actions.ActionConflict, OutcomeError) as conflict:
        return _render_referral(referral_id, status=409, error=("action", str(conflict)), form=form)
    flash(done)
    return redirect(url_for("referrals.referral_page", referral_id=referral_id), 303)


@blueprint.post("/referrals/<int:referral_id>/pause")
def pause(referral_id: int) -> BaseResponse | tuple[str, int]:
    """Pause automated contact for this referral."""
    return _act(
        referral_id,
        "Outreach is paused for this referral.",
        lambda session, reason, user_id: actions.pause_outreach(
            session, referral_id, reason, user_id
        ),
    )


@blueprint.post("/referrals/<int:referral_id>/resume")
def resume(referral_id: int) -> BaseResponse | tuple[str, int]:
    """Resume automated contact for this referral."""
    return _act(
        referral_id,
        "Outreach has resumed for this referral.",
        lambda session, reason, user_id: actions.resume_outreach(
            session, referral_id, reason, user_id
        ),
    )


def _settle(referral_id: int, status: ReferralStatus) -> BaseResponse | tuple[str, int]:
    window = current_engine_config().window
    return _act(
        referral_id,
        f"The referral is marked {status.value}; every channel has stopped.",
        lambda session, reason, user_id: actions.mark_settled(
            session, referral_id, status, reason=reason, user_id=user_id, window=window
        ),
    )


@blueprint.post("/referrals/<int:referral_id>/booked")
def mark_booked(referral_id: int) -> BaseResponse | tuple[str, int]:
    """Mark the referral booked: the journey ends, every channel stops."""
    return _settle(referral_id, ReferralStatus.BOOKED)


@blueprint.post("/referrals/<int:referral_id>/declined")
def mark_declined(referral_id: int) -> BaseResponse | tuple[str, int]:
    """Mark the referral declined: the journey ends, every channel stops."""
    return _settle(referral_id, ReferralStatus.DECLINED)


@blueprint.post("/referrals/<int:referral_id>/do-not-contact")
def do_not_contact(referral_id: int) -> BaseResponse | tuple[str, int]:
    """Record that the patient asked not to be contacted: automation stops for every open
    referral of theirs, each handed back to people."""
    return _act(
        referral_id,
        "Recorded: the patient is not to be contacted. Their open referrals are handed back "
        "to the team.",
        lambda session, reason, user_id: actions.do_not_contact(
            session, referral_id, reason, user_id
        ),
    )


@blueprint.post("/referrals/<int:referral_id>/preferences")
def preferences(referral_id: int) -> BaseResponse | tuple[str, int]:
    """Change the patient's contact flags, language and opt-outs."""
    try:
        wanted = actions.parse_preferences(request.form)
    except actions.ActionRefused as refused:
        return _render_referral(
            referral_id,
            status=422,
            error=(refused.field, refused.message),
            form=request.form.to_dict(),
        )
    return _act(
        referral_id,
        "The contact preferences are saved.",
        lambda session, reason, user_id: actions.update_preferences(
            session, referral_id, wanted, reason, user_id
        ),
    )
