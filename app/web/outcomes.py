"""The one way a form's POST ends: run the service, commit or roll back, say so, go back."""

from __future__ import annotations

from collections.abc import Callable

from flask import flash, redirect
from werkzeug.wrappers import Response

from app.engine.errors import PingshenError, ValidationFailed
from app.extensions import db
from app.i18n import english, joined


def explain(exc: PingshenError) -> str:
    """The error's message, with the reasons or field messages its details carry."""
    details = exc.details if isinstance(exc.details, dict) else {}
    parts = details.get("reasons") or ([v for v in details.values() if isinstance(v, str)]
                                       if isinstance(exc, ValidationFailed) else [])
    return exc.message + ((": " if english() else "：") + joined(parts, "；") if parts else "")


def act_and_return(action: Callable[[], object], done: str, target: str) -> Response:
    """Run `action`; commit and flash `done`, or roll back and flash why; redirect to `target`."""
    try:
        action()
    except PingshenError as exc:
        db.session.rollback()
        flash(explain(exc), "error")
    else:
        db.session.commit()
        flash(done, "success")
    return redirect(target)


def download_or_return(make: Callable[[], Response], target: str) -> Response:
    """Build a download (committing what it logs); on a refusal, roll back, flash why and go
    back to ``target`` — the one way a download page ends."""
    try:
        response = make()
    except PingshenError as exc:
        db.session.rollback()
        flash(explain(exc), "error")
        return redirect(target)
    db.session.commit()
    return response
