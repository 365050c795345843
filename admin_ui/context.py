"""What views need from the running app, reached through Flask's ``current_app``."""

from __future__ import annotations

from functools import lru_cache

from flask import current_app

from rmc_outreach.config import Settings
from rmc_outreach.engine_config import EngineConfig, engine_config
from rmc_outreach.settings_store.live import live_settings

SETTINGS_EXTENSION = "rmc_outreach.settings"


def current_settings() -> Settings:
    """The settings the app was created with."""
    settings: Settings = current_app.extensions[SETTINGS_EXTENSION]
    return settings


@lru_cache(maxsize=8)
def _engine_config(settings: Settings) -> EngineConfig:
    return engine_config(settings)


def base_engine_config() -> EngineConfig:
    """The engine configuration from the environment alone (the defaults an admin's stored
    settings override)."""
    return _engine_config(current_settings())


def current_engine_config() -> EngineConfig:
    """The engine configuration the app's settings give: the calling window, the print cut
    time and the limits the engine itself runs by (built once per settings), with the settings
    an admin has stored over it (``rmc_outreach.settings_store.live``)."""
    return live_settings.applied(_engine_config(current_settings()))
