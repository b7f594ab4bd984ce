"""Sessions, login loading, database pragmas, security headers and error responses."""

from __future__ import annotations

import sqlite3
from typing import Any

from flask import Flask, Response, jsonify, render_template, request
from sqlalchemy import event
from sqlalchemy.engine import Engine
from sqlalchemy.orm.exc import StaleDataError
from werkzeug.exceptions import HTTPException

from app.engine.errors import PingshenError
from app.extensions import login_manager
from app.i18n import zh, zh_mark

CSP = ("default-src 'self'; img-src 'self' data:; style-src 'self'; script-src 'self'; "
       "object-src 'none'; frame-ancestors 'self'; base-uri 'self'; form-action 'self'")


def init_app(app: Flask) -> None:
    """Wire login loading, headers and error handlers into the app."""
    login_manager.init_app(app)
    login_manager.login_view = "auth.login"
    login_manager.login_message = zh_mark("请先登录")
    login_manager.localize_callback = zh
    login_manager.session_protection = "strong"
    app.after_request(_security_headers)
    app.register_error_handler(PingshenError, _domain_error)
    app.register_error_handler(HTTPException, _http_error)
    app.register_error_handler(StaleDataError, _changed_meanwhile)


@login_manager.user_loader
def _load_user(session_id: str) -> Any:
    """Resolve the session's "id:nonce" (a password change ends old sessions)."""
    from app.services.accounts import user_by_session_id

    return user_by_session_id(session_id)


@event.listens_for(Engine, "connect")
def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    """SQLite: WAL for concurrent readers, enforced foreign keys, wait instead of failing."""
    if isinstance(dbapi_connection, sqlite3.Connection):
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute("PRAGMA busy_timeout=10000")
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.close()


@event.listens_for(Engine, "savepoint")
def _sqlite_begin_before_savepoint(connection: Any, _name: str) -> None:
    """SQLite: open the transaction before a first SAVEPOINT. The sqlite3 driver begins one
    only before INSERT, UPDATE or DELETE; a SAVEPOINT sent first opened a transaction of its
    own, which its RELEASE committed at once: the rest of the request was no longer all or
    nothing."""
    driver = connection.connection.driver_connection
    if isinstance(driver, sqlite3.Connection) and not driver.in_transaction:
        driver.execute("BEGIN")


def _security_headers(response: Response) -> Response:
    """Headers every response carries."""
    response.headers.setdefault("Content-Security-Policy", CSP)
    response.headers.setdefault("X-Content-Type-Options", "nosniff")
    response.headers.setdefault("X-Frame-Options", "SAMEORIGIN")
    response.headers.setdefault("Referrer-Policy", "same-origin")
    return response


def wants_json() -> bool:
    """API paths answer in JSON."""
    return request.path.startswith("/api/")


def error_response(status: int, code: str, message: str, details: Any = None,
                   headers: Any = None) -> Any:
    """An error as JSON {error, message, details} for the API, or a Chinese page."""
    if wants_json():
        body = jsonify(error=code, message=message, details=details or {})
        return body, status, headers or {}
    return render_template("errors/error.html", status=status, message=message,
                           details=details), status, headers or {}


def _domain_error(exc: PingshenError) -> Any:
    """Engine and service errors keep their status and message."""
    from app.extensions import db

    db.session.rollback()
    headers = {}
    if isinstance(exc.details, dict) and "retry_after" in exc.details:
        headers["Retry-After"] = str(exc.details["retry_after"])
    return error_response(exc.status, exc.code, exc.message, exc.details, headers=headers)


HTTP_MESSAGES = {  # translated when shown, with zh()
    400: zh_mark("请求有误"), 401: zh_mark("请先登录"),
    403: zh_mark("您没有权限访问此页面"), 404: zh_mark("页面或对象不存在"),
    405: zh_mark("不支持此请求方式"), 409: zh_mark("数据已被修改，请刷新后重试"),
    413: zh_mark("上传的文件太大"), 410: zh_mark("该证书已撤销或已被替换，不再提供下载"),
    429: zh_mark("请求过于频繁，请稍后再试"), 500: zh_mark("服务器内部错误，请稍后再试"),
}


def _changed_meanwhile(_exc: StaleDataError) -> Any:
    """A row changed by another request between loading and saving (its version moved on,
    e.g. an edit racing a submission): a conflict to reload, not a server error."""
    from app.extensions import db

    db.session.rollback()
    return error_response(409, "conflict", zh(HTTP_MESSAGES[409]))


def _http_error(exc: HTTPException) -> Any:
    """Werkzeug errors (404, 405, 413, CSRF 400...) in the same shapes."""
    status = exc.code or 500
    message = zh(HTTP_MESSAGES[status]) if status in HTTP_MESSAGES else exc.name
    if status == 400 and "CSRF" in (exc.description or ""):
        message = zh("页面已过期（CSRF 校验失败），请刷新后重试")
    headers = {k: v for k, v in exc.get_headers() if k in ("Allow", "Retry-After")}
    return error_response(status, exc.name.lower().replace(" ", "_"), message, headers=headers)
