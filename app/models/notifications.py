"""Notifications: the inbox, the e-mail outbox, edited templates and the reminders already sent."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import CheckConstraint, ForeignKey, Index, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from app.extensions import Model
from app.models.accounts import User
from app.models.base import UTCDateTime, utcnow


class Notification(Model):
    """One message in one user's inbox; the inbox receives every event, e-mail or not."""

    __tablename__ = "notifications"
    __table_args__ = (Index("ix_notifications_user_read", "user_id", "read_at", "id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    event: Mapped[str] = mapped_column(String(40))
    subject: Mapped[str] = mapped_column(String(300))
    body: Mapped[str] = mapped_column(Text)
    # A path on this site (e.g. /applications/12): what the message is about.
    link: Mapped[str] = mapped_column(String(500), default="")
    application_id: Mapped[int | None] = mapped_column(
        ForeignKey("applications.id", ondelete="SET NULL"), index=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    read_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    user: Mapped[User] = relationship()


class OutboxMessage(Model):
    """An e-mail to send, written in the transaction of the change that caused it.

    ``pending`` → ``sending`` (claimed by one worker with a conditional UPDATE) → ``sent``; a
    failed attempt goes back to ``pending`` with a later ``next_attempt_at``, and to ``failed``
    after the last one. A message is never sent twice: only a ``pending`` row can be claimed.
    """

    __tablename__ = "outbox"
    __table_args__ = (
        CheckConstraint("status IN ('pending','sending','sent','failed')", name="status"),
        Index("ix_outbox_status_next_attempt_at", "status", "next_attempt_at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"),
                                                index=True)
    notification_id: Mapped[int | None] = mapped_column(
        ForeignKey("notifications.id", ondelete="SET NULL"))
    event: Mapped[str] = mapped_column(String(40), default="")
    to_address: Mapped[str] = mapped_column(String(254))
    subject: Mapped[str] = mapped_column(String(300))
    body: Mapped[str] = mapped_column(Text)
    status: Mapped[str] = mapped_column(String(20), default="pending")
    attempts: Mapped[int] = mapped_column(default=0)
    last_error: Mapped[str] = mapped_column(Text, default="")
    next_attempt_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    claimed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    sent_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, index=True)

    user: Mapped[User | None] = relationship()
    notification: Mapped[Notification | None] = relationship()


class NotificationTemplate(Model):
    """A city administrator's wording of one event, replacing the shipped default."""

    __tablename__ = "notification_templates"

    id: Mapped[int] = mapped_column(primary_key=True)
    event: Mapped[str] = mapped_column(String(40), unique=True)
    subject: Mapped[str] = mapped_column(String(300))
    body: Mapped[str] = mapped_column(Text)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)
    updated_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id",
                                                                 ondelete="SET NULL"))

    updated_by: Mapped[User | None] = relationship()


class ReminderLog(Model):
    """A reminder that has been sent: inserted before notifying, so no tick sends it twice.

    The key is the object reminded about (e.g. ``application:12``), the kind of reminder, the
    deadline it was about and the offset in days (negative: before the deadline); a deadline
    that moves makes new reminders.
    """

    __tablename__ = "reminder_log"
    __table_args__ = (UniqueConstraint("subject", "kind", "deadline", "offset_days"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    subject: Mapped[str] = mapped_column(String(120))
    kind: Mapped[str] = mapped_column(String(40))
    deadline: Mapped[datetime] = mapped_column(UTCDateTime)
    offset_days: Mapped[int]
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
