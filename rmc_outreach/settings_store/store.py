"""Reading and saving an admin's settings: one transaction, checked first, audited.

A row of ``setting`` exists for each value that differs from the environment's default; saving
a value equal to the default removes the row, so the environment applies again. The reserved
row ``settings.revision`` counts saves: every process re-reads the rows only when it changes
(``rmc_outreach.settings_store.live``), and saves are serialised on it, so two admins saving at
once cannot combine into values nobody checked together.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from rmc_outreach.audit import record_audit_event
from rmc_outreach.clock import now
from rmc_outreach.engine_config import EngineConfig
from rmc_outreach.models import Setting
from rmc_outreach.phones import mask_phone
from rmc_outreach.settings_store.overrides import apply_overrides, current_values

REVISION_KEY = "settings.revision"
AUDIT_ACTION = "settings.change"
# Numbers are masked in the audit trail (the trail never holds a clear phone number).
_PHONE_KEYS = frozenset(
    {"caller_ids.caller_id", "caller_ids.sms_sender", "messages.booking_number"}
)


def load_revision(session: Session) -> int:
    """How many saves have changed anything (0 before the first)."""
    value = session.scalar(select(Setting.value).where(Setting.key == REVISION_KEY))
    return int(value) if value is not None else 0


def load_overrides(session: Session) -> dict[str, Any]:
    """Every stored value, by key (the revision row left out)."""
    rows = session.execute(select(Setting.key, Setting.value).where(Setting.key != REVISION_KEY))
    return {key: value for key, value in rows}


def save_settings(
    session: Session,
    wanted: Mapping[str, Any],
    *,
    base: EngineConfig,
    actor_label: str,
    actor_user_id: int | None,
) -> dict[str, tuple[Any, Any]]:
    """Make ``wanted`` (canonical values by key, some or all settings) the values in force over
    ``base`` (the environment's configuration); returns (old, new) of each value that changed.

    The stored values after the change are checked together with ``apply_overrides`` before
    anything is written: ``SettingError`` then, and nothing changes. One audit event per save
    that changes anything, listing every change.
    """
    revision = _lock_revision(session)
    stored = load_overrides(session)
    defaults = current_values(base)
    old = current_values(apply_overrides(base, stored))
    after = dict(stored)
    for key, value in wanted.items():
        if value == defaults.get(key):
            after.pop(key, None)
        else:
            after[key] = value
    new = current_values(apply_overrides(base, after))  # raises SettingError: nothing written
    changed = {key: (old[key], new[key]) for key in wanted if old.get(key) != new.get(key)}
    if after == stored and not changed:
        return {}
    _write(session, stored, after, actor_user_id)
    revision.value = int(revision.value or 0) + 1
    revision.updated_at = now()
    revision.updated_by_user_id = actor_user_id
    if changed:
        record_audit_event(
            session,
            actor_label=actor_label,
            actor_user_id=actor_user_id,
            action=AUDIT_ACTION,
            outcome="changed",
            object_type="setting",
            detail={
                key: {"old": _audited(key, before), "new": _audited(key, value)}
                for key, (before, value) in changed.items()
            },
        )
    return changed


def _lock_revision(session: Session) -> Setting:
    """The revision row, locked for this transaction (made on the first save)."""
    row = session.scalars(
        select(Setting).where(Setting.key == REVISION_KEY).with_for_update()
    ).one_or_none()
    if row is None:
        # Two first saves at once: one insert fails on the primary key, and nothing of that
        # save is written.
        row = Setting(key=REVISION_KEY, value=0)
        session.add(row)
        session.flush()
    return row


def _write(
    session: Session, stored: Mapping[str, Any], after: Mapping[str, Any], user_id: int | None
) -> None:
    for key in stored.keys() - after.keys():
        row = session.get(Setting, key)
        if row is not None:
            session.delete(row)
    for key, value in after.items():
        if key in stored and stored[key] == value:
            continue
        row = session.get(Setting, key)
        if row is None:
            session.add(Setting(key=key, value=value, updated_by_user_id=user_id))
        else:
            row.value = value
            row.updated_at = now()
            row.updated_by_user_id = user_id
    session.flush()


def _audited(key: str, value: Any) -> Any:
    if key not in _PHONE_KEYS or not isinstance(value, str):
        return value
    digits = "".join(character for character in value if character.isdigit())
    return mask_phone(value if value.startswith("+") else "+44" + digits[1:])
