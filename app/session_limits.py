"""How long a login lasts (ASVS 5.0 V7.3): at most SESSION_HOURS from the moment it was made,
and it ends after SESSION_IDLE_MINUTES without a request.

The session cookie is signed but kept by the browser, so both moments are written into it and
checked on every request; the signature's own age (PERMANENT_SESSION_LIFETIME) stays as a
backstop. The last-seen moment is rewritten at most once a minute (or a tenth of the idle
limit, if shorter), so a busy page does not set a new cookie on every request.
"""

from __future__ import annotations

import time

from flask import Flask, current_app, session
from flask_login import current_user, logout_user, user_logged_in

LOGIN_AT, SEEN_AT = "login_at", "seen_at"
SEEN_RESOLUTION = 60  # seconds


def init_app(app: Flask) -> None:
    """Stamp each login and check both limits before every request."""
    user_logged_in.connect(_stamp, app)
    app.before_request(_end_expired_login)


def _stamp(_app: Flask, user: object) -> None:
    """A new login starts both clocks."""
    session[LOGIN_AT] = session[SEEN_AT] = time.time()


def _end_expired_login() -> None:
    """Log out a session past its absolute or idle limit; otherwise note it was seen."""
    if not current_user.is_authenticated:  # also every API call: tokens have their own hours
        return
    now, idle = time.time(), current_app.config["SESSION_IDLE_MINUTES"] * 60
    login_at, seen_at = session.get(LOGIN_AT, 0), session.get(SEEN_AT, 0)
    if now - login_at > current_app.config["PERMANENT_SESSION_LIFETIME"] or now - seen_at > idle:
        logout_user()
        session.pop(LOGIN_AT, None)
        session.pop(SEEN_AT, None)
        return
    if now - seen_at >= min(SEEN_RESOLUTION, idle / 10):
        session[SEEN_AT] = now
