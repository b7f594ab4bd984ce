"""The API blueprint and what every handler shares: bearer tokens, JSON bodies, loading objects."""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any, TypeVar

from flask import Blueprint, Response, current_app, g, request
from werkzeug.exceptions import BadRequest

from app.engine.errors import Forbidden, NotFound, PingshenError, ValidationFailed
from app.extensions import csrf, db
from app.i18n import joined, zh, zh_mark
from app.models import Application, User
from app.permissions import can_edit_application, can_view_application
from app.routing import MAX_ID
from app.services.accounts import user_for_token

bp = Blueprint("api", __name__)
csrf.exempt(bp)  # bearer tokens only: no cookies, so nothing for CSRF to forge

PUBLIC = "api_public"
MAX_BULK = 500  # application ids in one request
Model = TypeVar("Model")
View = TypeVar("View", bound=Callable[..., Any])

# JSON kinds a body key may have, with the check and the message when it fails.
KINDS: dict[str, tuple[Callable[[Any], bool], str]] = {
    "string": (lambda v: isinstance(v, str), zh_mark("应为字符串")),
    "integer": (lambda v: isinstance(v, int) and not isinstance(v, bool), zh_mark("应为整数")),
    "boolean": (lambda v: isinstance(v, bool), zh_mark("应为 true 或 false")),
    "object": (lambda v: isinstance(v, dict), zh_mark("应为 JSON 对象")),
    "array": (lambda v: isinstance(v, list), zh_mark("应为数组")),
}


class Unauthorized(PingshenError):
    """No valid bearer token, or wrong credentials."""

    status = 401
    code = "unauthorized"


class MalformedRequest(PingshenError):
    """The body is not JSON, not an object, or lacks a required key."""

    status = 400
    code = "bad_request"


def public(view: View) -> View:
    """Mark a view as reachable without a token."""
    setattr(view, PUBLIC, True)
    return view


@bp.before_request
def authenticate_bearer() -> None:
    """Resolve `Authorization: Bearer <token>`; every view not marked public needs one."""
    g.api_user = g.api_token = None
    view = current_app.view_functions.get(request.endpoint or "")
    if request.method == "OPTIONS" or getattr(view, PUBLIC, False):
        return
    scheme, _, token = request.headers.get("Authorization", "").strip().partition(" ")
    token = token.strip()
    if scheme.lower() != "bearer" or not token:
        raise Unauthorized(zh("缺少访问令牌，请在 Authorization 头中提供 Bearer 令牌"))
    user = user_for_token(token)
    if user is None:
        raise Unauthorized(zh("访问令牌无效或已过期，请重新获取"), {"token": "invalid"})
    g.api_user, g.api_token = user, token


@bp.after_request
def api_headers(response: Response) -> Response:
    """Never cache API answers; tell clients how to authenticate after a 401."""
    response.headers["Cache-Control"] = "no-store"
    if response.status_code == 401:
        response.headers["WWW-Authenticate"] = 'Bearer realm="pingshen"'
    return response


def api_user() -> User:
    """The user the bearer token belongs to."""
    user: User = g.api_user
    return user


def require_role(*roles: str) -> User:
    """The caller, or 403 when their role is not one of `roles`."""
    user = api_user()
    if user.role not in roles:
        raise Forbidden(zh("您的角色无权执行此操作"), {"role": user.role, "allowed": list(roles)})
    return user


def find(model: type[Model], ident: int) -> Model | None:
    """A row by primary key; None for ids no integer column holds (PostgreSQL refuses them)."""
    return db.session.get(model, ident) if 0 < ident <= MAX_ID else None


def get_or_404(model: type[Model], ident: int, message: str) -> Model:
    """Load a row by primary key, or raise a JSON 404."""
    row = find(model, ident)
    if row is None:
        raise NotFound(message, {"id": ident})
    return row


def viewable_application(application_id: int) -> Application:
    """Load an application (404) that the caller may see (403)."""
    application = get_or_404(Application, application_id, zh("申报不存在"))
    if not can_view_application(api_user(), application):
        raise Forbidden(zh("您无权查看该申报"), {"application_id": application_id})
    return application


def editable_application(application_id: int) -> Application:
    """Load an application the caller may see (403) and change now (403)."""
    application = viewable_application(application_id)
    if not can_edit_application(api_user(), application):
        raise Forbidden(zh("当前状态下您不能修改该申报"), {"state": application.state})
    return application


def json_body(required: dict[str, str], optional: dict[str, str] | None = None) -> dict[str, Any]:
    """The request's JSON object: 400 when malformed or keys are missing, 422 on wrong kinds.

    Keys given as null count as absent; unknown keys are ignored.
    """
    try:
        body = request.get_json(force=True)
    except BadRequest:
        raise MalformedRequest(zh("请求体不是有效的 JSON")) from None
    if not isinstance(body, dict):
        raise MalformedRequest(zh("请求体应为 JSON 对象"))
    missing = {key: zh("此项为必填项") for key in required if body.get(key) is None}
    if missing:
        raise MalformedRequest(zh("请求缺少必填项：%(missing)s", missing=joined(missing)), missing)
    kinds = {**required, **(optional or {})}
    given = {key: body[key] for key in kinds if body.get(key) is not None}
    errors = {key: zh(KINDS[kinds[key]][1]) for key, value in given.items()
              if not KINDS[kinds[key]][0](value)}
    if errors:
        raise ValidationFailed(zh("请求中有取值类型不正确的项"), errors)
    return given


IDEMPOTENCY_KEY = re.compile(r"[\x21-\x7e]{1,64}")  # visible ASCII, as in a UUID


def idempotency_key() -> str | None:
    """The request's ``Idempotency-Key`` header (422 when it is not 1-64 visible ASCII
    characters), or None without one."""
    raw = request.headers.get("Idempotency-Key")
    if raw is None:
        return None
    if not IDEMPOTENCY_KEY.fullmatch(raw.strip()):
        message = zh("Idempotency-Key 应为 1 至 64 个可见的 ASCII 字符")
        raise ValidationFailed(message, {"Idempotency-Key": message})
    return raw.strip()


def application_ids(value: list[Any]) -> list[int]:
    """Distinct application ids in the given order (422 unless 1..MAX_BULK positive integers)."""
    if not value or len(value) > MAX_BULK or not all(
            isinstance(i, int) and not isinstance(i, bool) and 0 < i <= MAX_ID for i in value):
        raise ValidationFailed(zh("application_ids 应为 1 至 %(max_bulk)s 个申报编号",
                                  max_bulk=MAX_BULK),
                               {"application_ids": zh("应为正整数数组")})
    return list(dict.fromkeys(value))


def query_int(name: str, default: int | None = None, minimum: int = 1) -> int | None:
    """An integer query parameter (422 when it is not a whole number >= minimum)."""
    raw = request.args.get(name, "").strip()
    if not raw:
        return default
    if not re.fullmatch(r"-?[0-9]{1,9}", raw) or int(raw) < minimum:
        raise ValidationFailed(zh("参数 %(name)s 应为不小于 %(minimum)s 的整数",
                                  name=name, minimum=minimum), {name: raw[:40]})
    return int(raw)


def no_content() -> Response:
    """An empty 204 answer."""
    return Response(status=204)
