"""The city's overview of a call (charts by state and district, quotas, review progress,
deadlines, objections) and the year calendar of all calls."""

from __future__ import annotations

from typing import Any

from flask import render_template, request, url_for

from app.blueprints.admin.views import bp
from app.extensions import db
from app.models import Call, Role
from app.models.base import utcnow
from app.services.dashboards import call_overview, year_calendar
from app.web.access import roles_required
from app.web.dashboards import calendar_chart, kind_labels, overview_page
from app.web.filters import LOCAL


@bp.route("/calls/<int:call_id>/overview")
@roles_required(Role.CITY_ADMIN)
def call_overview_page(call_id: int) -> Any:
    """Where the call stands; every bar links to the entries it counts."""
    call = db.get_or_404(Call, call_id)
    return overview_page(
        call_overview(call), False,
        lambda state: url_for("admin.call", call_id=call.id, state=state),
        lambda district: url_for("admin.call", call_id=call.id, district=district))


@bp.route("/calendar")
@roles_required(Role.CITY_ADMIN)
def calendar() -> Any:
    """The year's calls on one timeline: application periods, the stages entries went
    through (from the log), deadlines set ahead; ?year= picks another year."""
    now = utcnow()
    year = request.args.get("year", type=int) or now.astimezone(LOCAL).year
    year = min(max(year, 2000), 2100)
    rows = year_calendar(year, now)
    return render_template(
        "dashboards/calendar.html", year=year, rows=rows, labels=kind_labels(),
        chart=calendar_chart(year, rows, now, lambda call_id: url_for(
            "admin.call_overview_page", call_id=call_id)))
