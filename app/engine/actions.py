"""The named actions a workflow may run inside the transaction, after the move."""

from __future__ import annotations

from typing import TYPE_CHECKING

from app.engine.registry import Param, action

if TYPE_CHECKING:
    from app.engine.runtime import Context


@action("stamp_submitted", "Record the time of (re)submission on the entry.")
def stamp_submitted(ctx: Context) -> None:
    """Set the entry's submission time to now."""
    ctx.application.submitted_at = ctx.now


@action("issue_certificate",
        "Issue the programme's certificate (serial, verification code); the background "
        "worker draws the PDF after the transaction commits.")
def issue_certificate(ctx: Context) -> None:
    """Create the certificate row for the entry; rendering is a side effect after commit."""
    from app.services.certificates import issue_certificate as issue
    from app.services.certificates import render_later

    render_later(issue(ctx.application, ctx.programme, ctx.now))


@action("recommend_upward",
        "Record that the entry is recommended to a higher level (e.g. 省级); the call's "
        "recommended entries are exported with their dossiers.",
        {"level": Param("text", required=True, max_length=40, help="the level, e.g. 省级")})
def recommend_upward(ctx: Context, level: str) -> None:
    """Mark the entry as recommended to ``level``."""
    ctx.application.recommended_to = level
    ctx.application.recommended_at = ctx.now


@action("set_award",
        "Record a level as the entry's award, e.g. 合格 after a re-inspection passed; it is "
        "what the certificate prints.",
        {"level": Param("text", required=True, max_length=40, help="the level, e.g. 合格")})
def set_award(ctx: Context, level: str) -> None:
    """Set the entry's award to ``level``."""
    ctx.application.award = level
