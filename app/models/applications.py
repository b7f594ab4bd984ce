"""Applications, their attachments and their audit trail."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import CheckConstraint, ForeignKey, Index, String, Text, UniqueConstraint, event
from sqlalchemy.orm import Mapped, Session, mapped_column, relationship

from app.extensions import Model
from app.models.accounts import Organisation, User
from app.models.base import JSONType, UTCDateTime, utcnow
from app.models.programmes import Call, ProgrammeVersion
from app.models.security import SecurityEvent


class Application(Model):
    """One entry in a call; its state moves only through the engine."""

    __tablename__ = "applications"
    __table_args__ = (
        Index("ix_applications_call_state", "call_id", "state"),
        Index("ix_applications_call_district", "call_id", "district_id"),
        # One entry per key and applicant: concurrent starts with the same key race on this.
        UniqueConstraint("applicant_id", "idempotency_key"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    call_id: Mapped[int] = mapped_column(ForeignKey("calls.id"))
    programme_version_id: Mapped[int] = mapped_column(ForeignKey("programme_versions.id"))
    applicant_id: Mapped[int] = mapped_column(ForeignKey("users.id"), index=True)
    org_id: Mapped[int] = mapped_column(ForeignKey("organisations.id"))
    district_id: Mapped[int | None] = mapped_column(ForeignKey("organisations.id"))
    title: Mapped[str] = mapped_column(String(300), default="")
    state: Mapped[str] = mapped_column(String(64))
    data: Mapped[dict[str, Any]] = mapped_column(JSONType, default=dict)
    # The latest data entered with each transition form, keyed by form key.
    step_data: Mapped[dict[str, Any]] = mapped_column(JSONType, default=dict)
    # Optimistic lock: every UPDATE must match it and bumps it.
    version: Mapped[int] = mapped_column(default=1)
    submitted_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # When the entry reached its current state (deadlines count from here).
    state_since: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    # The award level (一等奖, 优秀) the city confirmed from an award proposal, if any.
    award: Mapped[str | None] = mapped_column(String(60))
    # Recommended to a higher level (e.g. 省级) by the action recommend_upward, and when.
    recommended_to: Mapped[str | None] = mapped_column(String(40))
    recommended_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # The key sent with the request that started the entry (the API's Idempotency-Key header,
    # the start form's one-time key): the same key from the same applicant finds it again.
    idempotency_key: Mapped[str | None] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)

    call: Mapped[Call] = relationship(lazy="joined")
    programme_version: Mapped[ProgrammeVersion] = relationship()
    applicant: Mapped[User] = relationship(foreign_keys=[applicant_id])
    org: Mapped[Organisation] = relationship(foreign_keys=[org_id])
    district: Mapped[Organisation | None] = relationship(foreign_keys=[district_id])
    attachments: Mapped[list[Attachment]] = relationship(
        back_populates="application", order_by="Attachment.id", cascade="all, delete-orphan"
    )
    history: Mapped[list[AuditEntry]] = relationship(
        back_populates="application", order_by="AuditEntry.id"
    )

    __mapper_args__ = {"version_id_col": version}

    def __repr__(self) -> str:
        return f"<Application {self.id} {self.state}>"


class Attachment(Model):
    """An uploaded file, stored outside static/ under a random name."""

    __tablename__ = "attachments"

    id: Mapped[int] = mapped_column(primary_key=True)
    application_id: Mapped[int] = mapped_column(
        ForeignKey("applications.id", ondelete="CASCADE"), index=True
    )
    field_key: Mapped[str] = mapped_column(String(64))
    original_name: Mapped[str] = mapped_column(String(255))
    stored_name: Mapped[str] = mapped_column(String(64), unique=True)
    content_type: Mapped[str] = mapped_column(String(100))
    size: Mapped[int]
    sha256: Mapped[str] = mapped_column(String(64))
    uploaded_by_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    uploaded_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    application: Mapped[Application] = relationship(back_populates="attachments")


class AuditEntry(Model):
    """One recorded move (or the creation) of an application; never updated."""

    __tablename__ = "audit_entries"
    __table_args__ = (Index("ix_audit_entries_bulk_id", "bulk_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    application_id: Mapped[int] = mapped_column(
        ForeignKey("applications.id", ondelete="CASCADE"), index=True
    )
    actor_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    trigger: Mapped[str] = mapped_column(String(64))
    from_state: Mapped[str | None] = mapped_column(String(64))
    to_state: Mapped[str] = mapped_column(String(64))
    comment: Mapped[str] = mapped_column(Text, default="")
    data: Mapped[dict[str, Any]] = mapped_column(JSONType, default=dict)
    definition_version: Mapped[int]
    bulk_id: Mapped[str | None] = mapped_column(String(36))

    application: Mapped[Application] = relationship(back_populates="history")
    actor: Mapped[User | None] = relationship(lazy="joined")


class AppendOnly(RuntimeError):
    """Raised when code tries to change or delete a recorded audit entry or security event."""


APPEND_ONLY = (AuditEntry, SecurityEvent)


@event.listens_for(Session, "before_flush")
def _audit_is_append_only(session: Session, _context: Any, _instances: Any) -> None:
    """The audit log and the security events are append-only for the application: rows are
    added, never changed or deleted (a programming error, refused before anything is written)."""
    for row in session.deleted:
        if isinstance(row, APPEND_ONLY):
            raise AppendOnly(f"{row.__tablename__} row {row.id} cannot be deleted")
    for row in session.dirty:
        if isinstance(row, APPEND_ONLY) and session.is_modified(row, include_collections=False):
            raise AppendOnly(f"{row.__tablename__} row {row.id} cannot be changed")


class Objection(Model):
    """An objection (异议) raised by anyone against an entry in public notice, and its outcome."""

    __tablename__ = "objections"
    __table_args__ = (
        CheckConstraint("status IN ('open','sustained','dismissed')", name="status"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    application_id: Mapped[int] = mapped_column(
        ForeignKey("applications.id", ondelete="CASCADE"), index=True)
    # Handed to the objector: with it (and only with it) they read the outcome.
    receipt: Mapped[str] = mapped_column(String(32), unique=True)
    name: Mapped[str] = mapped_column(String(50))
    contact: Mapped[str] = mapped_column(String(100))
    reason: Mapped[str] = mapped_column(Text)
    evidence_name: Mapped[str | None] = mapped_column(String(200))
    evidence_stored: Mapped[str | None] = mapped_column(String(100))
    status: Mapped[str] = mapped_column(String(20), default="open")
    outcome: Mapped[str] = mapped_column(Text, default="")
    decided_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    decided_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, index=True)
    address: Mapped[str] = mapped_column(String(64), default="", index=True)

    application: Mapped[Application] = relationship()
