"""The audit log of moves: who did what, when, to which entry — filtered for administrators.

Every step an entry takes is one `AuditEntry` row written by the engine (actor None: the
system, e.g. a deadline). Rows are only ever added; this module only reads them.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import Select, select
from sqlalchemy.orm import contains_eager

from app.models import Application, AuditEntry, User
from app.models.base import contains

LOCAL = ZoneInfo("Asia/Shanghai")
SYSTEM = "system"  # the `user` filter value for moves made by the system


@dataclass(frozen=True)
class AuditFilter:
    """What the administrator narrowed the log to; empty values mean all."""

    user: str = ""  # a username, or SYSTEM
    call_id: int | None = None
    action: str = ""  # a trigger (submit, recommend, …)
    since: date | None = None  # Beijing dates, inclusive
    until: date | None = None
    text: str = ""  # in the entry's title or the comment
    oldest_first: bool = False


def audit_query(chosen: AuditFilter) -> Select[Any]:
    """The matching rows, newest first (or oldest first), with their entry and actor loaded in
    the same query."""
    order = ((AuditEntry.at, AuditEntry.id) if chosen.oldest_first
             else (AuditEntry.at.desc(), AuditEntry.id.desc()))
    query = (select(AuditEntry).join(AuditEntry.application)
             .outerjoin(User, AuditEntry.actor_id == User.id)
             .options(contains_eager(AuditEntry.application), contains_eager(AuditEntry.actor))
             .order_by(*order))
    if chosen.user == SYSTEM:
        query = query.where(AuditEntry.actor_id.is_(None))
    elif chosen.user:
        query = query.where(User.username == chosen.user)
    if chosen.call_id:
        query = query.where(Application.call_id == chosen.call_id)
    if chosen.action:
        query = query.where(AuditEntry.trigger == chosen.action)
    if chosen.since:
        query = query.where(AuditEntry.at >= start_of_day(chosen.since))
    if chosen.until:
        query = query.where(AuditEntry.at < start_of_day(chosen.until + timedelta(days=1)))
    if chosen.text:
        # A draft's title is its applicant's alone: the log shows its number, and finds it by
        # comment only, until the entry is first submitted.
        query = query.where((contains(Application.title, chosen.text)
                             & Application.submitted_at.is_not(None))
                            | contains(AuditEntry.comment, chosen.text))
    return query


def action_choices() -> list[str]:
    """The steps the programmes define (and ``create``), for the filter's choices: read from
    the definitions, not by scanning the whole log on every page."""
    from app.services.programmes import catalogue

    return sorted({"create"} | {t["trigger"] for programme in catalogue().values()
                                for t in programme.transitions})


def start_of_day(day: date) -> datetime:
    """Midnight of a Beijing date, as an aware time."""
    return datetime.combine(day, time(), LOCAL)

