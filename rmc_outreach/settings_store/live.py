"""Every process's view of the stored settings, kept fresh at the cost of one tiny read.

Workers, beat's tasks and the web all ask ``live_settings.applied(base)`` for the configuration
in force: ``base`` (the environment's) with the admin's stored values over it. At most every
``REFRESH_SECONDS`` it reads the revision row (one primary-key lookup), and the stored values
only when the revision has moved; between checks it answers from memory, so a task pays a clock
read and a comparison. A save in this process is seen at once (``invalidate``); other processes
see it within ``REFRESH_SECONDS``, without a restart.

Fails safe: when the database cannot be read the last values read stay in force; when stored
values no longer pass the checks (production's limits after a change of ``RMC_MODE``, say) the
environment's configuration is used, and the error is logged with the setting's key only.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from typing import Any

from sqlalchemy.exc import SQLAlchemyError

from rmc_outreach.db import session_scope
from rmc_outreach.engine_config import EngineConfig
from rmc_outreach.settings_store.overrides import SettingError, apply_overrides
from rmc_outreach.settings_store.store import load_overrides, load_revision

log = logging.getLogger(__name__)

REFRESH_SECONDS = 5.0


class LiveSettings:
    """The stored settings as last read, and the configurations built from them."""

    def __init__(
        self,
        refresh_seconds: float = REFRESH_SECONDS,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        self.refresh_seconds = refresh_seconds
        self.monotonic = monotonic
        self._lock = threading.Lock()
        self._checked_at: float | None = None
        self._revision: int | None = None
        self._overrides: dict[str, Any] = {}
        # id(base) -> (base, revision, built): a handful of bases per process at most.
        self._built: dict[int, tuple[EngineConfig, int | None, EngineConfig]] = {}

    def applied(self, base: EngineConfig) -> EngineConfig:
        """``base`` with the stored settings over it (``base`` itself when none are stored)."""
        with self._lock:
            self._refresh_if_due()
            revision = self._revision
            cached = self._built.get(id(base))
            if cached is not None and cached[0] is base and cached[1] == revision:
                return cached[2]
            built = self._build(base)
            if len(self._built) > 16:
                self._built.clear()
            self._built[id(base)] = (base, revision, built)
            return built

    def invalidate(self) -> None:
        """Read the stored settings again on the next ``applied`` (after a save here)."""
        with self._lock:
            self._checked_at = None

    def reset(self) -> None:
        """Forget everything read (tests switch databases)."""
        with self._lock:
            self._checked_at = None
            self._revision = None
            self._overrides = {}
            self._built.clear()

    def _refresh_if_due(self) -> None:
        moment = self.monotonic()
        if self._checked_at is not None and moment - self._checked_at < self.refresh_seconds:
            return
        self._checked_at = moment
        try:
            with session_scope(read_only=True) as session:
                revision = load_revision(session)
                if revision != self._revision:
                    self._overrides = load_overrides(session)
        except SQLAlchemyError as error:
            log.warning("could not read the stored settings (%s); keeping the last read", error)
            return
        self._revision = revision

    def _build(self, base: EngineConfig) -> EngineConfig:
        try:
            return apply_overrides(base, self._overrides)
        except SettingError as error:
            log.error(
                "stored setting %s cannot be used (%s); the environment's settings apply",
                error.key,
                error,
            )
            return base


live_settings = LiveSettings()
