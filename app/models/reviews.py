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
from app.models.programmes import Call

# Sheets no longer part of a panel: a declared conflict, or withdrawn by the city. Kept on record.
INACTIVE = ("conflict", "withdrawn")


class ReviewAssignment(Model):
    """An expert asked to score one application in one review round; locked once submitted."""

    __tablename__ = "review_assignments"
    __table_args__ = (
        UniqueConstraint("application_id", "expert_id", "round"),
        CheckConstraint("status IN ('assigned','draft','submitted','conflict','withdrawn')",
                        name="status"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    application_id: Mapped[int] = mapped_column(
        ForeignKey("applications.id", ondelete="CASCADE"), index=True
    )
    expert_id: Mapped[int] = mapped_column(ForeignKey("users.id"), index=True)
    # The round is the review state the entry was in; the rubric is the one that round used.
    round: Mapped[str] = mapped_column(String(64))
    rubric_key: Mapped[str] = mapped_column(String(64))
    # An extra expert asked because the panel's scores spread too far (the dispersion rule).
    extra: Mapped[bool] = mapped_column(default=False)
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
    # Withdrawn by a city administrator (to give the entry to someone else), kept on record.
    withdrawn_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    withdrawn_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    withdrawal_reason: Mapped[str] = mapped_column(Text, default="")

    application: Mapped[Application] = relationship()
    expert: Mapped[User] = relationship(foreign_keys=[expert_id], lazy="joined")
    withdrawn_by: Mapped[User | None] = relationship(foreign_keys=[withdrawn_by_id])
    revisions: Mapped[list[SheetRevision]] = relationship(
        back_populates="assignment", order_by="SheetRevision.id", cascade="all, delete-orphan")

    @property
    def active(self) -> bool:
        """Still part of the panel (not withdrawn by a declared conflict or by the city)."""
        return self.status not in INACTIVE

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


class CallRound(Model):
    """A review round of one call: its deadline, and whether it is closed with results released."""

    __tablename__ = "call_rounds"
    __table_args__ = (UniqueConstraint("call_id", "round"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    call_id: Mapped[int] = mapped_column(ForeignKey("calls.id", ondelete="CASCADE"), index=True)
    round: Mapped[str] = mapped_column(String(64))
    deadline: Mapped[datetime | None] = mapped_column(UTCDateTime)
    closed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    closed_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    result_id: Mapped[int | None] = mapped_column(
        ForeignKey("review_results.id"))

    result: Mapped[ReviewResult | None] = relationship(foreign_keys=[result_id])
    closed_by: Mapped[User | None] = relationship(foreign_keys=[closed_by_id])

    @property
    def closed(self) -> bool:
        """Closed rounds have their results frozen and released."""
        return self.closed_at is not None


class ReviewResult(Model):
    """A computed result, kept with everything needed to recompute it and get the same answer.

    `round` is a review state for one round's scores, or None for the final, weighted score of
    all rounds. `inputs` holds the sheets (or the rounds' scores) exactly as they were used.
    """

    __tablename__ = "review_results"

    id: Mapped[int] = mapped_column(primary_key=True)
    call_id: Mapped[int] = mapped_column(ForeignKey("calls.id", ondelete="CASCADE"), index=True)
    round: Mapped[str | None] = mapped_column(String(64))
    programme_version_id: Mapped[int] = mapped_column(ForeignKey("programme_versions.id"))
    settings: Mapped[dict[str, Any]] = mapped_column(JSONType)
    inputs: Mapped[dict[str, Any]] = mapped_column(JSONType)
    results: Mapped[list[dict[str, Any]]] = mapped_column(JSONType)
    fingerprint: Mapped[str] = mapped_column(String(64))
    computed_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    computed_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))

    computed_by: Mapped[User | None] = relationship(lazy="joined")


class DispersionWaiver(Model):
    """An administrator's recorded reason not to add an extra expert to a widely spread panel."""

    __tablename__ = "dispersion_waivers"
    __table_args__ = (UniqueConstraint("application_id", "round"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    application_id: Mapped[int] = mapped_column(
        ForeignKey("applications.id", ondelete="CASCADE"), index=True)
    round: Mapped[str] = mapped_column(String(64))
    reason: Mapped[str] = mapped_column(Text)
    created_by_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    created_by: Mapped[User] = relationship(lazy="joined")


class AwardProposal(Model):
    """Award levels proposed from a call's final ranking, kept as computed, confirmed by the city.

    `rows` holds, in ranking order, each entry's place, final score, group, proposed level and
    the reason (proportion, threshold, cap_reached...). Confirming writes the levels to the
    entries; a newer proposal supersedes an unconfirmed older one.
    """

    __tablename__ = "award_proposals"
    __table_args__ = (
        CheckConstraint("status IN ('proposed','confirmed','superseded')", name="status"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    call_id: Mapped[int] = mapped_column(ForeignKey("calls.id", ondelete="CASCADE"), index=True)
    programme_version_id: Mapped[int] = mapped_column(ForeignKey("programme_versions.id"))
    status: Mapped[str] = mapped_column(String(20), default="proposed")
    settings: Mapped[dict[str, Any]] = mapped_column(JSONType)
    rows: Mapped[list[dict[str, Any]]] = mapped_column(JSONType)
    fingerprint: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    created_by_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    confirmed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    confirmed_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    note: Mapped[str] = mapped_column(Text, default="")

    created_by: Mapped[User] = relationship(foreign_keys=[created_by_id], lazy="joined")
    confirmed_by: Mapped[User | None] = relationship(foreign_keys=[confirmed_by_id])


class CallInvitation(Model):
    """An expert invited to review in a call; they accept, or decline with a reason."""

    __tablename__ = "call_invitations"
    __table_args__ = (
        UniqueConstraint("call_id", "expert_id"),
        CheckConstraint("status IN ('invited','accepted','declined')", name="status"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    call_id: Mapped[int] = mapped_column(ForeignKey("calls.id", ondelete="CASCADE"), index=True)
    expert_id: Mapped[int] = mapped_column(ForeignKey("users.id"), index=True)
    status: Mapped[str] = mapped_column(String(20), default="invited")
    reason: Mapped[str] = mapped_column(Text, default="")
    invited_by_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    invited_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    answered_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    expert: Mapped[User] = relationship(foreign_keys=[expert_id], lazy="joined")
    call: Mapped[Call] = relationship(lazy="joined")

    @property
    def call_title(self) -> str:
        """The title of the call the expert is invited to."""
        return self.call.title


class Panel(Model):
    """A panel of experts (专家组) for one round of a call, with a chair.

    In a live round the panel scores on site: the order of the entries is drawn by lot (抽签,
    recorded with who drew it and when), and the chair opens one entry at a time.
    """

    __tablename__ = "panels"
    __table_args__ = (UniqueConstraint("call_id", "round", "name"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    call_id: Mapped[int] = mapped_column(ForeignKey("calls.id", ondelete="CASCADE"), index=True)
    round: Mapped[str] = mapped_column(String(64))
    name: Mapped[str] = mapped_column(String(60))
    chair_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    draw_order: Mapped[list[int]] = mapped_column(JSONType, default=list)
    drawn_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    drawn_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    current_application_id: Mapped[int | None] = mapped_column(
        ForeignKey("applications.id", ondelete="SET NULL"))
    opened_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    chair: Mapped[User | None] = relationship(foreign_keys=[chair_id], lazy="joined")
    drawn_by: Mapped[User | None] = relationship(foreign_keys=[drawn_by_id])
    members: Mapped[list[PanelMember]] = relationship(
        back_populates="panel", order_by="PanelMember.id", cascade="all, delete-orphan")


class PanelMember(Model):
    """An expert on a panel."""

    __tablename__ = "panel_members"
    __table_args__ = (UniqueConstraint("panel_id", "expert_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    panel_id: Mapped[int] = mapped_column(ForeignKey("panels.id", ondelete="CASCADE"), index=True)
    expert_id: Mapped[int] = mapped_column(ForeignKey("users.id"), index=True)

    panel: Mapped[Panel] = relationship(back_populates="members")
    expert: Mapped[User] = relationship(lazy="joined")
