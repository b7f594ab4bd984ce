"""Organisations, users, logins (rate-limited) and API tokens."""

from __future__ import annotations

import hashlib
import re
import secrets
from datetime import timedelta

from flask import current_app
from sqlalchemy import delete, func, select

from app.engine.errors import NotFound, PingshenError, ValidationFailed
from app.engine.formdata import hidden_character
from app.extensions import db
from app.i18n import zh
from app.models import ApiToken, EventKind, LoginAttempt, Organisation, OrgKind, Role, User
from app.models.accounts import ORG_LEVEL
from app.models.base import utcnow
from app.services.password_rules import MAX_LENGTH, MIN_LENGTH, password_problem
from app.services.security_events import record_event

# Deliberately loose: one @, no spaces, a dot in the domain; the mail server has the last word.
PHONE = re.compile(r"^[0-9+\-() 转]{3,30}$")
EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")


class TooManyAttempts(PingshenError):
    """Login refused for a while after repeated failures."""

    status = 429
    code = "too_many_attempts"


def add_organisation(code: str, name: str, kind: str, parent_code: str | None) -> Organisation:
    """Create an organisation under its parent, keeping the tree's levels in order."""
    if kind not in {k.value for k in OrgKind}:
        raise ValidationFailed(zh("未知的机构类型：%(kind)s", kind=kind), {"kind": kind})
    if db.session.scalar(select(Organisation).filter_by(code=code)) is not None:
        raise ValidationFailed(zh("机构代码已存在：%(code)s", code=code), {"code": code})
    parent = None
    if parent_code:
        parent = db.session.scalar(select(Organisation).filter_by(code=parent_code))
        if parent is None:
            raise NotFound(zh("上级机构不存在：%(parent_code)s",
                              parent_code=parent_code), {"parent": parent_code})
        if ORG_LEVEL[OrgKind(parent.kind)] >= ORG_LEVEL[OrgKind(kind)]:
            raise ValidationFailed(zh("上级机构的层级必须高于本机构"), {"parent": parent_code})
    elif kind != OrgKind.CITY:
        raise ValidationFailed(zh("只有市级机构可以没有上级"), {"parent": None})
    if problem := hidden_character(name):
        raise ValidationFailed(zh("机构名称%(problem)s", problem=problem), {"name": problem})
    org = Organisation(code=code, name=name, kind=kind, parent=parent)
    db.session.add(org)
    db.session.flush()
    if kind == OrgKind.DISTRICT:
        org.district_id = org.id
    else:
        org.district_id = parent.district_id if parent else None
    return org


def add_user(username: str, role: str, org_code: str, password: str, name: str = "",
             title: str = "", expertise: list[str] | None = None, email: str = "",
             phone: str = "", *, password_hash: str | None = None) -> User:
    """Create a user in an organisation; district admins must sit in a district.

    ``password_hash``, when given, is the password's hash computed beforehand (a bulk import
    hashes many passwords in parallel); the password itself is still checked.
    """
    if role not in {r.value for r in Role}:
        raise ValidationFailed(zh("未知的角色：%(role)s", role=role), {"role": role})
    if db.session.scalar(select(User).filter_by(username=username)) is not None:
        raise ValidationFailed(zh("用户名已存在：%(username)s",
                                  username=username), {"username": username})
    org = db.session.scalar(select(Organisation).filter_by(code=org_code))
    if org is None:
        raise NotFound(zh("机构不存在：%(org_code)s", org_code=org_code), {"org": org_code})
    if role == Role.DISTRICT_ADMIN and org.district_id is None:
        raise ValidationFailed(zh("区级管理员必须属于某个区"), {"org": org_code})
    if problem := hidden_character(name):
        raise ValidationFailed(zh("姓名%(problem)s", problem=problem), {"name": problem})
    check_password_rules(password, username, name)
    email = check_email(email)
    tags = clean_expertise(expertise or [])
    user = User(username=username, role=role, org=org, name=name, title=title.strip()[:100],
                expertise=tags, session_nonce=secrets.token_hex(8), email=email,
                phone=check_phone(phone))
    if password_hash:
        user.password_hash = password_hash
    else:
        user.set_password(password)
    db.session.add(user)
    db.session.flush()
    return user


def clean_expertise(tags: list[str]) -> list[str]:
    """Expertise tags trimmed, de-duplicated and sorted; at most 20 of at most 30 characters."""
    cleaned = sorted({tag.strip() for tag in tags if tag.strip()})
    if any(len(tag) > 30 for tag in cleaned) or len(cleaned) > 20:
        raise ValidationFailed(zh("专长标签每个不超过 30 字，最多 20 个"), {"expertise": cleaned})
    return cleaned


def check_email(email: str) -> str:
    """The address trimmed and checked for shape; an empty address is allowed."""
    email = email.strip()
    if email and (len(email) > 254 or not EMAIL.match(email)):
        raise ValidationFailed(zh("电子邮箱格式不正确：%(email)s", email=email), {"email": email})
    return email


def check_phone(phone: str) -> str:
    """The phone number trimmed and checked: digits, + - ( ) spaces and 转, at most 30."""
    phone = phone.strip()
    if phone and (not PHONE.match(phone) or sum(c.isdigit() for c in phone) < 3):
        raise ValidationFailed(zh("电话号码格式不正确：%(phone)s", phone=phone), {"phone": phone})
    return phone


def check_password_rules(password: str, username: str = "", name: str = "") -> None:
    """Refuse a new password that is too short, too long, common or guessable
    (app/services/password_rules.py says what that means)."""
    problem = password_problem(password, username, name)
    if problem is None:
        return
    messages = {
        "too_short": zh("密码至少 %(min)s 位", min=MIN_LENGTH),
        "too_long": zh("密码不能超过 %(max)s 位", max=MAX_LENGTH),
        "common": zh("这个密码太常见，容易被猜到，请换一个"),
        "guessable": zh("密码不能是用户名、姓名、常用词或不足 12 位的纯数字，请换一个"),
    }
    raise ValidationFailed(messages[problem], {"password": problem})


def authenticate(username: str, password: str, address: str) -> User | None:
    """Check a password, recording the attempt; refuse while too many recent failures.

    A right password is not yet a login when the account has a second factor: the caller
    asks for the code next (`check_second_factor`)."""
    refuse_when_limited(username, address)
    user = db.session.scalar(select(User).filter_by(username=username))
    ok = user is not None and user.active and user.check_password(password)
    if not ok:
        record_event(EventKind.LOGIN_FAILED, user, username=username, step="password")
    record_attempt(username, address, ok, user)
    return user if ok else None


def check_second_factor(user: User, code: str, address: str) -> str | None:
    """Spend a one-time or recovery code at login, limited and counted like passwords:
    "totp" or "recovery" when it is good, else None."""
    from app.services.totp import check_code

    refuse_when_limited(user.username, address)
    used = check_code(user, code)
    record_attempt(user.username, address, used is not None, user)
    return used


def refuse_when_limited(username: str, address: str) -> None:
    """Raise TooManyAttempts while the account or the address has too many recent failures."""
    config = current_app.config
    # One account is guessed at from anywhere; one address (often a whole office behind
    # NAT) may try many accounts, so it gets a higher limit of its own.
    by_user, by_address = _recent_failures(username, address)
    if by_user >= config["LOGIN_MAX_FAILURES"] \
            or by_address >= config["LOGIN_MAX_FAILURES_PER_ADDRESS"]:
        raise TooManyAttempts(zh("登录失败次数过多，请 15 分钟后再试"), {"retry_after": 900})


def record_attempt(username: str, address: str, ok: bool, user: User | None) -> None:
    """Keep one attempt (password or code); the failure that reaches a limit is recorded as a
    lockout, once, so a locked account adds no rows however often it is tried."""
    db.session.add(LoginAttempt(username=username[:80], address=address[:64], succeeded=ok))
    if ok:
        return
    db.session.flush()
    by_user, by_address = _recent_failures(username, address)
    config = current_app.config
    if by_user == config["LOGIN_MAX_FAILURES"] \
            or by_address == config["LOGIN_MAX_FAILURES_PER_ADDRESS"]:
        record_event(EventKind.LOCKED_OUT, user, username=username,
                     failures_for_account=by_user, failures_from_address=by_address)


def _recent_failures(username: str, address: str) -> tuple[int, int]:
    """Failed attempts within the window: for this username, and from this address."""
    window = utcnow() - timedelta(seconds=current_app.config["LOGIN_WINDOW_SECONDS"])
    recent = select(func.count()).select_from(LoginAttempt).where(
        LoginAttempt.at >= window, LoginAttempt.succeeded.is_(False))
    by_user = db.session.scalar(recent.where(LoginAttempt.username == username)) or 0
    by_address = db.session.scalar(recent.where(LoginAttempt.address == address)) or 0
    return by_user, by_address


def issue_token(user: User) -> str:
    """Create an API token; only its hash is stored, the token is shown once."""
    token = secrets.token_urlsafe(32)
    hours = current_app.config["API_TOKEN_HOURS"]
    db.session.add(ApiToken(user=user, token_hash=_hash(token), session_nonce=user.session_nonce,
                            expires_at=utcnow() + timedelta(hours=hours)))
    record_event(EventKind.TOKEN_CREATED, user, hours=hours)
    return token


def user_for_token(token: str) -> User | None:
    """The active user a valid, unexpired token belongs to."""
    row = db.session.scalar(select(ApiToken).filter_by(token_hash=_hash(token)))
    if row is None or row.expires_at <= utcnow():
        return None
    user = row.user
    if not user.active or row.session_nonce != user.session_nonce:
        return None
    return user


def revoke_token(token: str, user: User) -> None:
    """Delete a token (API logout)."""
    db.session.execute(delete(ApiToken).where(ApiToken.token_hash == _hash(token)))
    record_event(EventKind.TOKEN_REVOKED, user)


def change_password(user: User, password: str, how: str = "own") -> None:
    """Set a new password and end every other session and token of the user; `how` says who
    set it for the security events: "own", "link" (the e-mailed link) or the administrator's
    username."""
    check_password_rules(password, user.username, user.name)
    user.set_password(password)
    user.session_nonce = secrets.token_hex(8)
    kind = EventKind.PASSWORD_CHANGED if how == "own" else EventKind.PASSWORD_RESET
    record_event(kind, user, by=how)


def user_by_session_id(session_id: str) -> User | None:
    """Resolve Flask-Login's "id:nonce" to a user whose sessions are still valid."""
    user_id, _, nonce = session_id.partition(":")
    if not user_id.isdigit():
        return None
    user = db.session.get(User, int(user_id))
    if user is None or user.session_nonce != nonce:
        return None
    return user


def _hash(token: str) -> str:
    """SHA-256 of a token, as stored."""
    return hashlib.sha256(token.encode()).hexdigest()
