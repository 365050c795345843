"""What views need from the running app, reached through Flask's ``current_app``."""

from __future__ import annotations

from flask import current_app

from rmc_outreach.config import Settings

SETTINGS_EXTENSION = "rmc_outreach.settings"


def current_settings() -> Settings:
    """The settings the app was created with."""
    settings: Settings = current_app.extensions[SETTINGS_EXTENSION]
    return settings
