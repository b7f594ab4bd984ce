"""Side effects queued during a transaction and run only after it commits."""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

from sqlalchemy import event
from sqlalchemy.orm import Session

from app.extensions import db

log = logging.getLogger(__name__)
_KEY = "pingshen.after_commit"


def after_commit(func: Callable[..., Any], *args: Any) -> None:
    """Run `func(*args)` once the current transaction has committed; drop it on rollback.

    The arguments must be plain values: the session cannot run SQL at that point.
    """
    db.session.info.setdefault(_KEY, []).append((func, args))


@event.listens_for(Session, "after_commit")
def _run(session: Session) -> None:
    """Run the queued effects; a failing effect is logged, never raised into the request."""
    for func, args in session.info.pop(_KEY, []):
        try:
            func(*args)
        except Exception:
            log.exception("side effect %s failed after commit", getattr(func, "__name__", func))


@event.listens_for(Session, "after_rollback")
def _drop(session: Session) -> None:
    """Forget effects of a transaction that did not commit."""
    session.info.pop(_KEY, None)
