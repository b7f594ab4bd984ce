"""Definition versions as stored in the database, and calls (批次) opened for them."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import CheckConstraint, ForeignKey, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from app.extensions import Model
from app.models.accounts import Organisation, User
from app.models.base import JSONType, UTCDateTime, utcnow


class ProgrammeVersion(Model):
    """One version of a programme: the workflow with its forms and rubrics, frozen as text.

    Applications point here, so a later edit of the YAML files never changes an
    application already in flight.
    """

    __tablename__ = "programme_versions"
    __table_args__ = (UniqueConstraint("key", "version"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    key: Mapped[str] = mapped_column(String(64), index=True)
    version: Mapped[int]
    title: Mapped[str] = mapped_column(String(200))
    checksum: Mapped[str] = mapped_column(String(64))
    # The resolved definition (workflow + forms + rubrics) as canonical JSON.
    definition: Mapped[dict[str, Any]] = mapped_column(JSONType)
    # The YAML source files as they were read, for people reading the history.
    sources: Mapped[dict[str, str]] = mapped_column(JSONType)
    recorded_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class Call(Model):
    """A call for applications (批次) of one programme, with its dates and quotas."""

    __tablename__ = "calls"
    __table_args__ = (CheckConstraint("closes_at > opens_at", name="dates"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    programme_key: Mapped[str] = mapped_column(String(64), index=True)
    title: Mapped[str] = mapped_column(String(200))
    year: Mapped[int]
    opens_at: Mapped[datetime] = mapped_column(UTCDateTime)
    closes_at: Mapped[datetime] = mapped_column(UTCDateTime)
    description: Mapped[str] = mapped_column(Text, default="")
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    created_by: Mapped[User | None] = relationship()
    quotas: Mapped[list[CallQuota]] = relationship(
        back_populates="call", cascade="all, delete-orphan", lazy="selectin"
    )

    def is_open(self, now: datetime) -> bool:
        """Whether applications may be submitted at `now`."""
        return self.opens_at <= now < self.closes_at

    def quota_for(self, district_id: int | None) -> int | None:
        """The number of entries a district may recommend; None means no limit."""
        for quota in self.quotas:
            if quota.district_id == district_id:
                return quota.quota
        return None

    def minimum_for(self, district_id: int | None) -> int | None:
        """The number of entries a district must recommend at least; None means none."""
        for quota in self.quotas:
            if quota.district_id == district_id:
                return quota.minimum
        return None


class CallQuota(Model):
    """How many entries one district may (``quota``) and must (``minimum``) recommend in one
    call; either may be unset."""

    __tablename__ = "call_quotas"
    __table_args__ = (
        UniqueConstraint("call_id", "district_id"),
        CheckConstraint("quota >= 0", name="quota_non_negative"),
        CheckConstraint("minimum >= 1", name="minimum_positive"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    call_id: Mapped[int] = mapped_column(ForeignKey("calls.id", ondelete="CASCADE"))
    district_id: Mapped[int] = mapped_column(ForeignKey("organisations.id"))
    quota: Mapped[int | None]
    minimum: Mapped[int | None]

    call: Mapped[Call] = relationship(back_populates="quotas")
    district: Mapped[Organisation] = relationship(lazy="joined")
