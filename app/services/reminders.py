"""Reminders before and after deadlines, and escalation to the administrators — each once.

Review rounds: when the city set a deadline for a round of a call, each expert with score sheets
still open (of entries still in the round) is reminded ``REMINDER_BEFORE_DAYS`` before it
(only the nearest offset that has come: a deadline set for tomorrow does not get the three-day
reminder), once more when it has passed, and ``ESCALATE_AFTER_DAYS`` after it the city
administrators get the list of missing sheets.

Stages: when an entry's state has a ``deadline``, whoever must act there is reminded the same
days before it — the applicant in an editable or reporting (``fill``) state, else the
administrators who take its steps; nobody in a public notice, which ends by itself. If the entry
is still there once the deadline has passed (the system's step was refused, e.g. an objection is
open), they are told, and ``ESCALATE_AFTER_DAYS`` later the administrator above them.

Each reminder first inserts its ``ReminderLog`` row (what, which kind, the deadline, the offset)
with ON CONFLICT DO NOTHING and notifies only if that insert took the row, in the same
transaction: a reminder is never sent twice, also by ticks running at the same time, and a
deadline that moves gets reminders of its own. The tick (``flask workflows tick`` and the
worker's minute job) runs this right after firing the deadlines that are due.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from datetime import datetime, timedelta
from functools import partial
from typing import Any

from flask import current_app
from sqlalchemy import select

from app.engine.definitions import Programme
from app.extensions import db
from app.i18n import localised, round_label, zh
from app.models import Application, Call, CallRound, ReminderLog, ReviewAssignment, User
from app.models.base import insert_ignoring_duplicates, utcnow
from app.services.notifications import (
    actors,
    city_admins,
    district_admins,
    entry_values,
    local_text,
    notify,
    recipients,
    site_path,
    state_label,
)
from app.services.programmes import entries_in_states_with, programme_of
from app.services.timers import deadline_of

OPEN_SHEETS = ("assigned", "draft")


@dataclass(frozen=True)
class Sent:
    """One reminder that went out: about what, which kind, to how many people."""

    subject: str
    kind: str
    offset_days: int
    recipients: int


def run_reminders(now: datetime | None = None) -> list[Sent]:
    """Send every reminder that is due at ``now`` and was not sent before; commit each."""
    now = now or utcnow()
    return _review_reminders(now) + _stage_reminders(now)


def before_offset(deadline: datetime, now: datetime) -> int | None:
    """The nearest ``REMINDER_BEFORE_DAYS`` offset whose time has come (negative days), if the
    deadline has not passed yet."""
    days = [d for d in current_app.config["REMINDER_BEFORE_DAYS"]
            if deadline - timedelta(days=d) <= now < deadline]
    return -min(days) if days else None


def escalation_due(deadline: datetime, now: datetime) -> int | None:
    """The escalation offset (days after the deadline), once it has come."""
    days = int(current_app.config["ESCALATE_AFTER_DAYS"])
    return days if now >= deadline + timedelta(days=days) else None


def _review_reminders(now: datetime) -> list[Sent]:
    """Experts with open sheets in rounds with a deadline; then the city, past the delay."""
    sent = []
    rounds = db.session.scalars(select(CallRound).where(
        CallRound.deadline.is_not(None), CallRound.closed_at.is_(None)).order_by(CallRound.id))
    for record in list(rounds):
        deadline = record.deadline
        assert deadline is not None
        earliest = max(current_app.config["REMINDER_BEFORE_DAYS"], default=0)
        if now < deadline - timedelta(days=earliest):
            continue
        by_expert = _open_sheets(record)
        if not by_expert:
            continue
        values = _round_values(record)
        for expert, sheets in by_expert.items():
            subject = f"round:{record.id}:expert:{expert.id}"
            values["count"] = str(len(sheets))
            before = before_offset(deadline, now)
            if before is not None:
                sent += _once(subject, "review_due", deadline, before, [expert], values)
            if now >= deadline:
                sent += _once(subject, "review_overdue", deadline, 0, [expert], values)
        if (late := escalation_due(deadline, now)) is not None:
            missing = sorted(by_expert.items(), key=lambda item: item[0].id)
            values = {**values, "count": str(sum(len(s) for _e, s in missing)),
                      "experts": partial(_missing_sheets, missing)}
            link = site_path("admin.round_page", call_id=record.call_id, name=record.round)
            sent += _once(f"round:{record.id}", "review_escalation", deadline, late,
                          city_admins(), values, link)
    return sent


def _missing_sheets(missing: list[tuple[User, list[ReviewAssignment]]]) -> str:
    """The experts with sheets still open, one a line, in the reader's language."""
    return "\n".join(zh("%(name)s（%(username)s）：%(count)s 份", name=expert.display_name,
                        username=expert.username, count=len(sheets))
                     for expert, sheets in missing)


def _open_sheets(record: CallRound) -> dict[User, list[ReviewAssignment]]:
    """The round's unsubmitted active sheets of entries still in it, by expert."""
    sheets = db.session.scalars(
        select(ReviewAssignment).join(Application)
        .where(Application.call_id == record.call_id, Application.state == record.round,
               ReviewAssignment.round == record.round,
               ReviewAssignment.status.in_(OPEN_SHEETS)).order_by(ReviewAssignment.id))
    by_expert: dict[User, list[ReviewAssignment]] = defaultdict(list)
    for sheet in sheets:
        by_expert[sheet.expert].append(sheet)
    return by_expert


def _round_values(record: CallRound) -> dict[str, Any]:
    """What a review reminder says: the call, the round and the deadline (never the entries)."""
    from app.services.rounds import round_of

    call = db.session.get_one(Call, record.call_id)
    review_round = round_of(call, record.round)
    return {"call": call.title, "round": partial(round_label, review_round),
            "deadline": partial(local_text, record.deadline)}


def _stage_reminders(now: datetime) -> list[Sent]:
    """Entries in a state with a deadline: before it, after it, and escalated."""
    sent = []
    for application in entries_in_states_with("deadline"):
        found = deadline_of(application)
        if found is None:
            continue
        due, trigger = found
        programme = programme_of(application)
        acting = stage_actors(programme, application.state, passed=now >= due)
        subject = (f"entry:{application.id}:{application.state}:"
                   f"{int(application.state_since.timestamp())}")
        transition = programme.transition(trigger, application.state)
        values = entry_values(application, programme) | {
            "state": state_label(programme, application.state),
            "deadline": partial(local_text, due),
            "action": partial(localised, transition) if transition else trigger}
        link = site_path("applications.detail", application_id=application.id)
        offset = before_offset(due, now)
        if offset is not None and acting:
            sent += _once(subject, "stage_due", due, offset, recipients(application, acting),
                          values, link, application)
        if now >= due and acting:
            sent += _once(subject, "stage_overdue", due, 0, recipients(application, acting),
                          values, link, application)
        if (late := escalation_due(due, now)) is not None and acting:
            above = _above(application, acting)
            sent += _once(subject, "stage_escalation", due, late, above, values, link,
                          application)
    return sent


def stage_actors(programme: Programme, state: str, passed: bool = False) -> tuple[str, ...]:
    """Who must act in ``state`` before its deadline: the applicant where they fill something
    in, else the administrators of its steps; in a public notice nobody — unless the deadline
    has passed and the entry is still there (an objection holds it: the city must decide)."""
    definition = programme.states[state]
    if definition["notice"] and not passed:
        return ()
    if definition["editable"] or definition["fill"]:
        return ("applicant",)
    return actors(programme, state)


def _above(application: Application, acting: tuple[str, ...]) -> list[User]:
    """The administrators above those who must act: the district above its applicants, the
    city above the districts (and the city itself) — never for a draft nobody else has seen."""
    if application.submitted_at is None:
        return []
    if acting == ("applicant",) and application.district_id is not None:
        return district_admins(application.district_id) or city_admins()
    return city_admins()


def _once(subject: str, kind: str, deadline: datetime, offset: int, users: list[User],
          values: dict[str, Any], link: str = "", application: Application | None = None,
          ) -> list[Sent]:
    """Record the reminder, and notify only if this tick recorded it; commit."""
    if not users:
        return []
    key = {"subject": subject, "kind": kind, "deadline": deadline, "offset_days": offset}
    if db.session.scalar(select(ReminderLog.id).filter_by(**key)) is not None:
        return []
    taken = db.session.scalar(insert_ignoring_duplicates(ReminderLog).values(**key)
                              .returning(ReminderLog.id))
    if taken is None:
        db.session.rollback()  # another tick recorded it meanwhile: that tick notifies
        return []
    made = notify(users, kind, values, link=link or site_path("reviewer.queue"),
                  application=application)
    db.session.commit()
    return [Sent(subject, kind, offset, len(made))]
