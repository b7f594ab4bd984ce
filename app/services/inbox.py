"""A user's inbox (unread first, marked read one by one or all at once) and e-mail preferences."""

from __future__ import annotations

from typing import Any

from sqlalchemy import Select, case, func, select, update

from app.engine.errors import Forbidden, ValidationFailed
from app.extensions import db
from app.i18n import LOCALES, joined, zh
from app.models import Notification, Role, User
from app.models.base import utcnow
from app.services.accounts import check_email

# The events each role may receive, in the order the preference page lists them.
APPLICANT_EVENTS = ("submitted", "returned", "recommended", "state_changed", "result_published",
                    "stage_due", "stage_overdue", "certificate_issued")
ADMIN_EVENTS = ("submitted", "returned", "withdrawn", "stage_due", "stage_overdue",
                "stage_escalation")
ROLE_EVENTS: dict[str, tuple[str, ...]] = {
    Role.APPLICANT: APPLICANT_EVENTS,
    Role.EXPERT: ("assigned", "review_due", "review_overdue"),
    Role.DISTRICT_ADMIN: ADMIN_EVENTS,
    Role.CITY_ADMIN: (*ADMIN_EVENTS, "recommended", "state_changed", "result_published",
                      "review_escalation"),
}


def inbox_query(user: User, unread_only: bool = False) -> Select[Any]:
    """The user's messages: unread first, then newest first."""
    query = select(Notification).where(Notification.user_id == user.id)
    if unread_only:
        query = query.where(Notification.read_at.is_(None))
    return query.order_by(case((Notification.read_at.is_(None), 0), else_=1),
                          Notification.id.desc())


def unread_count(user: User) -> int:
    """How many of the user's messages are unread (the number beside the bell)."""
    return int(db.session.scalar(select(func.count()).select_from(Notification).where(
        Notification.user_id == user.id, Notification.read_at.is_(None))) or 0)


def mark_read(notification: Notification, user: User) -> Notification:
    """Mark one of the user's own messages read (reading it again changes nothing)."""
    if notification.user_id != user.id:
        raise Forbidden(zh("这不是您的消息"))
    if notification.read_at is None:
        notification.read_at = utcnow()
        db.session.flush()
    return notification


def mark_all_read(user: User) -> int:
    """Mark every unread message of the user read; return how many."""
    marked = db.session.execute(
        update(Notification).where(Notification.user_id == user.id,
                                   Notification.read_at.is_(None))
        .values(read_at=utcnow()).execution_options(synchronize_session=False))
    return int(marked.rowcount)  # type: ignore[attr-defined]


def email_events(user: User) -> tuple[str, ...]:
    """The events the user may choose to receive by e-mail."""
    return ROLE_EVENTS.get(user.role, ())


def set_email_preferences(user: User, email: str, wanted: list[str],
                          locale: str | None = None) -> User:
    """Store the user's address, which of their events come by e-mail (the rest do not) and,
    if given, the language their messages are written in."""
    if locale is not None and locale not in LOCALES:
        raise ValidationFailed(zh("没有这种语言：%(locale)s", locale=locale), {"locale": locale})
    offered = email_events(user)
    unknown = sorted(set(wanted) - set(offered))
    if unknown:
        raise ValidationFailed(zh("不能选择这些通知：%(unknown)s",
                                  unknown=joined(unknown)), {"events": unknown})
    user.email = check_email(email)
    kept = [key for key in (user.email_opt_out or []) if key not in offered]
    user.email_opt_out = sorted(kept + [key for key in offered if key not in wanted])
    user.locale = locale or user.locale
    db.session.flush()
    return user
