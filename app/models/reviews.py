"""Expert review assignments and their score sheets."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import CheckConstraint, ForeignKey, Numeric, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from app.extensions import Model
from app.models.accounts import User
from app.models.applications import Application
from app.models.base import JSONType, UTCDateTime, utcnow


class ReviewAssignment(Model):
    """An expert asked to score one application on one rubric; locked once submitted."""

    __tablename__ = "review_assignments"
    __table_args__ = (
        UniqueConstraint("application_id", "expert_id", "rubric_key"),
        CheckConstraint("status IN ('assigned','draft','submitted','conflict')", name="status"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    application_id: Mapped[int] = mapped_column(
        ForeignKey("applications.id", ondelete="CASCADE"), index=True
    )
    expert_id: Mapped[int] = mapped_column(ForeignKey("users.id"), index=True)
    rubric_key: Mapped[str] = mapped_column(String(64))
    status: Mapped[str] = mapped_column(String(20), default="assigned")
    scores: Mapped[dict[str, Any]] = mapped_column(JSONType, default=dict)
    total: Mapped[Decimal | None] = mapped_column(Numeric(7, 2))
    # Keys of the rubric's veto items (一票否决) the expert checked; any one fails the entry.
    vetoes: Mapped[list[str]] = mapped_column(JSONType, default=list)
    comment: Mapped[str] = mapped_column(Text, default="")
    assigned_by_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    assigned_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    submitted_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # When the expert confirmed having no conflict of interest, or declared one (status
    # 'conflict', kept on record with the reason); the materials open only after "no conflict".
    conflict_checked_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    conflict_reason: Mapped[str] = mapped_column(Text, default="")

    application: Mapped[Application] = relationship()
    expert: Mapped[User] = relationship(foreign_keys=[expert_id], lazy="joined")
    revisions: Mapped[list[SheetRevision]] = relationship(
        back_populates="assignment", order_by="SheetRevision.id", cascade="all, delete-orphan")

    @property
    def active(self) -> bool:
        """Still part of the panel (not withdrawn by a declared conflict)."""
        return self.status != "conflict"

    @property
    def locked(self) -> bool:
        """A submitted sheet can no longer be changed by the expert."""
        return self.status == "submitted"


class SheetRevision(Model):
    """A submitted sheet as it was when a city administrator reopened it; never changed."""

    __tablename__ = "sheet_revisions"

    id: Mapped[int] = mapped_column(primary_key=True)
    assignment_id: Mapped[int] = mapped_column(
        ForeignKey("review_assignments.id", ondelete="CASCADE"), index=True)
    scores: Mapped[dict[str, Any]] = mapped_column(JSONType)
    total: Mapped[Decimal | None] = mapped_column(Numeric(7, 2))
    comment: Mapped[str] = mapped_column(Text, default="")
    vetoes: Mapped[list[str]] = mapped_column(JSONType, default=list)
    submitted_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    reopened_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    reopened_by_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    reason: Mapped[str] = mapped_column(Text)

    assignment: Mapped[ReviewAssignment] = relationship(back_populates="revisions")
    reopened_by: Mapped[User] = relationship(lazy="joined")
