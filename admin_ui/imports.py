"""Imports in the browser: upload a worklist CSV, watch it being imported, read the result.

``/imports`` has the upload form and the history; an upload (POST, multipart, CSRF-checked by
``admin_ui.access``, at most ``MAX_CONTENT_LENGTH`` bytes) is stored and committed as a job,
then the import task is queued (``rmc_outreach.import_jobs``): the import runs in a worker.
``/imports/<id>`` shows the job: a progress bar while it runs (updated by ``imports.js`` from
``/api/imports/<id>``; without JavaScript a link reloads the page) and then the result, with
the rejected rows (row, column, reason: never a cell's value) and ``/imports/<id>/errors.csv``.
Uploads and error downloads are audited. When the task queue cannot be reached the job is kept
as "not queued" and the page says so, with a button to queue it again.
"""

from __future__ import annotations

import logging
from collections.abc import Callable

from flask import (
    Blueprint,
    Flask,
    Response,
    abort,
    current_app,
    jsonify,
    redirect,
    render_template,
    request,
    url_for,
)
from werkzeug.exceptions import RequestEntityTooLarge
from werkzeug.wrappers import Response as BaseResponse

from admin_ui.access import current_identity
from admin_ui.context import current_settings
from rmc_outreach import import_jobs
from rmc_outreach.db import session_scope
from rmc_outreach.import_history import (
    ImportJobView,
    errors_csv,
    job_history,
    job_view,
    record_errors_download,
)
from workers.queues import TaskNames

log = logging.getLogger(__name__)

blueprint = Blueprint("imports", __name__)

ENQUEUE_IMPORT_EXTENSION = "rmc_outreach.enqueue_import"
FILE_FIELD = "worklist"
POLL_SECONDS = 2
PUBLISH_RETRY_POLICY = {
    "max_retries": 1,
    "interval_start": 0,
    "interval_step": 0.5,
    "interval_max": 0.5,
}

EnqueueImport = Callable[[int], None]


def celery_enqueue_import(job_id: int) -> None:
    """Publish the import task on the worker's Celery app (routed to the imports queue).

    A person is waiting for the answer: with the broker down this fails within a second or so
    (one quick retry) instead of Celery's default retries, and no result backend is touched
    (the job row is the result), which would otherwise block for many seconds more."""
    from workers.celery_app import app as celery_app

    celery_app.send_task(
        TaskNames.RUN_IMPORT,
        args=[job_id],
        ignore_result=True,
        retry=True,
        retry_policy=PUBLISH_RETRY_POLICY,
    )


def install(app: Flask) -> None:
    """How uploads are queued (tests put their own in ``app.extensions``)."""
    app.extensions.setdefault(ENQUEUE_IMPORT_EXTENSION, celery_enqueue_import)


@blueprint.app_template_filter("file_size")
def file_size(size: int) -> str:
    """A size in bytes for people: "812 bytes", "4.2 KB", "12.5 MB"."""
    if size < 1024:
        return f"{size} bytes"
    if size < 1024 * 1024:
        return f"{size / 1024:.1f} KB"
    return f"{size / (1024 * 1024):.1f} MB"


def _enqueue(job_id: int) -> bool:
    """Queue the job's task (after its row is committed); on failure mark it not queued."""
    enqueue: EnqueueImport = current_app.extensions[ENQUEUE_IMPORT_EXTENSION]
    try:
        enqueue(job_id)
    except Exception as error:
        log.error("import job %s could not be queued: %s", job_id, type(error).__name__)
        with session_scope() as session:
            import_jobs.mark_not_queued(session, job_id)
        return False
    return True


def _upload_page(error: str | None = None, status: int = 200) -> tuple[str, int]:
    with session_scope(read_only=True) as session:
        history = job_history(session)
    page = render_template(
        "imports.html",
        history=history,
        error=error,
        file_field=FILE_FIELD,
        max_bytes=current_settings().intake_max_bytes,
        max_rows=current_settings().intake_max_rows,
    )
    return page, status


@blueprint.get("/imports")
def imports_page() -> tuple[str, int]:
    """The upload form and the latest uploads."""
    return _upload_page()


@blueprint.errorhandler(RequestEntityTooLarge)
def upload_too_large(_error: RequestEntityTooLarge) -> tuple[str, int]:
    """An upload over the size limit: the form again, saying so (nothing stored)."""
    limit = current_settings().intake_max_bytes
    return _upload_page(
        f"The file is larger than the limit of {file_size(limit)}: split it and upload the "
        "parts one at a time.",
        413,
    )


@blueprint.post("/imports")
def upload() -> tuple[str, int] | BaseResponse:
    """Store an uploaded worklist as a job, queue its import, and show the job's page."""
    user = current_identity()
    if user is None:  # the access rule has already refused anonymous requests
        abort(403)
    uploaded = request.files.get(FILE_FIELD)
    if uploaded is None or not uploaded.filename:
        return _upload_page("Choose a CSV file to upload.", 422)
    data = uploaded.read()
    if not data:
        return _upload_page("The file is empty: choose the worklist CSV file.", 422)
    with session_scope() as session:
        job_id = import_jobs.accept_upload(
            session,
            data,
            filename=uploaded.filename,
            var_dir=current_settings().var_dir,
            user_id=user.id,
            actor_label=user.actor_label,
        )
    _enqueue(job_id)
    return redirect(url_for("imports.import_page", job_id=job_id), 303)


def _job_or_404(job_id: int) -> ImportJobView:
    with session_scope(read_only=True) as session:
        view = job_view(session, job_id)
    if view is None:
        abort(404)
    return view


@blueprint.get("/imports/<int:job_id>")
def import_page(job_id: int) -> str:
    """One upload: its progress while it runs, then what was imported and what was rejected."""
    return render_template("import_job.html", job=_job_or_404(job_id), poll_seconds=POLL_SECONDS)


@blueprint.get("/api/imports/<int:job_id>")
def import_progress(job_id: int) -> Response:
    """The job's progress as JSON (counts and states only), for the page's poll."""
    return jsonify(_job_or_404(job_id).progress_json())


@blueprint.get("/imports/<int:job_id>/errors.csv")
def import_errors(job_id: int) -> Response:
    """The rejected rows as CSV (row, column, reason; cells neutralised); audited."""
    view = _job_or_404(job_id)
    user = current_identity()
    with session_scope() as session:
        record_errors_download(
            session,
            job_id,
            actor_label=user.actor_label if user else "unknown",
            actor_user_id=user.id if user else None,
        )
    return Response(
        errors_csv(view),
        mimetype="text/csv",
        headers={"Content-Disposition": f'attachment; filename="import-{job_id}-errors.csv"'},
    )


@blueprint.post("/imports/<int:job_id>/retry")
def retry(job_id: int) -> BaseResponse:
    """Queue a job again that could not be queued (audited); any other job is left as it is."""
    user = current_identity()
    if user is None:
        abort(403)
    _job_or_404(job_id)
    with session_scope() as session:
        requeued = import_jobs.requeue(
            session, job_id, actor_label=user.actor_label, user_id=user.id
        )
    if requeued:
        _enqueue(job_id)
    return redirect(url_for("imports.import_page", job_id=job_id), 303)
