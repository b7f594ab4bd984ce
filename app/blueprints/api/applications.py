"""Applications: list, create, read, change the form data, fire transitions."""

from __future__ import annotations

from typing import Any

from flask import request
from sqlalchemy.orm import selectinload

from app.blueprints.api.common import (
    api_user,
    bp,
    editable_application,
    find,
    idempotency_key,
    json_body,
    query_int,
    require_role,
    viewable_application,
)
from app.blueprints.api.serializers import (
    application_json,
    application_summaries,
    history_json,
)
from app.engine.errors import ValidationFailed
from app.engine.runtime import fire
from app.extensions import db
from app.i18n import zh
from app.models import Application, Call, Role
from app.services.applications import create_application, update_data, visible_applications
from app.services.programmes import programme_of

MAX_PER_PAGE = 100


@bp.get("/applications")
def list_applications() -> Any:
    """The applications the caller may see, newest first; ?call_id= ?state= ?page= ?per_page=."""
    user = api_user()
    query = visible_applications(user).options(
        selectinload(Application.applicant), selectinload(Application.org),
        selectinload(Application.district))
    if (call_id := query_int("call_id")) is not None:
        query = query.where(Application.call_id == call_id)
    if state := request.args.get("state", "").strip():
        query = query.where(Application.state == state)
    page = query_int("page", 1) or 1
    per_page = min(query_int("per_page", 20) or 20, MAX_PER_PAGE)
    result = db.paginate(query, page=page, per_page=per_page, error_out=False, count=True)
    return {"items": application_summaries(list(result.items), user), "page": page,
            "per_page": per_page, "total": result.total}


@bp.post("/applications", endpoint="create_application")
def start_application() -> Any:
    """Start a draft in an open call (applicants); the data is checked field by field.

    With an ``Idempotency-Key`` header, a repeat of the request (a retry after a lost answer,
    ten at once) answers with the draft the first one started.
    """
    user = require_role(Role.APPLICANT)
    body = json_body({"call_id": "integer"}, {"data": "object"})
    key = idempotency_key()
    call = find(Call, body["call_id"])
    if call is None:
        raise ValidationFailed(zh("批次不存在"), {"call_id": zh("没有这个批次")})
    application = create_application(call, user, body.get("data", {}), key=key)
    db.session.commit()
    return application_json(application, user), 201


@bp.get("/applications/<int:application_id>")
def get_application(application_id: int) -> Any:
    """One application with its history, files, certificates and the caller's possible moves."""
    return application_json(viewable_application(application_id), api_user())


@bp.patch("/applications/<int:application_id>")
def patch_application(application_id: int) -> Any:
    """Merge form data into a draft (a null value clears a field); all or nothing."""
    application = editable_application(application_id)
    user = api_user()
    body = json_body({"data": "object"}, {"version": "integer"})
    update_data(application, user, body["data"], body.get("version"))
    db.session.commit()
    return application_json(application, user)


@bp.post("/applications/<int:application_id>/transitions")
def transition(application_id: int) -> Any:
    """Fire a trigger for the caller; the engine checks role, scope, guards and version."""
    application = viewable_application(application_id)
    body = json_body({"trigger": "string"},
                     {"comment": "string", "data": "object", "version": "integer"})
    entry = fire(application, body["trigger"], api_user(), comment=body.get("comment", ""),
                 data=body.get("data"), expected_version=body.get("version"))
    db.session.commit()
    return {"id": application.id, "state": application.state,
            "state_label": programme_of(application).label(application.state),
            "version": application.version, "history_entry": history_json(entry)}
