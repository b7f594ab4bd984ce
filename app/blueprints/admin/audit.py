"""The audit log page: every move of every entry, filtered by who, call, action and date."""

from __future__ import annotations

from datetime import date
from typing import Any

from flask import render_template, request
from sqlalchemy import select

from app.blueprints.admin.views import bp
from app.blueprints.applications.presenters import history_row
from app.extensions import db
from app.models import Call, Role
from app.services.audit import SYSTEM, AuditFilter, action_choices, audit_query
from app.services.programmes import programme_of
from app.web.access import roles_required

PER_PAGE = 50


@bp.route("/audit")
@roles_required(Role.CITY_ADMIN)
def audit() -> Any:
    """The log, newest first (?order=oldest), 50 a page, searched in titles and comments (?q=);
    a date the browser sent malformed is ignored."""
    chosen = AuditFilter(user=request.args.get("user", "").strip(),
                         call_id=request.args.get("call", type=int),
                         action=request.args.get("action", ""),
                         since=day_from(request.args.get("since")),
                         until=day_from(request.args.get("until")),
                         text=request.args.get("q", "").strip()[:100],
                         oldest_first=request.args.get("order") == "oldest")
    page = db.paginate(audit_query(chosen), per_page=PER_PAGE, error_out=False)
    calls = list(db.session.scalars(select(Call).order_by(Call.opens_at.desc(), Call.id.desc())))
    rows = [history_row(programme_of(entry.application), entry, with_data=False)
            for entry in page.items]
    return render_template("admin/audit.html", page=page, rows=rows, chosen=chosen,
                           calls=calls, actions=action_choices(), system=SYSTEM)


def day_from(text: str | None) -> date | None:
    """A YYYY-MM-DD date from the query string, or None."""
    try:
        return date.fromisoformat(text) if text else None
    except ValueError:
        return None
