"""Certificates issued for awarded applications, and the serial counters."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from sqlalchemy import (
    CheckConstraint,
    ForeignKey,
    Index,
    LargeBinary,
    String,
    Text,
    UniqueConstraint,
    text,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from app.extensions import Model
from app.models.applications import Application
from app.models.base import JSONType, UTCDateTime, utcnow


class Certificate(Model):
    """The facts printed on a certificate, frozen when it is issued."""

    __tablename__ = "certificates"
    __table_args__ = (
        CheckConstraint("status IN ('valid','revoked','replaced')", name="status"),
        # At most one valid certificate per entry, whoever issues it (a transition, a bulk job
        # resumed after a crash, two workers): the database refuses the second.
        Index("uq_certificates_one_valid", "application_id", unique=True,
              sqlite_where=text("status = 'valid'"), postgresql_where=text("status = 'valid'")),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    application_id: Mapped[int] = mapped_column(ForeignKey("applications.id"), index=True)
    serial: Mapped[str] = mapped_column(String(64), unique=True)
    # Public, unguessable verification code (160 random bits).
    code: Mapped[str] = mapped_column(String(64), unique=True)
    title: Mapped[str] = mapped_column(String(50))
    holder: Mapped[str] = mapped_column(String(300))
    organisation: Mapped[str] = mapped_column(String(300), default="")
    programme_title: Mapped[str] = mapped_column(String(200))
    call_title: Mapped[str] = mapped_column(String(200))
    award: Mapped[str] = mapped_column(String(200))
    issuer: Mapped[str] = mapped_column(Text)
    issued_on: Mapped[date]
    status: Mapped[str] = mapped_column(String(20), default="valid")
    revoked_reason: Mapped[str] = mapped_column(Text, default="")
    # When it was revoked or replaced, and by whom; a reissue points back at what it replaces.
    revoked_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    revoked_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    replaces_id: Mapped[int | None] = mapped_column(ForeignKey("certificates.id"), index=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    application: Mapped[Application] = relationship()
    replaces: Mapped[Certificate | None] = relationship(remote_side=[id])


class VerificationLog(Model):
    """One public lookup of a certificate: when, what was asked, what it found, from where."""

    __tablename__ = "verification_log"

    id: Mapped[int] = mapped_column(primary_key=True)
    at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, index=True)
    query: Mapped[str] = mapped_column(String(120))  # the code, or "serial / name" of a search
    result: Mapped[str] = mapped_column(String(20))  # valid | revoked | replaced | not_found
    certificate_id: Mapped[int | None] = mapped_column(
        ForeignKey("certificates.id", ondelete="SET NULL"), index=True)
    address: Mapped[str] = mapped_column(String(64), default="", index=True)


class SerialCounter(Model):
    """The last serial number used per programme and year; incremented in the transaction."""

    __tablename__ = "serial_counters"
    __table_args__ = (UniqueConstraint("programme_key", "year"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    programme_key: Mapped[str] = mapped_column(String(64))
    year: Mapped[int]
    last: Mapped[int] = mapped_column(default=0)


class CertificateDownload(Model):
    """A certificate handed out: one PDF, a ZIP of a call's, or a merged print run."""

    __tablename__ = "certificate_downloads"
    __table_args__ = (CheckConstraint("kind IN ('pdf','zip','print')", name="kind"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, index=True)
    kind: Mapped[str] = mapped_column(String(10))
    certificate_id: Mapped[int | None] = mapped_column(
        ForeignKey("certificates.id", ondelete="SET NULL"), index=True)
    call_id: Mapped[int | None] = mapped_column(ForeignKey("calls.id", ondelete="SET NULL"))
    count: Mapped[int] = mapped_column(default=1)  # certificates in it
    user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))


class Job(Model):
    """A long piece of work done by the background worker, with its progress.

    The rows it produces are the truth: a job that is resumed after a crash recounts them, so
    ``done`` and ``total`` are for the progress bar, never for deciding what to do.
    """

    __tablename__ = "jobs"
    __table_args__ = (
        CheckConstraint("status IN ('queued','running','done','failed')", name="status"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    kind: Mapped[str] = mapped_column(String(40))
    call_id: Mapped[int | None] = mapped_column(ForeignKey("calls.id", ondelete="CASCADE"),
                                                index=True)
    status: Mapped[str] = mapped_column(String(20), default="queued")
    total: Mapped[int] = mapped_column(default=0)
    done: Mapped[int] = mapped_column(default=0)
    failed: Mapped[int] = mapped_column(default=0)
    error: Mapped[str] = mapped_column(Text, default="")
    # The public address printed in the QR codes (the one the administrator was using).
    base_url: Mapped[str] = mapped_column(String(200), default="")
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    started_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    heartbeat_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    finished_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # How often the job was picked up again after a worker stopped in the middle of it.
    resumed: Mapped[int] = mapped_column(default=0)
    # What the job was asked for, e.g. {"order": "district"} for a print run.
    options: Mapped[dict[str, Any]] = mapped_column(JSONType, default=dict)


class StoredTemplate(Model):
    """A certificate template written or edited by an administrator (overrides a shipped one
    with the same key)."""

    __tablename__ = "certificate_templates"

    id: Mapped[int] = mapped_column(primary_key=True)
    key: Mapped[str] = mapped_column(String(40), unique=True)
    name: Mapped[str] = mapped_column(String(100))
    description: Mapped[str] = mapped_column(Text, default="")
    html: Mapped[str] = mapped_column(Text)
    css: Mapped[str] = mapped_column(Text, default="")
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)
    updated_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))

    assets: Mapped[list[TemplateAsset]] = relationship(
        back_populates="template", cascade="all, delete-orphan", order_by="TemplateAsset.name")


class TemplateAsset(Model):
    """An image of a stored template (PNG, JPEG or SVG), used in it as ``asset:<name>``."""

    __tablename__ = "certificate_template_assets"
    __table_args__ = (UniqueConstraint("template_id", "name"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    template_id: Mapped[int] = mapped_column(
        ForeignKey("certificate_templates.id", ondelete="CASCADE"), index=True)
    name: Mapped[str] = mapped_column(String(80))
    body: Mapped[bytes] = mapped_column(LargeBinary)

    template: Mapped[StoredTemplate] = relationship(back_populates="assets")


class IssuerSeal(Model):
    """An issuer's seal image (transparent PNG, downscaled) and the signature line under it."""

    __tablename__ = "issuer_seals"

    id: Mapped[int] = mapped_column(primary_key=True)
    issuer: Mapped[str] = mapped_column(String(200), unique=True)
    image: Mapped[bytes | None] = mapped_column(LargeBinary)
    signature: Mapped[str] = mapped_column(String(100), default="")
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)
    updated_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
