"""Access helpers for the HTML views: role checks and loading an application one may view."""

from __future__ import annotations

from collections.abc import Callable
from functools import wraps
from typing import Any

from flask import abort
from flask_login import current_user, login_required

from app.extensions import db
from app.models import Application
from app.permissions import can_view_application


def roles_required(*roles: str) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    """Require a logged-in user with one of `roles` (anonymous → login page, others → 403)."""

    def decorate(view: Callable[..., Any]) -> Callable[..., Any]:
        """Wrap one view."""
        @wraps(view)
        @login_required
        def wrapped(*args: Any, **kwargs: Any) -> Any:
            """Refuse other roles, then run the view."""
            if current_user.role not in roles:
                abort(403)
            return view(*args, **kwargs)

        return wrapped

    return decorate


def load_application(application_id: int) -> Application:
    """The application with this id (404), if the current user may view it (else 403)."""
    application = db.get_or_404(Application, application_id)
    if not can_view_application(current_user, application):
        abort(403)
    return application
