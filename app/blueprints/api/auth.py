"""API tokens: log in for a bearer token, log out, and who am I."""

from __future__ import annotations

from typing import Any

from flask import g, request
from sqlalchemy import select

from app.blueprints.api.common import Unauthorized, api_user, bp, json_body, no_content, public
from app.blueprints.api.serializers import iso, user_json
from app.extensions import db
from app.i18n import zh
from app.models import ApiToken, User
from app.services.accounts import authenticate, issue_token, revoke_token


@bp.post("/tokens")
@public
def create_token() -> Any:
    """Exchange a username and password for a bearer token (rate-limited like the login form)."""
    body = json_body({"username": "string", "password": "string"})
    user = authenticate(body["username"], body["password"], request.remote_addr or "")
    if user is None:
        db.session.commit()  # keep the failed attempt: it counts towards the limit
        raise Unauthorized(zh("用户名或密码错误"))
    token = issue_token(user)
    db.session.flush()
    expires_at = _newest_token(user).expires_at
    db.session.commit()
    return {"token": token, "token_type": "Bearer", "expires_at": iso(expires_at),
            "user": user_json(user)}, 201


@bp.delete("/tokens")
def delete_token() -> Any:
    """Revoke the token this request was made with (log out)."""
    revoke_token(g.api_token)
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
