"""A second factor: time-based one-time codes (RFC 6238) from an authenticator app.

A user enrols by scanning a secret and confirming it with a code; only then does it count.
Each code is good once (the last used time-step is stored and a code from it or before is
refused), and eight recovery codes, stored hashed like passwords, each stand in for one code.
"""

from __future__ import annotations

import re
import secrets
import time

import pyotp
from flask import current_app
from sqlalchemy import or_, update
from werkzeug.security import check_password_hash, generate_password_hash

from app.engine.errors import ValidationFailed
from app.extensions import db
from app.i18n import zh
from app.models import EventKind, Role, User
from app.models.base import utcnow
from app.services.security_events import record_event

ISSUER = "Pingshen"
RECOVERY_CODES = 8
STEP_SECONDS = 30
ADMINS = (Role.CITY_ADMIN, Role.DISTRICT_ADMIN)
RECOVERY = re.compile(r"[0-9a-f]{10}")  # the shape of a recovery code (secrets.token_hex(5))


def must_enrol(user: User) -> bool:
    """Whether the user has to set up a second factor before logging in (an administrator,
    when REQUIRE_TOTP_FOR_ADMINS is on)."""
    return (bool(current_app.config["REQUIRE_TOTP_FOR_ADMINS"]) and user.role in ADMINS
            and not user.has_totp)


def start_enrolment(user: User) -> str:
    """Give the user a new, not yet confirmed secret (replacing an unconfirmed one)."""
    if user.has_totp:
        raise ValidationFailed(zh("已启用两步验证"), {"totp": "enrolled"})
    user.totp_secret = pyotp.random_base32()
    user.totp_last_step = None
    db.session.flush()
    return user.totp_secret


def provisioning_uri(user: User) -> str:
    """The otpauth:// address an authenticator app reads from the QR code."""
    assert user.totp_secret is not None
    return pyotp.TOTP(user.totp_secret).provisioning_uri(name=user.username, issuer_name=ISSUER)


def confirm_enrolment(user: User, code: str) -> list[str]:
    """Turn the pending secret on when `code` matches it; return the recovery codes (shown
    once, only their hashes are kept)."""
    if user.has_totp or user.totp_secret is None:
        raise ValidationFailed(zh("请先开始设置两步验证"), {"totp": "not started"})
    if not _spend_step(user, code):
        record_event(EventKind.TOTP_FAILED, user, during="enrolment")
        raise ValidationFailed(zh("验证码不正确，请核对手机上的时间后重试"), {"code": "wrong"})
    user.totp_confirmed_at = utcnow()
    codes = [secrets.token_hex(5) for _ in range(RECOVERY_CODES)]
    user.recovery_codes = [_hash(code) for code in codes]
    record_event(EventKind.TOTP_ENROLLED, user)
    db.session.flush()
    return codes


def check_code(user: User, code: str) -> str | None:
    """Spend a current code or a recovery code of an enrolled user: "totp", "recovery", or
    None when it is wrong or already used (recorded as a failure)."""
    code = "".join(code.split()).lower()
    if user.has_totp and _spend_step(user, code):
        return "totp"
    spent = next((h for h in user.recovery_codes if check_password_hash(h, code)), None) \
        if user.has_totp and RECOVERY.fullmatch(code) else None
    if spent is not None:
        user.recovery_codes = [h for h in user.recovery_codes if h != spent]
        record_event(EventKind.RECOVERY_CODE_USED, user, left=len(user.recovery_codes))
        db.session.flush()
        return "recovery"
    record_event(EventKind.TOTP_FAILED, user)
    return None


def disable_totp(user: User, actor: User) -> None:
    """Remove the second factor: by the user themselves (when not compulsory for them), or
    reset by the city for someone who lost their phone, which also ends their sessions."""
    if actor.id == user.id and current_app.config["REQUIRE_TOTP_FOR_ADMINS"] \
            and user.role in ADMINS:
        raise ValidationFailed(zh("管理员必须启用两步验证，不能关闭"), {"totp": "required"})
    if actor.id != user.id and actor.role != Role.CITY_ADMIN:
        raise ValidationFailed(zh("只有市级管理员可以重置他人的两步验证"), {"totp": "forbidden"})
    user.totp_secret = user.totp_confirmed_at = user.totp_last_step = None
    user.recovery_codes = []
    if actor.id == user.id:
        record_event(EventKind.TOTP_DISABLED, user)
    else:
        user.session_nonce = secrets.token_hex(8)
        record_event(EventKind.TOTP_RESET, user, by=actor.username)
    db.session.flush()


def _spend_step(user: User, code: str) -> bool:
    """Whether `code` is the pending or enrolled secret's code for the current time-step or
    the one either side (clocks drift), and that step is after the last one used; the step is
    then stored in a conditional UPDATE, so two requests with one code cannot both pass."""
    if user.totp_secret is None or len(code) != 6 or not code.isdigit():
        return False
    totp, now = pyotp.TOTP(user.totp_secret), int(time.time()) // STEP_SECONDS
    for step in (now - 1, now, now + 1):
        if secrets.compare_digest(totp.at(step * STEP_SECONDS), code):
            spent = db.session.execute(
                update(User).where(User.id == user.id, or_(User.totp_last_step.is_(None),
                                                           User.totp_last_step < step))
                .values(totp_last_step=step).execution_options(synchronize_session=False))
            if spent.rowcount != 1:  # type: ignore[attr-defined]
                return False
            user.totp_last_step = step
            db.session.flush()
            return True
    return False


def _hash(code: str) -> str:
    """A recovery code as stored: salted and hashed like a password (ten hex digits are 40
    bits, too few for a plain hash: ASVS 6.5.2)."""
    method = current_app.config.get("PASSWORD_HASH_METHOD", "scrypt")
    return generate_password_hash(code, method=method)
