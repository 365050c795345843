"""Fixtures for the Celery tests."""

from tests.celery_isolation import celery_isolated, isolated_celery_app

__all__ = ["celery_isolated", "isolated_celery_app"]
