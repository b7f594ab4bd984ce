"""Security events: logins, refusals, downloads and account changes, kept for the city."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import ForeignKey, Index, String
from sqlalchemy.orm import Mapped, mapped_column, relationship

from app.extensions import Model
from app.models.accounts import User
from app.models.base import JSONType, UTCDateTime, utcnow


class EventKind(StrEnum):
    """What happened; one word each, shown translated on the security-events page."""

    LOGIN = "login"
    LOGIN_FAILED = "login_failed"
    LOCKED_OUT = "locked_out"
    LOGOUT = "logout"
    PASSWORD_CHANGED = "password_changed"
    PASSWORD_RESET = "password_reset"
    TOTP_ENROLLED = "totp_enrolled"
    TOTP_DISABLED = "totp_disabled"
    TOTP_RESET = "totp_reset"
    TOTP_FAILED = "totp_failed"
    RECOVERY_CODE_USED = "recovery_code_used"
    REFUSED = "refused"
    DOWNLOAD = "download"
    TOKEN_CREATED = "token_created"
    TOKEN_REVOKED = "token_revoked"
    ACCOUNT_DISABLED = "account_disabled"
    ACCOUNT_ENABLED = "account_enabled"
    ROLE_CHANGED = "role_changed"


class SecurityEvent(Model):
    """One security-relevant event; rows are added, never changed or deleted (like the audit
    log of moves, see `AppendOnly`)."""

    __tablename__ = "security_events"
    __table_args__ = (
        Index("ix_security_events_kind_at", "kind", "at"),
        Index("ix_security_events_user_id_at", "user_id", "at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, index=True)
    kind: Mapped[str] = mapped_column(String(30))
    # The account concerned (logged in, or the one a login tried), when there is one.
    user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    # The username as typed at a login (kept also when no such account exists).
    username: Mapped[str] = mapped_column(String(80), default="")
    address: Mapped[str] = mapped_column(String(64), default="")
    path: Mapped[str] = mapped_column(String(300), default="")
    details: Mapped[dict[str, Any]] = mapped_column(JSONType, default=dict)

    user: Mapped[User | None] = relationship(lazy="joined")
