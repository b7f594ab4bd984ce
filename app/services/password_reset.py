"""A forgotten password reset by e-mail: a signed link valid for an hour, good for one use.

The link carries the user's id and session nonce, signed with the app's secret key; setting a
password changes the nonce, so a used link (and every older one) stops working, as do the
user's sessions. Asking never tells whether an account exists: the same answer is given either
way, and at most a few links an hour go to one account.
"""

from __future__ import annotations

from datetime import timedelta

from flask import current_app
from itsdangerous import BadSignature, URLSafeTimedSerializer
from sqlalchemy import func, or_, select

from app.engine.errors import ValidationFailed
from app.extensions import db
from app.i18n import writing_to, zh
from app.models import OutboxMessage, User
from app.models.base import utcnow
from app.services.accounts import change_password
from app.services.mail import send_mail_to
from app.services.notifications import absolute, site_path

EVENT = "password_reset"
SALT = "pingshen.password-reset"
PER_HOUR = 3


def request_reset(identifier: str) -> bool:
    """Mail a reset link to the active account named by username or e-mail, if it has an
    address and has not had PER_HOUR links in the last hour; whether one was sent."""
    identifier = identifier.strip()
    if not identifier:
        return False
    user = db.session.scalar(select(User).where(
        User.active.is_(True),
        or_(User.username == identifier,
            (func.lower(User.email) == identifier.lower()) & (User.email != ""))))
    if user is None or not user.email:
        return False
    recent = db.session.scalar(select(func.count()).select_from(OutboxMessage).where(
        OutboxMessage.user_id == user.id, OutboxMessage.event == EVENT,
        OutboxMessage.created_at >= utcnow() - timedelta(hours=1))) or 0
    if recent >= PER_HOUR:
        return False
    link = absolute(site_path("auth.reset_password", token=_serializer().dumps(
        {"user": user.id, "nonce": user.session_nonce})))
    hours = current_app.config["PASSWORD_RESET_SECONDS"] // 3600
    with writing_to(user):  # in the account's language, not the asker's
        subject = zh("评审系统：重置密码")
        body = zh("%(name)s，您好：\n\n"
                  "有人（希望是您本人）申请重置评审系统账号 %(username)s 的密码。"
                  "请在 %(hours)s 小时内打开下面的链接设置新密码，链接只能使用一次：\n\n"
                  "%(link)s\n\n"
                  "如果不是您本人申请，请忽略本邮件，您的密码不会改变。",
                  name=user.display_name, username=user.username, hours=hours, link=link)
    send_mail_to(user, subject, body, event=EVENT)
    return True


def user_for_link(token: str) -> User | None:
    """The active user a reset link is for, while it is fresh and unused; else None."""
    try:
        claims = _serializer().loads(token, max_age=current_app.config["PASSWORD_RESET_SECONDS"])
    except BadSignature:  # also SignatureExpired
        return None
    user = db.session.get(User, claims.get("user")) if isinstance(claims, dict) else None
    if user is None or not user.active or user.session_nonce != claims.get("nonce"):
        return None
    return user


def reset_password(token: str, password: str) -> User:
    """Set the password the link's owner chose; the link is spent with it."""
    user = user_for_link(token)
    if user is None:
        raise ValidationFailed(zh("重置链接已失效（已使用或超过有效期），请重新申请"),
                               {"token": "invalid"})
    change_password(user, password, how="link")
    return user


def _serializer() -> URLSafeTimedSerializer:
    """Links signed with the app's secret key, for this purpose only."""
    return URLSafeTimedSerializer(current_app.config["SECRET_KEY"], salt=SALT)
