"""The one entry point that moves an application: check, guard, move, audit, act."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import update

from app.engine.definitions import Programme
from app.engine.errors import Conflict, Forbidden, GuardsFailed, NotFound, ValidationFailed
from app.engine.formdata import clean_data, missing_required
from app.engine.machines import next_state
from app.engine.registry import ACTIONS, GUARDS
from app.extensions import db
from app.i18n import joined, zh
from app.models import Application, AuditEntry, User
from app.models.base import utcnow
from app.permissions import in_scope
from app.services.notifications import notify_move
from app.services.programmes import programme_of


@dataclass
class Context:
    """What guards and actions see: the entry, the actor, the step and its input."""

    application: Application
    actor: User | None
    programme: Programme
    transition: dict[str, Any]
    now: datetime
    data: dict[str, Any] = field(default_factory=dict)
    comment: str = ""
    bulk_id: str | None = None


@dataclass(frozen=True)
class Availability:
    """A transition the actor's role could fire now, whether its guards allow it, and why not."""

    transition: dict[str, Any]
    allowed: bool
    reasons: list[str]

    @property
    def trigger(self) -> str:
        """The trigger name."""
        return str(self.transition["trigger"])


def actor_may(transition: dict[str, Any], actor: User | None, application: Application) -> bool:
    """Role and organisational scope: may this actor fire this transition on this entry?"""
    if actor is None:  # the system (scheduled ticks) acts for any role
        return True
    return actor.role in transition["roles"] and in_scope(actor, application)


def guard_reasons(ctx: Context) -> list[str]:
    """Evaluate every guard of the step; return the reasons of those that refuse."""
    reasons = []
    for ref in ctx.transition["guards"]:
        reason = GUARDS[ref["name"]].func(ctx, **ref["params"])
        if reason:
            reasons.append(str(reason))
    return reasons


def available_transitions(application: Application, actor: User,
                          now: datetime | None = None) -> list[Availability]:
    """The moves the actor's role could make from the current state, with guard results."""
    programme = programme_of(application)
    result = []
    for transition in programme.transitions_from(application.state):
        if not actor_may(transition, actor, application):
            continue
        ctx = Context(application, actor, programme, transition, now or utcnow())
        reasons = guard_reasons(ctx)
        result.append(Availability(transition, not reasons, reasons))
    return result


def fitting_comment(application: Application, trigger: str, text: str) -> str:
    """``text`` as the comment of an automatic or derived step, or nothing where the step takes
    no comment (the engine refuses one there)."""
    transition = programme_of(application).transition(trigger, application.state)
    return "" if transition is not None and transition["comment"] == "none" else text


def fire(application: Application, trigger: str, actor: User | None, *, comment: str = "",
         data: dict[str, Any] | None = None, bulk_id: str | None = None,
         expected_version: int | None = None, now: datetime | None = None) -> AuditEntry:
    """Fire `trigger` on `application` for `actor`; flush, never commit.

    Raises Forbidden, ValidationFailed, GuardsFailed or Conflict; on success the state
    has moved with an optimistic check, the audit row is written, the actions have run and
    the people concerned have their notifications (and outbox e-mails) in this transaction.
    """
    programme = programme_of(application)
    transition = _find(programme, application, trigger)
    if not actor_may(transition, actor, application):
        raise Forbidden(zh("您无权对该申报执行此操作"), {"trigger": trigger})
    comment = (comment or "").strip()
    if transition["comment"] == "required" and not comment:
        raise ValidationFailed(zh("请填写意见或理由"), {"comment": zh("此项为必填项")})
    if transition["comment"] == "none" and comment:
        raise ValidationFailed(zh("此操作不接受意见"), {"comment": zh("此操作不接受意见")})
    ctx = Context(application, actor, programme, transition, now or utcnow(),
                  _step_data(programme, transition, data), comment, bulk_id)
    reasons = guard_reasons(ctx)
    if reasons:
        raise GuardsFailed(zh("不满足操作条件：%(reasons)s", reasons=joined(reasons, "；")),
                           {"reasons": reasons})
    db.session.flush()
    source, version = application.state, application.version
    if expected_version is not None and expected_version != version:
        raise Conflict(zh("该申报已被他人修改，请刷新后重试"), {"version": version})
    dest = next_state(programme, trigger, source)
    moved = db.session.execute(
        update(Application)
        .where(Application.id == application.id, Application.state == source,
               Application.version == version)
        .values(state=dest, version=version + 1, updated_at=ctx.now, state_since=ctx.now)
        .execution_options(synchronize_session="fetch")
    )
    if moved.rowcount != 1:  # type: ignore[attr-defined]
        db.session.refresh(application)
        raise Conflict(zh("该申报的状态已被他人改变，请刷新后重试"),
                       {"state": application.state, "expected_state": source})
    if transition["form"]:
        application.step_data = {**application.step_data, transition["form"]: ctx.data}
    if source == programme.initial and not programme.is_final(dest) \
            and application.submitted_at is None:
        application.submitted_at = ctx.now  # first submitted: from now on the district sees it
    entry = AuditEntry(application=application, actor=actor, at=ctx.now, trigger=trigger,
                       from_state=source, to_state=dest, comment=comment, data=ctx.data,
                       definition_version=programme.version, bulk_id=bulk_id)
    db.session.add(entry)
    notify_move(application, programme, transition, source, actor, comment)  # same transaction
    for ref in transition["actions"]:
        ACTIONS[ref["name"]].func(ctx, **ref["params"])
    db.session.flush()
    return entry


def _find(programme: Programme, application: Application, trigger: str) -> dict[str, Any]:
    """The transition for `trigger` from the current state; explain why when there is none."""
    transition = programme.transition(trigger, application.state)
    if transition is not None:
        return transition
    if not programme.has_trigger(trigger):
        raise NotFound(zh("该项目没有此操作：%(trigger)s", trigger=trigger), {"trigger": trigger})
    raise Conflict(zh("当前状态“%(state)s”下不能执行此操作",
                      state=programme.label(application.state)),
                   {"state": application.state, "trigger": trigger})


def _step_data(programme: Programme, transition: dict[str, Any],
               data: dict[str, Any] | None) -> dict[str, Any]:
    """Validate the data entered with a step against the step's form (all required)."""
    if not transition["form"]:
        if data:
            raise ValidationFailed(zh("此操作不需要填写表单"), {"data": "unexpected"})
        return {}
    form = programme.forms[transition["form"]]
    clean, errors = clean_data(form, data or {})
    errors.update({k: v for k, v in missing_required(form, clean, {}).items() if k not in errors})
    if errors:
        raise ValidationFailed(zh("表单填写有误，请检查标出的字段"), errors)
    return clean
