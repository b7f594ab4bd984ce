"""The one entry point that moves an application: check, guard, move, audit, act."""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import insert, select, tuple_, update
from sqlalchemy.orm.attributes import set_committed_value

from app.engine.definitions import Programme
from app.engine.errors import (
    Conflict,
    Forbidden,
    GuardsFailed,
    NotFound,
    PingshenError,
    ValidationFailed,
)
from app.engine.formdata import clean_data, missing_required
from app.engine.machines import next_state
from app.engine.registry import ACTIONS, GUARDS
from app.extensions import db
from app.i18n import joined, zh
from app.models import Application, AuditEntry, Organisation, User
from app.models.base import utcnow
from app.permissions import in_scope
from app.services.notifications import notifications_together, notify_move
from app.services.programmes import programme_of


@dataclass
class Batch:
    """Entries checked (or moved) together: a guard loads what it needs for all of them in one
    query, on first use (see guards.for_batch)."""

    applications: list[Application]
    loaded: dict[str, Any] = field(default_factory=dict)


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
    batch: Batch | None = None


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
    comment = (comment or "").strip()
    if (problem := _refused_step(transition, actor, application, comment)) is not None:
        raise problem
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


def _refused_step(transition: dict[str, Any], actor: User | None, application: Application,
                  comment: str) -> PingshenError | None:
    """Why this actor may not take this step with this comment (the error to raise), if so."""
    if not actor_may(transition, actor, application):
        return Forbidden(zh("您无权对该申报执行此操作"), {"trigger": transition["trigger"]})
    if transition["comment"] == "required" and not comment:
        return ValidationFailed(zh("请填写意见或理由"), {"comment": zh("此项为必填项")})
    if transition["comment"] == "none" and comment:
        return ValidationFailed(zh("此操作不接受意见"), {"comment": zh("此操作不接受意见")})
    return None


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


def batchable(transition: dict[str, Any]) -> bool:
    """Whether entries may be checked first and then moved together on this step: it takes no
    form, and none of its guards depends on other entries (a quota does: each move uses it)."""
    return not transition["form"] and all(GUARDS[ref["name"]].independent
                                           for ref in transition["guards"])


def refusals(applications: list[Application], trigger: str, actor: User, *,
             comment: str = "", now: datetime | None = None) -> dict[int, list[str]]:
    """Why each entry may not take ``trigger`` now (an empty list: it may), the checks of
    ``fire`` for many entries at once; guards that allow it load their data for all of them
    in one query each. Nothing is written (a guard may take a lock: the caller ends the
    transaction)."""
    now = now or utcnow()
    batch = Batch(applications)
    found: dict[int, list[str]] = {}
    for application in applications:
        programme = programme_of(application)
        transition = programme.transition(trigger, application.state)
        if transition is None:
            found[application.id] = [zh("当前状态“%(state)s”下不能执行此操作",
                                        state=programme.label(application.state))]
        elif (problem := _refused_step(transition, actor, application,
                                       comment.strip())) is not None:
            found[application.id] = [problem.message]
        elif transition["form"]:
            found[application.id] = [zh("此操作需要逐条填写表单，不能批量执行")]
        else:
            found[application.id] = guard_reasons(Context(
                application, actor, programme, transition, now, comment=comment.strip(),
                batch=batch if batchable(transition) else None))
    return found


def fire_many(applications: list[Application], trigger: str, actor: User, *, comment: str = "",
              bulk_id: str | None = None, now: datetime | None = None) -> dict[int, list[str]]:
    """Fire ``trigger`` on many entries at once; flush, never commit. Returns why each entry
    did not move (an empty list: it moved).

    For steps that are ``batchable``: every entry is checked as ``fire`` checks it (guards
    loading their data once for all), then those that pass move with one UPDATE per source
    state (each still matching the state and version it was checked in: an entry changed
    meanwhile is reported, not moved) and one INSERT of their audit rows; notifications and
    actions follow per entry, as ``fire`` does them. Pass a few hundred entries at a time.
    """
    now = now or utcnow()
    comment = (comment or "").strip()
    found = refusals(applications, trigger, actor, comment=comment, now=now)
    groups: dict[tuple[int, str], list[Application]] = defaultdict(list)
    for application in applications:
        if not found[application.id]:
            groups[(application.programme_version_id, application.state)].append(application)
    for (_version, source), group in groups.items():
        programme = programme_of(group[0])
        transition = programme.transition(trigger, source)
        assert transition is not None and batchable(transition)
        dest = next_state(programme, trigger, source)
        moved = set(db.session.scalars(
            update(Application)
            .where(tuple_(Application.id, Application.version).in_(
                [(a.id, a.version) for a in group]), Application.state == source)
            .values(state=dest, version=Application.version + 1, updated_at=now,
                    state_since=now)
            .returning(Application.id)
            .execution_options(synchronize_session=False)))
        stamp = source == programme.initial and not programme.is_final(dest)
        done = []
        for application in group:
            if application.id not in moved:
                found[application.id] = [zh("该申报的状态已被他人改变，请刷新后重试")]
                continue
            for key, value in (("state", dest), ("version", application.version + 1),
                               ("updated_at", now), ("state_since", now)):
                set_committed_value(application, key, value)
            if stamp and application.submitted_at is None:
                application.submitted_at = now
            done.append(application)
        if not done:
            continue
        db.session.execute(insert(AuditEntry), [
            {"application_id": a.id, "actor_id": actor.id, "at": now, "trigger": trigger,
             "from_state": source, "to_state": dest, "comment": comment, "data": {},
             "definition_version": programme.version, "bulk_id": bulk_id} for a in done])
        people = _load_people(done)  # held while the messages are written
        with notifications_together():
            for application in done:
                notify_move(application, programme, transition, source, actor, comment)
                ctx = Context(application, actor, programme, transition, now, comment=comment,
                              bulk_id=bulk_id)
                for ref in transition["actions"]:
                    ACTIONS[ref["name"]].func(ctx, **ref["params"])
        del people
    db.session.flush()
    return found


def _load_people(applications: list[Application]) -> list[User | Organisation]:
    """Read the entries' applicants, units and districts in two queries, into the session,
    where the messages about each entry find them without asking the database again (the
    session holds them only while someone does: keep the list)."""
    users = db.session.scalars(select(User).where(
        User.id.in_({a.applicant_id for a in applications}))).all()
    orgs = db.session.scalars(select(Organisation).where(Organisation.id.in_(
        {a.org_id for a in applications} | {a.district_id for a in applications
                                            if a.district_id is not None}))).all()
    return [*users, *orgs]
