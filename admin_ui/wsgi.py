"""The WSGI entry point: ``gunicorn admin_ui.wsgi:app``."""

from __future__ import annotations

from admin_ui import create_app

app = create_app()
