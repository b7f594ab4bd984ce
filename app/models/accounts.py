"""Organisations, users, API tokens and login attempts."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum

from flask import current_app
from flask_login import UserMixin
from sqlalchemy import CheckConstraint, ForeignKey, Index, String
from sqlalchemy.orm import Mapped, mapped_column, relationship
from werkzeug.security import check_password_hash, generate_password_hash

from app.extensions import Model
from app.models.base import JSONType, UTCDateTime, utcnow


class OrgKind(StrEnum):
    """Levels of the organisation tree, top to bottom."""

    CITY = "city"
    DISTRICT = "district"
    STREET = "street"
    UNIT = "unit"


ORG_LEVEL = {OrgKind.CITY: 0, OrgKind.DISTRICT: 1, OrgKind.STREET: 2, OrgKind.UNIT: 3}


class Role(StrEnum):
    """What a user may do; each user has exactly one role."""

    APPLICANT = "applicant"
    DISTRICT_ADMIN = "district_admin"
    CITY_ADMIN = "city_admin"
    EXPERT = "expert"


class Organisation(Model):
    """A node of the tree city → district → street → unit."""

    __tablename__ = "organisations"
    __table_args__ = (
        CheckConstraint("kind IN ('city','district','street','unit')", name="kind"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    code: Mapped[str] = mapped_column(String(40), unique=True)
    name: Mapped[str] = mapped_column(String(200))
    kind: Mapped[str] = mapped_column(String(20))
    parent_id: Mapped[int | None] = mapped_column(ForeignKey("organisations.id"), index=True)
    # The district this node belongs to (itself for a district); NULL for the city.
    district_id: Mapped[int | None] = mapped_column(ForeignKey("organisations.id"), index=True)

    parent: Mapped[Organisation | None] = relationship(
        remote_side=[id], foreign_keys=[parent_id]
    )
    district: Mapped[Organisation | None] = relationship(
        remote_side=[id], foreign_keys=[district_id]
    )

    def __repr__(self) -> str:
        return f"<Organisation {self.code} {self.kind}>"


class User(UserMixin, Model):
    """A person who logs in; belongs to one organisation and has one role."""

    __tablename__ = "users"
    __table_args__ = (
        CheckConstraint(
            "role IN ('applicant','district_admin','city_admin','expert')", name="role"
        ),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    username: Mapped[str] = mapped_column(String(80), unique=True)
    name: Mapped[str] = mapped_column(String(100), default="")
    role: Mapped[str] = mapped_column(String(20))
    org_id: Mapped[int] = mapped_column(ForeignKey("organisations.id"), index=True)
    password_hash: Mapped[str] = mapped_column(String(255))
    active: Mapped[bool] = mapped_column(default=True)
    # Contact details: e-mail receives notifications when SMTP is configured; the phone is shown
    # to administrators who need to call (both optional).
    email: Mapped[str] = mapped_column(String(254), default="", server_default="")
    phone: Mapped[str] = mapped_column(String(30), default="", server_default="")
    # Notification events the user does not want by e-mail (the inbox receives every event).
    email_opt_out: Mapped[list[str]] = mapped_column(JSONType, default=list,
                                                     server_default="[]")
    # The language written to the user when they are not there (inbox, e-mail, reminders):
    # 'zh_CN' or 'en'; set by the language switch and on the notification settings page.
    locale: Mapped[str] = mapped_column(String(10), default="zh_CN", server_default="zh_CN")
    # Expert profile: professional title (职称) and expertise tags used to match entries.
    title: Mapped[str] = mapped_column(String(100), default="")
    expertise: Mapped[list[str]] = mapped_column(JSONType, default=list)
    # Changing it invalidates every session and token issued before.
    session_nonce: Mapped[str] = mapped_column(String(32), default="0")
    # Second factor (app/services/totp.py): the TOTP secret, set at enrolment and never shown
    # again once confirmed; it counts only from `totp_confirmed_at`. The last time-step used
    # (a code is good once) and the salted hash of each unused recovery code.
    totp_secret: Mapped[str | None] = mapped_column(String(32))
    totp_confirmed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    totp_last_step: Mapped[int | None]
    recovery_codes: Mapped[list[str]] = mapped_column(JSONType, default=list,
                                                      server_default="[]")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    org: Mapped[Organisation] = relationship(lazy="joined")

    @property
    def is_active(self) -> bool:  # type: ignore[override]
        """Disabled accounts cannot log in."""
        return self.active

    def get_id(self) -> str:
        """Identify the session by user id and nonce, so a password change logs out others."""
        return f"{self.id}:{self.session_nonce}"

    def set_password(self, password: str) -> None:
        """Store a salted hash of the password (scrypt unless configured otherwise)."""
        method = current_app.config.get("PASSWORD_HASH_METHOD", "scrypt")
        self.password_hash = generate_password_hash(password, method=method)

    def check_password(self, password: str) -> bool:
        """Compare a password with the stored hash."""
        return check_password_hash(self.password_hash, password)

    @property
    def has_totp(self) -> bool:
        """Whether a confirmed second factor guards this account's logins."""
        return self.totp_confirmed_at is not None

    @property
    def district_id(self) -> int | None:
        """The district of the user's organisation (None for city users)."""
        return self.org.district_id

    @property
    def display_name(self) -> str:
        """The name shown in lists, falling back to the username."""
        return self.name or self.username

    def __repr__(self) -> str:
        return f"<User {self.username} {self.role}>"


class ApiToken(Model):
    """A bearer token for the JSON API; only its SHA-256 is stored."""

    __tablename__ = "api_tokens"

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime)
    session_nonce: Mapped[str] = mapped_column(String(32))

    user: Mapped[User] = relationship(lazy="joined")


class LoginAttempt(Model):
    """One login try, kept to rate-limit by username and by client address."""

    __tablename__ = "login_attempts"
    __table_args__ = (
        Index("ix_login_attempts_username_at", "username", "at"),
        Index("ix_login_attempts_address_at", "address", "at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    username: Mapped[str] = mapped_column(String(80))
    address: Mapped[str] = mapped_column(String(64))
    succeeded: Mapped[bool]
    at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
