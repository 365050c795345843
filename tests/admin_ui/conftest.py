"""Fixtures for the web tests: the app on the test database and the test Redis, and staff who
sign in through ``/login`` as people do.

``client`` is signed in as a supervisor (the role the queue and live pages are for); every
state-changing request it makes carries the session's CSRF token, as the pages' forms do.
``staff_client(role)`` gives a client signed in with another role; ``handler_client(id)`` one
signed in as the user of that handler record (the user is made on first use).
"""

from __future__ import annotations

import base64
import dataclasses
import hashlib
import itertools
import re
from collections.abc import Callable
from typing import Any

import pytest
import redis
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import select

from admin_ui import create_app
from rmc_outreach.config import Settings
from rmc_outreach.db import session_scope
from rmc_outreach.models import Handler, Role, User
from tests.celery_isolation import celery_isolated, isolated_celery_app

__all__ = [
    "acting_handler_client",
    "app",
    "celery_isolated",
    "client",
    "handler_client",
    "isolated_celery_app",
    "staff_client",
    "web_settings",
]

PASSWORD = "correct horse battery staple"
_usernames = itertools.count(1)


def quick_hash(password: str) -> str:
    """An scrypt hash in the stored format with a small cost (the hash names its parameters,
    so sign-in verifies it as any other): tests sign in often."""
    salt = b"test-salt-16byte"
    digest = hashlib.scrypt(password.encode(), salt=salt, n=2**4, r=8, p=1)
    encoded_salt = base64.b64encode(salt).decode()
    return f"scrypt${2**4}$8$1${encoded_salt}${base64.b64encode(digest).decode()}"


def create_staff(role: Role, *, username: str | None = None, handler_id: int | None = None) -> str:
    """A user with ``role`` and the password PASSWORD (linked to a handler record when given);
    returns the username."""
    username = username or f"{role.value}-{next(_usernames)}"
    with session_scope() as session:
        user = User(
            username=username,
            display_name=f"Test {role.value}",
            role=role,
            password_hash=quick_hash(PASSWORD),
        )
        session.add(user)
        session.flush()
        if handler_id is not None:
            handler = session.get(Handler, handler_id)
            assert handler is not None, f"no handler {handler_id}"
            handler.user_id = user.id
    return username


class StaffClient(FlaskClient):
    """A test client that sends its session's CSRF token with every state-changing request
    (header ``X-CSRFToken``, as JavaScript would) unless the request says ``csrf=False``."""

    csrf_token: str | None = None

    def open(self, *args: Any, **kwargs: Any) -> Any:
        """Add the CSRF header to POSTs (and the like) once signed in."""
        send_token = kwargs.pop("csrf", True)
        method = str(kwargs.get("method", "GET")).upper()
        if send_token and self.csrf_token and method not in ("GET", "HEAD", "OPTIONS"):
            headers = dict(kwargs.pop("headers", None) or {})
            headers.setdefault("X-CSRFToken", self.csrf_token)
            kwargs["headers"] = headers
        return super().open(*args, **kwargs)

    def fresh_csrf_token(self) -> str:
        """Ask the app for this session's CSRF token (and keep it)."""
        token: str = self.get("/api/session").get_json()["csrf_token"]
        self.csrf_token = token
        return token

    def sign_in(self, username: str, password: str = PASSWORD) -> Any:
        """Sign in through /login as a person does (the form, with its CSRF token)."""
        self.csrf_token = None
        response = self.post(
            "/login",
            data={
                "username": username,
                "password": password,
                "csrf_token": self.fresh_csrf_token(),
            },
        )
        assert response.status_code == 303, response.get_data(as_text=True)[:500]
        self.fresh_csrf_token()
        return response


@pytest.fixture
def web_settings(settings: Settings, redis_url: str) -> Settings:
    """The test settings with REDIS_URL pointing at the test Redis."""
    return dataclasses.replace(settings, redis_url=redis_url)


@pytest.fixture
def app(web_settings: Settings, redis_client: redis.Redis) -> Flask:
    """The web app, built by the factory from the test settings (on an emptied Redis, so no
    sign-in throttle counts carry over between tests)."""
    app = create_app(web_settings)
    app.test_client_class = StaffClient
    return app


def signed_in_client(app: Flask, role: Role) -> StaffClient:
    """A client of ``app`` signed in as a new user with ``role``."""
    app.test_client_class = StaffClient
    client: StaffClient = app.test_client()  # type: ignore[assignment]
    client.sign_in(create_staff(role))
    return client


@pytest.fixture
def staff_client(app: Flask) -> Callable[[Role], StaffClient]:
    """Clients signed in with a role: ``staff_client(Role.MANAGER)``."""
    return lambda role: signed_in_client(app, role)


@pytest.fixture
def client(staff_client: Callable[[Role], StaffClient]) -> StaffClient:
    """A test client signed in as a supervisor."""
    return staff_client(Role.SUPERVISOR)


class ActingHandlerClient(StaffClient):
    """A client that acts as the handler whose console each request names (``/console/<id>``,
    ``/api/console/<id>/...``): signed in as that handler's user, as that handler at their own
    browser would be. For tests of what the console does, not of who may use it (that is
    ``test_route_access``). A request naming no known handler goes as the last one signed in."""

    acting_for: int | None = None

    def open(self, *args: Any, **kwargs: Any) -> Any:
        """Sign in as the handler the path names first, when that is someone else."""
        path = args[0] if args and isinstance(args[0], str) else str(kwargs.get("path", ""))
        match = CONSOLE_PATH.match(path)
        if match and int(match.group(1)) != self.acting_for:
            username = handler_username(int(match.group(1)))
            if username is not None:
                self.sign_in(username)
                self.acting_for = int(match.group(1))
        return super().open(*args, **kwargs)


CONSOLE_PATH = re.compile(r"^/(?:api/)?console/(\d+)")


def handler_username(handler_id: int) -> str | None:
    """The username of the handler record's user, made on first use; None for no such handler."""
    with session_scope(read_only=True) as session:
        handler = session.get(Handler, handler_id)
        if handler is None:
            return None
        user_id = handler.user_id
        username = session.scalar(select(User.username).where(User.id == user_id))
    return username or create_staff(Role.HANDLER, handler_id=handler_id)


@pytest.fixture
def acting_handler_client(app: Flask) -> ActingHandlerClient:
    """A client acting as whichever handler's console it is used on (``ActingHandlerClient``)."""
    app.test_client_class = ActingHandlerClient
    client: ActingHandlerClient = app.test_client()  # type: ignore[assignment]
    app.test_client_class = StaffClient
    return client


@pytest.fixture
def handler_client(app: Flask) -> Callable[[int], StaffClient]:
    """A client signed in as the user of a handler record (made on first use), one per handler."""
    clients: dict[int, StaffClient] = {}

    def for_handler(handler_id: int) -> StaffClient:
        if handler_id not in clients:
            username = handler_username(handler_id)
            assert username is not None, f"no handler {handler_id}"
            client: StaffClient = app.test_client()  # type: ignore[assignment]
            client.sign_in(username)
            clients[handler_id] = client
        return clients[handler_id]

    return for_handler
