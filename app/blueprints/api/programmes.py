"""Programme definitions and calls (批次)."""

from __future__ import annotations

from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import select

from app.blueprints.api.common import bp, get_or_404, json_body, query_int, require_role
from app.blueprints.api.serializers import call_json, programme_json, programme_summary
from app.engine.errors import NotFound, ValidationFailed
from app.extensions import db
from app.i18n import zh
from app.models import Call, ProgrammeVersion, Role
from app.services.calls import open_call
from app.services.programmes import catalogue, current_programme, pinned_programme

LOCAL = ZoneInfo("Asia/Shanghai")
CALL_FIELDS = {"programme": "string", "title": "string", "year": "integer",
               "opens_at": "string", "closes_at": "string", "quotas": "object"}


@bp.get("/programmes")
def list_programmes() -> Any:
    """The programmes defined now."""
    return [programme_summary(p) for p in sorted(catalogue().values(), key=lambda p: p.key)]


@bp.get("/programmes/<key>")
def get_programme(key: str) -> Any:
    """A programme's workflow graph, forms and rubrics (?version= for a recorded version)."""
    version = query_int("version")
    if version is None:
        return programme_json(current_programme(key))
    row = db.session.scalar(select(ProgrammeVersion).filter_by(key=key, version=version))
    if row is None:
        raise NotFound(zh("没有项目 %(key)s 的第 %(version)s 版",
                          key=key, version=version), {"programme": key, "version": version})
    return programme_json(pinned_programme(row.id))


@bp.get("/calls")
def list_calls() -> Any:
    """Every call, newest first (any logged-in user)."""
    calls = db.session.scalars(select(Call).order_by(Call.opens_at.desc(), Call.id.desc()))
    return [call_json(call) for call in calls]


@bp.post("/calls")
def create_call() -> Any:
    """Open a call for a programme, with dates and quotas per district (city administrators)."""
    user = require_role(Role.CITY_ADMIN)
    body = json_body(CALL_FIELDS, {"description": "string", "minimums": "object"})
    if body["programme"] not in catalogue():
        raise ValidationFailed(zh("没有这个项目"), {"programme": zh("没有这个项目")})
    opens_at, closes_at = _moments(body)
    call = open_call(body["programme"], body["title"], body["year"], opens_at, closes_at,
                     body["quotas"], user, body.get("description", ""),
                     body.get("minimums", {}))
    db.session.commit()
    return call_json(call), 201


@bp.get("/calls/<int:call_id>")
def get_call(call_id: int) -> Any:
    """One call."""
    return call_json(get_or_404(Call, call_id, zh("批次不存在")))


def _moments(body: dict[str, Any]) -> tuple[datetime, datetime]:
    """Parse opens_at and closes_at (ISO 8601; a time without an offset is Beijing time)."""
    moments, errors = {}, {}
    for key in ("opens_at", "closes_at"):
        try:
            moment = datetime.fromisoformat(body[key])
        except ValueError:
            errors[key] = zh("应为 ISO 8601 时间，例如 2026-03-01T09:00:00+08:00")
            continue
        moments[key] = moment if moment.tzinfo else moment.replace(tzinfo=LOCAL)
    if errors:
        raise ValidationFailed(zh("时间格式不正确"), errors)
    return moments["opens_at"], moments["closes_at"]
