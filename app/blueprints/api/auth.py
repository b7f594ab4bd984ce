"""API tokens: log in for a bearer token, log out, and who am I."""

from __future__ import annotations

from typing import Any

from flask import g, request
from sqlalchemy import select

from app.blueprints.api.common import Unauthorized, api_user, bp, json_body, no_content, public
from app.blueprints.api.serializers import iso, user_json
from app.engine.errors import Forbidden
from app.extensions import db
from app.i18n import zh
from app.models import ApiToken, User
from app.services.accounts import (
    TooManyAttempts,
    authenticate,
    check_second_factor,
    issue_token,
    revoke_token,
)
from app.services.totp import must_enrol


@bp.post("/tokens")
@public
def create_token() -> Any:
    """Exchange a username and password (and, with two-step verification, a code in `otp`) for
    a bearer token, rate-limited like the login form."""
    body = json_body({"username": "string", "password": "string"}, {"otp": "string"})
    address = request.remote_addr or ""
    try:
        user = authenticate(body["username"], body["password"], address)
        if user is not None and user.has_totp and body.get("otp") and \
                check_second_factor(user, body["otp"], address) is None:
            db.session.commit()  # the failed code counts towards the limit
            raise Unauthorized(zh("两步验证码不正确或已使用"), {"otp": "invalid"})
    except TooManyAttempts:
        db.session.commit()
        raise
    db.session.commit()  # keep the attempts: failures count towards the limit
    if user is None:
        raise Unauthorized(zh("用户名或密码错误"))
    if must_enrol(user):
        raise Forbidden(zh("管理员须先在网页上登录并设置两步验证"), {"otp": "enrol first"})
    if user.has_totp and not body.get("otp"):
        raise Unauthorized(zh("该账号已启用两步验证，请在 otp 中提供验证码"), {"otp": "required"})
    token = issue_token(user)
    db.session.flush()
    expires_at = _newest_token(user).expires_at
    db.session.commit()
    return {"token": token, "token_type": "Bearer", "expires_at": iso(expires_at),
            "user": user_json(user)}, 201


@bp.delete("/tokens")
def delete_token() -> Any:
    """Revoke the token this request was made with (log out)."""
    revoke_token(g.api_token, api_user())
    db.session.commit()
    return no_content()


@bp.get("/me")
def me() -> Any:
    """The user the token belongs to."""
    return user_json(api_user())


def _newest_token(user: User) -> ApiToken:
    """The token just issued to the user in this transaction."""
    token = db.session.scalar(select(ApiToken).where(ApiToken.user_id == user.id)
                              .order_by(ApiToken.id.desc()).limit(1))
    assert token is not None
    return token
