"""Celery worker and beat: thin tasks that call ``rmc_outreach``.

Run with ``celery -A workers.celery_app worker`` and ``celery -A workers.celery_app beat``.
"""
