"""Security headers on every response, and pages that need no inline script or style."""

from __future__ import annotations

import pytest
from flask.testing import FlaskClient
from sqlalchemy import Engine

from rmc_outreach.db import session_scope
from tests.admin_ui.pages import read_queue_page
from tests.factories import create_referral

EXPECTED_CSP = "default-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'self'"


@pytest.mark.parametrize(
    "path", ["/", "/api/queue", "/healthz", "/static/app.css", "/no-such-page"]
)
def test_every_response_carries_the_security_headers(
    database: Engine, client: FlaskClient, path: str
) -> None:
    response = client.get(path)

    assert response.headers["Content-Security-Policy"] == EXPECTED_CSP
    assert response.headers["X-Content-Type-Options"] == "nosniff"
    assert response.headers["Referrer-Policy"] == "no-referrer"


@pytest.mark.parametrize("path", ["/", "/api/queue", "/healthz"])
def test_pages_that_can_show_personal_data_are_never_cached(
    database: Engine, client: FlaskClient, path: str
) -> None:
    assert client.get(path).headers["Cache-Control"] == "no-store"


def test_the_stylesheet_and_script_are_served_by_the_app_itself(
    database: Engine, client: FlaskClient
) -> None:
    for path, content_type in (
        ("/static/app.css", "text/css"),
        ("/static/refresh.js", "text/javascript"),
    ):
        response = client.get(path)
        assert response.status_code == 200
        assert response.mimetype == content_type
        assert "no-store" not in response.headers.get("Cache-Control", "")
        response.close()


def test_the_queue_page_has_no_inline_script_or_style(
    database: Engine, client: FlaskClient
) -> None:
    with session_scope() as session:
        create_referral(session, specialty="Dermatology")

    html = client.get("/").get_data(as_text=True)
    page = read_queue_page(html)

    assert page.scripts, "the refresh script should be on the page"
    assert all((script.get("src") or "").startswith("/static/") for script in page.scripts)
    assert page.style_attributes == 0
    assert page.style_elements == 0
    assert "http://" not in html and "https://" not in html  # no CDN, nothing off-site
