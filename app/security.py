"""Sessions, login loading, database pragmas, security headers and error responses."""

from __future__ import annotations

import logging
import sqlite3
from datetime import timedelta
from typing import Any

from flask import Flask, Response, current_app, g, jsonify, render_template, request
from flask_login import current_user
from sqlalchemy import event, func, select
from sqlalchemy.engine import Engine
from sqlalchemy.exc import OperationalError
from sqlalchemy.orm.exc import StaleDataError
from werkzeug.exceptions import HTTPException, SecurityError

from app import session_limits
from app.engine.errors import PingshenError
from app.extensions import db, login_manager
from app.i18n import zh, zh_mark
from app.models.base import utcnow
from app.models.security import EventKind

PERMISSIONS = "camera=(), microphone=(), geolocation=(), payment=(), usb=()"
# No page is ever framed, not even by the app itself; no <base> (ASVS 3.4.3, 3.4.6).
CSP = ("default-src 'self'; img-src 'self' data:; style-src 'self'; script-src 'self'; "
       "object-src 'none'; frame-ancestors 'none'; base-uri 'none'; form-action 'self'")


def init_app(app: Flask) -> None:
    """Wire login loading, headers and error handlers into the app."""
    login_manager.init_app(app)
    login_manager.login_view = "auth.login"
    login_manager.login_message = zh_mark("请先登录")
    login_manager.localize_callback = zh
    login_manager.session_protection = "strong"
    session_limits.init_app(app)
    _security_log(app)
    app.before_request(_refuse_nul)
    app.after_request(_security_headers)
    app.after_request(_record_download)
    app.register_error_handler(PingshenError, _domain_error)
    app.register_error_handler(HTTPException, _http_error)
    app.register_error_handler(OperationalError, _database_busy)
    app.register_error_handler(StaleDataError, _changed_meanwhile)


def _security_log(app: Flask) -> None:
    """SECURITY_LOG=stderr: each committed security event as a JSON line on standard error,
    where gunicorn and systemd hand it to journald or syslog (and on to a log host)."""
    logger = logging.getLogger("pingshen.security")
    if app.config["SECURITY_LOG"] == "stderr" and not logger.handlers:
        handler = logging.StreamHandler()
        handler.setFormatter(logging.Formatter("pingshen.security %(message)s"))
        logger.addHandler(handler)
        logger.setLevel(logging.INFO)
        logger.propagate = False


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
    """Headers every response carries (HSTS when the site runs behind HTTPS)."""
    response.headers.setdefault("Content-Security-Policy", CSP)
    response.headers.setdefault("X-Content-Type-Options", "nosniff")
    response.headers.setdefault("X-Frame-Options", "DENY")
    response.headers.setdefault("Referrer-Policy", "same-origin")
    response.headers.setdefault("Permissions-Policy", PERMISSIONS)
    response.headers.setdefault("Cross-Origin-Opener-Policy", "same-origin")
    if current_app.config["SESSION_COOKIE_SECURE"]:
        response.headers.setdefault("Strict-Transport-Security",
                                    "max-age=31536000; includeSubDomains")
    return response


def _refuse_nul() -> Any:
    """Refuse a NUL character anywhere a request carries text: no person types one, PostgreSQL
    cannot store it (the database would fail mid-request) and SQLite would keep it invisibly."""
    sent: list[Any] = [request.path, request.args, request.form,
            [upload.filename for upload in request.files.values()]]
    if request.is_json:
        sent.append(request.get_json(silent=True))
    if _holds_nul(sent):
        return error_response(400, "bad_request", zh("提交的内容含有空字符（NUL），请删除后重试"),
                              {"reason": "nul character"})
    return None


def _holds_nul(value: Any) -> bool:
    """Whether a string, or any key or value inside lists and mappings, contains NUL."""
    if isinstance(value, str):
        return "\x00" in value
    if hasattr(value, "items"):
        items = value.items(multi=True) if hasattr(value, "getlist") else value.items()
        return any(_holds_nul(k) or _holds_nul(v) for k, v in items)
    if isinstance(value, list | tuple):
        return any(_holds_nul(item) for item in value)
    return False


def _record_download(response: Response) -> Response:
    """A file handed to a known user (any export, print or download: every such response names
    its file in Content-Disposition) is a security event."""
    if response.status_code == 200 and "Content-Disposition" in response.headers:
        user = _requester()
        if user is not None:
            from app.services.security_events import record_event

            record_event(EventKind.DOWNLOAD, user, endpoint=request.endpoint or "",
                         file=response.headers["Content-Disposition"][:300])
            db.session.commit()
    return response


def _record_refusal() -> None:
    """Record a 403 for a logged-in user or token holder, at most REFUSAL_EVENTS_PER_MINUTE a
    minute per account (more are refused all the same, but not written)."""
    from app.models import SecurityEvent
    from app.services.security_events import record_event

    user = _requester()
    if user is None:
        return
    since = utcnow() - timedelta(minutes=1)
    recent = db.session.scalar(select(func.count()).select_from(SecurityEvent).where(
        SecurityEvent.kind == EventKind.REFUSED, SecurityEvent.user_id == user.id,
        SecurityEvent.at >= since)) or 0
    if recent < current_app.config["REFUSAL_EVENTS_PER_MINUTE"]:
        record_event(EventKind.REFUSED, user, method=request.method,
                     endpoint=request.endpoint or "")
        db.session.commit()


def _requester() -> Any:
    """The logged-in user (pages) or the token's user (API), or None."""
    if g.get("api_user") is not None:
        return g.api_user
    if wants_json():  # an API call without a valid token: no session user counts
        return None
    return current_user if current_user.is_authenticated else None


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
    db.session.rollback()
    if exc.status == 403:
        _record_refusal()
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
    503: zh_mark("系统繁忙，请稍后再试，本次操作未保存"),
}
# Seconds a client is asked to wait when SQLite is still locked after the busy timeout.
BUSY_RETRY_AFTER = 5


def _changed_meanwhile(_exc: StaleDataError) -> Any:
    """A row changed by another request between loading and saving (its version moved on,
    e.g. an edit racing a submission): a conflict to reload, not a server error."""
    db.session.rollback()
    return error_response(409, "conflict", zh(HTTP_MESSAGES[409]))


def _http_error(exc: HTTPException) -> Any:
    """Werkzeug errors (404, 405, 413, CSRF 400...) in the same shapes."""
    status = exc.code or 500
    if status >= 500:  # the request's transaction failed: the page reads the user afresh
        db.session.rollback()
    if status == 403:
        db.session.rollback()
        _record_refusal()
    message = zh(HTTP_MESSAGES[status]) if status in HTTP_MESSAGES else exc.name
    if status == 400 and "CSRF" in (exc.description or ""):
        message = zh("页面已过期（CSRF 校验失败），请刷新后重试")
    headers = {k: v for k, v in exc.get_headers() if k in ("Allow", "Retry-After")}
    if isinstance(exc, SecurityError) and not wants_json():
        # A Host not in TRUSTED_HOSTS: no URL can be built for it, so no page either.
        return Response(message, status, mimetype="text/plain")
    return error_response(status, exc.name.lower().replace(" ", "_"), message, headers=headers)


def _database_busy(exc: OperationalError) -> Any:
    """SQLite still locked by another writer after the busy timeout: the transaction is rolled
    back (nothing was written) and the client is asked to try again, never given a 500."""
    db.session.rollback()
    if "database is locked" not in str(exc.orig):
        raise exc  # any other database failure stays a server error
    return error_response(503, "service_unavailable", zh(HTTP_MESSAGES[503]),
                          headers={"Retry-After": str(BUSY_RETRY_AFTER)})
