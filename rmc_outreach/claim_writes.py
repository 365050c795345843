"""Writing one dispatch claim: its new attempts in one INSERT, its referrals in one UPDATE.

``dispatch.claim_due`` decides, under the referrals' row locks, what each claimed referral does
next; this module writes all of it in two statements whatever the batch size. On PostgreSQL each
statement carries the whole batch as arrays unpacked by ``unnest``: its text, and so its plan, is
the same for any batch (cached by SQLAlchemy, psycopg and the server), and it costs one round
trip. SQLite runs in-process, where an executemany of one statement costs no more.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, cast

from sqlalchemy import (
    DateTime,
    Integer,
    String,
    Table,
    Uuid,
    bindparam,
    column,
    func,
    literal,
    select,
    update,
)
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.orm import Session
from sqlalchemy.orm.util import identity_key
from sqlalchemy.sql.selectable import TableValuedAlias
from sqlalchemy.types import TypeEngine

from rmc_outreach.clock import now
from rmc_outreach.models import AttemptState, Channel, ContactAttempt, Referral

_attempt_table = cast(Table, ContactAttempt.__table__)
_referral_table = cast(Table, Referral.__table__)


def _unnest(*columns: tuple[str, TypeEngine[Any]]) -> TableValuedAlias:
    """``unnest(:a_batch, :b_batch, ...) AS anon(a, b, ...)``: parallel arrays read as rows."""
    return (
        func.unnest(*(bindparam(f"{name}_batch", type_=ARRAY(kind)) for name, kind in columns))
        .table_valued(*(column(name, kind) for name, kind in columns))
        .render_derived()
    )


_new_attempts = _unnest(
    ("id", Uuid()),
    ("referral_id", Integer()),
    ("step", Integer()),
    ("channel", String()),
    ("destination", String()),
    ("template", String()),
)
# A step a referral already has an attempt for on that channel is not tried again: the unique
# constraint decides, and the statement returns the ids of the attempts it did create.
_STEP_KEY = ["referral_id", "step", "channel"]
# PostgreSQL: every new attempt of a claim, pending, in one statement.
INSERT_ATTEMPTS = (
    postgresql.insert(_attempt_table)
    .from_select(
        ["id", "referral_id", "step", "channel", "destination", "template", "state", "created_at"],
        select(
            *_new_attempts.c,
            literal(AttemptState.PENDING.value, String()),
            bindparam("created_at_value", type_=DateTime(timezone=True)),
        ),
    )
    .on_conflict_do_nothing(index_elements=_STEP_KEY)
    .returning(_attempt_table.c.id)
)

_moves = _unnest(
    ("id", Integer()),
    ("journey_step", Integer()),
    ("next_action_at", DateTime(timezone=True)),
    ("next_channel", String()),
)
# PostgreSQL: every claimed referral's new journey position in one statement.
MOVE_REFERRALS = (
    update(_referral_table)
    .where(_referral_table.c.id == _moves.c.id)
    .values(
        journey_step=_moves.c.journey_step,
        next_action_at=_moves.c.next_action_at,
        next_channel=_moves.c.next_channel,
        updated_at=bindparam("updated_at_value", type_=DateTime(timezone=True)),
    )
)


@dataclass(frozen=True)
class NewAttempt:
    """A pending attempt to create; its id was made before anything is queued."""

    attempt_id: uuid.UUID
    referral_id: int
    step: int
    channel: Channel
    destination: str | None
    template: str | None


@dataclass(frozen=True)
class ReferralMove:
    """A claimed referral's journey position after the claim."""

    referral_id: int
    journey_step: int
    next_action_at: datetime | None
    next_channel: Channel | None


def _on_postgresql(session: Session) -> bool:
    return session.get_bind().dialect.name == "postgresql"


def insert_attempts(session: Session, new: Sequence[NewAttempt]) -> set[uuid.UUID]:
    """Insert these pending attempts, all in one statement; returns the ids created.

    An attempt whose referral already has one for that step and channel is not created (the
    unique constraint is the judge): its id is missing from the result.
    """
    if not new:
        return set()
    stamp = now()
    if _on_postgresql(session):
        created = session.execute(
            INSERT_ATTEMPTS,
            {
                "id_batch": [item.attempt_id for item in new],
                "referral_id_batch": [item.referral_id for item in new],
                "step_batch": [item.step for item in new],
                "channel_batch": [item.channel.value for item in new],
                "destination_batch": [item.destination for item in new],
                "template_batch": [item.template for item in new],
                "created_at_value": stamp,
            },
        )
        return set(created.scalars())
    created = session.execute(
        sqlite.insert(_attempt_table)
        .on_conflict_do_nothing(index_elements=_STEP_KEY)
        .returning(_attempt_table.c.id),
        [
            {
                "id": item.attempt_id,
                "referral_id": item.referral_id,
                "step": item.step,
                "channel": item.channel,
                "destination": item.destination,
                "template": item.template,
                "state": AttemptState.PENDING,
                "created_at": stamp,
            }
            for item in new
        ],
    )
    return set(created.scalars())


def move_referrals(session: Session, moves: Sequence[ReferralMove]) -> None:
    """Write each referral's new journey position, all in one statement.

    Referrals the session had loaded are expired, so they read the new values if used again.
    """
    if not moves:
        return
    stamp = now()
    if _on_postgresql(session):
        session.execute(
            MOVE_REFERRALS,
            {
                "id_batch": [move.referral_id for move in moves],
                "journey_step_batch": [move.journey_step for move in moves],
                "next_action_at_batch": [move.next_action_at for move in moves],
                "next_channel_batch": [
                    None if move.next_channel is None else move.next_channel.value for move in moves
                ],
                "updated_at_value": stamp,
            },
        )
    else:
        session.execute(
            update(Referral),
            [
                {
                    "id": move.referral_id,
                    "journey_step": move.journey_step,
                    "next_action_at": move.next_action_at,
                    "next_channel": move.next_channel,
                    "updated_at": stamp,
                }
                for move in moves
            ],
        )
    for move in moves:
        loaded = session.identity_map.get(identity_key(Referral, move.referral_id))
        if loaded is not None:
            session.expire(loaded)
