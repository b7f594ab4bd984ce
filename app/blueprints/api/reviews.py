"""Expert assignments and score sheets, and bulk transitions for administrators."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import joinedload, selectinload

from app.blueprints.api.common import (
    api_user,
    application_ids,
    bp,
    get_or_404,
    json_body,
    require_role,
    viewable_application,
)
from app.blueprints.api.serializers import assignment_json, review_json, reviews_json
from app.engine.errors import Forbidden, ValidationFailed
from app.extensions import db
from app.i18n import zh
from app.models import Application, Call, ReviewAssignment, Role, User
from app.permissions import can_view_application
from app.services.auto_assign import apply_plan, plan_for_call
from app.services.bulk import BulkItem, bulk_fire
from app.services.programmes import programme_of
from app.services.reviews import (
    assign_expert,
    assignments_for,
    reopen_sheet,
    save_review,
    withdraw_assignment,
)
from app.services.reviews import declare_conflict as record_conflict


@bp.get("/applications/<int:application_id>/assignments")
def list_assignments(application_id: int) -> Any:
    """The experts assigned to an application and how far they are (city administrators)."""
    require_role(Role.CITY_ADMIN)
    application = viewable_application(application_id)
    sheets = db.session.scalars(select(ReviewAssignment).where(
        ReviewAssignment.application_id == application.id).order_by(ReviewAssignment.id))
    return [assignment_json(sheet) for sheet in sheets]


@bp.post("/applications/<int:application_id>/assignments")
def create_assignment(application_id: int) -> Any:
    """Ask an expert (by username) to score an application under review (city administrators)."""
    user = require_role(Role.CITY_ADMIN)
    application = viewable_application(application_id)
    body = json_body({"expert": "string"}, {"extra": "boolean"})
    expert = db.session.scalar(select(User).filter_by(username=body["expert"]))
    if expert is None:
        raise ValidationFailed(zh("没有这个用户"), {"expert": zh("没有这个用户")})
    sheet = assign_expert(application, expert, user, extra=body.get("extra", False))
    db.session.commit()
    return assignment_json(sheet), 201


@bp.get("/reviews")
def list_reviews() -> Any:
    """The caller's score sheets, open ones first (experts)."""
    expert = require_role(Role.EXPERT)
    return reviews_json(assignments_for(
        expert, joinedload(ReviewAssignment.application),
        joinedload(ReviewAssignment.withdrawn_by), selectinload(ReviewAssignment.revisions)),
        expert)


@bp.get("/reviews/<int:review_id>")
def get_review(review_id: int) -> Any:
    """One score sheet: its expert, or a city administrator."""
    sheet = get_or_404(ReviewAssignment, review_id, zh("评审任务不存在"))
    user = api_user()
    if sheet.expert_id != user.id and user.role != Role.CITY_ADMIN:
        raise Forbidden(zh("这不是您的评审任务"), {"review_id": review_id})
    return review_json(sheet, api_user())


@bp.put("/reviews/<int:review_id>")
def put_review(review_id: int) -> Any:
    """Save the expert's scores as a draft, or submit them; a submitted sheet is locked (409)."""
    sheet, user = _own_sheet(review_id)
    body = json_body({"scores": "object"},
                     {"comment": "string", "submit": "boolean", "vetoes": "array"})
    vetoes = body.get("vetoes", [])
    if not all(isinstance(key, str) for key in vetoes):
        raise ValidationFailed(zh("否决项应为字符串列表"), {"vetoes": zh("应为字符串列表")})
    save_review(sheet, user, body["scores"], body.get("comment", ""), body.get("submit", False),
                vetoes=vetoes)
    db.session.commit()
    return review_json(sheet, api_user())


@bp.post("/reviews/<int:review_id>/conflict")
def declare_conflict(review_id: int) -> Any:
    """Confirm no conflict of interest (the materials open), or declare one and withdraw."""
    sheet, user = _own_sheet(review_id)
    body = json_body({"conflict": "boolean"}, {"reason": "string"})
    record_conflict(sheet, user, body["conflict"], body.get("reason", ""))
    db.session.commit()
    return review_json(sheet, api_user())


@bp.post("/bulk-transitions")
def bulk_transition() -> Any:
    """Check (dry run, the default) or fire one trigger on many applications, item by item."""
    user = require_role(Role.CITY_ADMIN, Role.DISTRICT_ADMIN)
    body = json_body({"application_ids": "array", "trigger": "string"},
                     {"comment": "string", "dry_run": "boolean"})
    ids = application_ids(body["application_ids"])
    hidden = _hidden_ids(ids, user)
    result = bulk_fire([i for i in ids if i not in hidden], body["trigger"], user,
                       comment=body.get("comment", ""), dry_run=body.get("dry_run", True))
    by_id = {item.application_id: item for item in result.items}
    items = [by_id.get(i) or BulkItem(i, "", False, reasons=[zh("您无权访问该申报")]) for i in ids]
    return {"bulk_id": result.bulk_id, "dry_run": result.dry_run, "passed": result.passed,
            "items": [_bulk_item(item, item.application_id not in hidden) for item in items]}


def _hidden_ids(ids: list[int], user: User) -> set[int]:
    """The ids of existing applications the user may not see: reported, never touched."""
    apps = db.session.scalars(select(Application).where(Application.id.in_(ids)))
    return {app.id for app in apps if not can_view_application(user, app)}


def _bulk_item(item: BulkItem, visible: bool) -> dict[str, Any]:
    """One item of a bulk result, with the application's state now (after a real run)."""
    application = db.session.get(Application, item.application_id) if visible else None
    return {"application_id": item.application_id, "title": item.title, "ok": item.ok,
            "state": application.state if application else None,
            "state_label": programme_of(application).label(application.state)
            if application else None,
            "reasons": list(item.reasons)}


@bp.post("/calls/<int:call_id>/auto-assign")
def auto_assign(call_id: int) -> Any:
    """Plan N experts per entry under review (dry run, the default) or make the assignments."""
    require_role(Role.CITY_ADMIN)
    call = get_or_404(Call, call_id, zh("批次不存在"))
    body = json_body({}, {"per_entry": "integer", "match_tags": "string", "dry_run": "boolean"})
    planned = plan_for_call(call, api_user(), body.get("per_entry", 3),
                            body.get("match_tags", "prefer"))
    dry_run = body.get("dry_run", True)
    if not dry_run:
        apply_plan(planned, api_user())
        db.session.commit()
    plan = planned.plan
    return {"dry_run": dry_run,
            "assignments": [{"application_id": entry, "expert": planned.experts[expert].username}
                            for entry, expert in plan.pairs],
            "loads": {planned.experts[e].username: n for e, n in sorted(plan.loads.items())},
            "unfilled": [{"application_id": entry, "missing": n,
                          "reason": plan.reasons.get(entry, "")}
                         for entry, n in sorted(plan.unfilled.items())],
            "warnings": list(plan.warnings)}


@bp.post("/reviews/<int:review_id>/reopen")
def reopen_review(review_id: int) -> Any:
    """Return a submitted sheet to its expert, keeping the submitted one (city administrators)."""
    require_role(Role.CITY_ADMIN)
    sheet = get_or_404(ReviewAssignment, review_id, zh("评审任务不存在"))
    body = json_body({"reason": "string"})
    reopen_sheet(sheet, api_user(), body["reason"])
    db.session.commit()
    return review_json(sheet, api_user())


@bp.post("/reviews/<int:review_id>/withdraw")
def withdraw_review(review_id: int) -> Any:
    """Take an unsubmitted sheet back from its expert (city administrators), kept on record."""
    user = require_role(Role.CITY_ADMIN)
    sheet = get_or_404(ReviewAssignment, review_id, zh("评审任务不存在"))
    body = json_body({"reason": "string"})
    withdraw_assignment(sheet, user, body["reason"])
    db.session.commit()
    return review_json(sheet, user)


def _own_sheet(review_id: int) -> tuple[ReviewAssignment, User]:
    """Load a score sheet that belongs to the calling expert (403 for anyone else's)."""
    sheet = get_or_404(ReviewAssignment, review_id, zh("评审任务不存在"))
    user = api_user()
    if sheet.expert_id != user.id:
        raise Forbidden(zh("这不是您的评审任务"), {"review_id": review_id})
    return sheet, user
