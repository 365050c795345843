"""Keep tests from publishing Celery tasks by accident.

The fixture makes the current Celery app one whose broker is a transport that does not exist. A
test that enqueues a task without meaning to (``task.delay()`` deep inside the code under test)
fails at once with ``KeyError: 'No such transport: celery-is-not-isolated-in-this-test'`` instead
of talking to a real broker or hanging on connection retries. Tasks under test are run by calling
the task object directly, in-process; eager mode is not used because it would hide the "enqueue
only after commit" ordering that real publishing has.

Import ``celery_isolated`` into a conftest.py to apply it to every test below that folder.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from celery import Celery

from rmc_outreach.config import load_settings
from workers.celery_app import create_celery_app

NOT_ISOLATED_BROKER_URL = "celery-is-not-isolated-in-this-test://"


@pytest.fixture(scope="session")
def isolated_celery_app(tmp_path_factory: pytest.TempPathFactory) -> Celery:
    """A Celery app that cannot publish: its broker and result backend do not exist."""
    var_dir: Path = tmp_path_factory.mktemp("celery-var")
    settings = load_settings({"RMC_VAR_DIR": str(var_dir), "SECRET_KEY": "test-" + "x" * 40})
    return create_celery_app(settings, broker_url=NOT_ISOLATED_BROKER_URL)


@pytest.fixture(autouse=True)
def celery_isolated(isolated_celery_app: Celery) -> Iterator[Celery]:
    """Before every test, make the unpublishable app the current and default Celery app."""
    isolated_celery_app.set_current()
    isolated_celery_app.set_default()
    yield isolated_celery_app
    isolated_celery_app.set_current()
    isolated_celery_app.set_default()
