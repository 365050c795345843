"""Fixtures for the web tests: the app on the test database and the test Redis."""

from __future__ import annotations

import dataclasses

import pytest
from flask import Flask
from flask.testing import FlaskClient

from admin_ui import create_app
from rmc_outreach.config import Settings
from tests.celery_isolation import celery_isolated, isolated_celery_app

__all__ = ["app", "celery_isolated", "client", "isolated_celery_app", "web_settings"]


@pytest.fixture
def web_settings(settings: Settings, redis_url: str) -> Settings:
    """The test settings with REDIS_URL pointing at the test Redis."""
    return dataclasses.replace(settings, redis_url=redis_url)


@pytest.fixture
def app(web_settings: Settings) -> Flask:
    """The web app, built by the factory from the test settings."""
    return create_app(web_settings)


@pytest.fixture
def client(app: Flask) -> FlaskClient:
    """A test client for the web app."""
    return app.test_client()
