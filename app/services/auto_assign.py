"""Automatic assignment of experts to the entries of a call under review: preview, then apply."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import select

from app.engine.errors import Forbidden, ValidationFailed
from app.extensions import db
from app.i18n import zh
from app.models import Application, Call, ReviewAssignment, Role, User
from app.models.reviews import INACTIVE
from app.review.assignment import Entry, Expert, Plan, Rules, plan_assignments
from app.services.invitations import pool_ids
from app.services.programmes import current_programme, programme_of
from app.services.reviews import assign_expert

TAG_MODES = ("off", "prefer", "require")


@dataclass(frozen=True)
class AutoAssignment:
    """A plan with the rows it names, ready to show or apply."""

    plan: Plan
    entries: dict[int, Application]
    experts: dict[int, User]


def plan_for_call(call: Call, actor: User, per_entry: int, match_tags: str) -> AutoAssignment:
    """Plan N experts per entry under review in the call, respecting every conflict rule."""
    if actor.role != Role.CITY_ADMIN:
        raise Forbidden(zh("只有市级管理员可以分配评审专家"))
    if not 1 <= per_entry <= 15 or match_tags not in TAG_MODES:
        raise ValidationFailed(zh("自动分配的参数有误"), {"per_entry": zh("应为 1 到 15 的整数"),
                                                      "match_tags": "/".join(TAG_MODES)})
    entries = {a.id: a for a in db.session.scalars(
        select(Application).where(Application.call_id == call.id).order_by(Application.id))
        # live rounds are scored by panels, assigned through them
        if (r := programme_of(a).review_round(a.state)) is not None and not r.live}
    pool = pool_ids(call)  # with invitations, only the experts who accepted
    experts = {u.id: u for u in db.session.scalars(
        select(User).where(User.role == Role.EXPERT, User.active.is_(True)).order_by(User.id))
        if pool is None or u.id in pool}
    rows = db.session.execute(select(ReviewAssignment.application_id, ReviewAssignment.expert_id,
                                     ReviewAssignment.status, ReviewAssignment.round)
                              .where(ReviewAssignment.application_id.in_(entries))).all()
    # a declared conflict holds in every round; other sheets count only in the current one
    sheets = [(a, e, s) for a, e, s, r in rows if s in INACTIVE or r == entries[a].state]
    reviews = current_programme(call.programme_key).workflow["reviews"]
    rules = Rules(per_entry=per_entry, exclude_same_district=reviews["exclude_same_district"],
                  match_tags=match_tags,  # type: ignore[arg-type]
                  existing=frozenset((a, e) for a, e, s in sheets if s not in INACTIVE),
                  # a declared conflict or a withdrawal: never plan that pair again
                  declared_conflicts=frozenset((a, e) for a, e, s in sheets if s in INACTIVE))
    plan = plan_assignments(
        [Entry(a.id, a.org_id, a.district_id, tags=_entry_tags(a)) for a in entries.values()],
        [Expert(u.id, u.org_id, u.district_id, tags=frozenset(u.expertise or []))
         for u in experts.values()],
        rules)
    return AutoAssignment(plan, entries, experts)


def apply_plan(planned: AutoAssignment, actor: User) -> list[ReviewAssignment]:
    """Make the planned assignments (each checked again by assign_expert); flush, no commit."""
    return [assign_expert(planned.entries[entry], planned.experts[expert], actor)
            for entry, expert in planned.plan.pairs]


def apply_pairs(call: Call, pairs: list[tuple[int, int]], actor: User) -> list[ReviewAssignment]:
    """Make exactly the (entry, expert) pairs a preview showed, each checked again.

    Any pair that no longer passes (an expert declined, the entry moved on) refuses the whole
    set: the caller rolls back and the administrator previews again.
    """
    if actor.role != Role.CITY_ADMIN:
        raise Forbidden(zh("只有市级管理员可以分配评审专家"))
    entries = {a.id: a for a in db.session.scalars(select(Application).where(
        Application.call_id == call.id, Application.id.in_({e for e, _x in pairs})))}
    experts = {u.id: u for u in db.session.scalars(select(User).where(
        User.id.in_({x for _e, x in pairs})))}
    missing = [f"{e}:{x}" for e, x in pairs if e not in entries or x not in experts]
    if missing:
        raise ValidationFailed(zh("预览中的分配已不存在，请重新预览"),
                               {"pairs": "、".join(missing)})
    return [assign_expert(entries[e], experts[x], actor) for e, x in pairs]


def _entry_tags(application: Application) -> frozenset[str]:
    """What an entry is about: the values of its choice fields (e.g. 活动领域)."""
    form = programme_of(application).application_form
    tags: set[str] = set()
    for field in form.fields:
        value = (application.data or {}).get(field["key"])
        if field["type"] == "choice" and isinstance(value, str):
            tags.add(value)
        elif field["type"] == "multi_choice" and isinstance(value, list):
            tags.update(str(v) for v in value)
    return frozenset(tags)
