"""The district's submitted entries per call, with filters, the quota used per call and each
call's overview restricted to the district."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from flask import Blueprint, abort, render_template, request, url_for
from flask_login import current_user
from sqlalchemy import func, select
from sqlalchemy.orm import joinedload

from app.engine.definitions import Programme
from app.extensions import db
from app.models import Application, Call, Organisation, Role
from app.models.base import contains
from app.services.applications import visible_applications
from app.services.dashboards import call_overview, quota_states
from app.services.programmes import catalogue, programme_of
from app.web.access import roles_required
from app.web.dashboards import overview_page

bp = Blueprint("district", __name__)
PER_PAGE = 50


@dataclass(frozen=True)
class QuotaUse:
    """How much of a call's quota the district has used."""

    call: Call
    quota: int | None
    used: int
    waiting: int
    minimum: int | None = None

    @property
    def left(self) -> int | None:
        """Places still free (None: no limit)."""
        return None if self.quota is None else max(self.quota - self.used, 0)


@bp.route("/")
@roles_required(Role.DISTRICT_ADMIN)
def home() -> Any:
    """List the district's submitted entries (filter by call and state, search the title and
    the unit) and quota use."""
    calls = list(db.session.scalars(select(Call).order_by(Call.opens_at.desc(), Call.id.desc())))
    call_id = request.args.get("call", type=int)
    state = request.args.get("state", "")
    query = visible_applications(current_user).options(joinedload(Application.org))
    if call_id:
        query = query.where(Application.call_id == call_id)
    if state:
        query = query.where(Application.state == state)
    if needle := request.args.get("q", "").strip():
        units = select(Organisation.id).where(contains(Organisation.name, needle))
        query = query.where(contains(Application.title, needle) | Application.org_id.in_(units))
    page = db.paginate(query, per_page=PER_PAGE, error_out=False)
    return render_template(
        "district/home.html", calls=calls, call_id=call_id, state=state, page=page,
        q=request.args.get("q", ""),
        rows=[(app, programme_of(app)) for app in page.items],
        quotas=quota_uses(calls, current_user.district_id),
        states=state_choices(calls))


@bp.route("/calls/<int:call_id>")
@roles_required(Role.DISTRICT_ADMIN)
def call_overview_page(call_id: int) -> Any:
    """The city's overview of a call, restricted to the administrator's own district."""
    call = db.get_or_404(Call, call_id)
    if current_user.district_id is None:
        abort(403)
    return overview_page(
        call_overview(call, current_user.district_id), True,
        lambda state: url_for("district.home", call=call.id, state=state),
        lambda _district: url_for("district.home", call=call.id))


def waiting_states(programme: Programme) -> set[str]:
    """The states in which an entry waits for a district administrator's decision."""
    return {source for t in programme.transitions if Role.DISTRICT_ADMIN in t["roles"]
            for source in t["source"]}


def quota_use(call: Call, district_id: int | None) -> QuotaUse:
    """The district's quota in a call, the entries counted against it, those waiting."""
    return quota_uses([call], district_id)[0]


def quota_uses(calls: list[Call], district_id: int | None) -> list[QuotaUse]:
    """The district's quota use in each call (one query for them all)."""
    by_call: dict[int, dict[str, int]] = {call.id: {} for call in calls}
    for call_id, state, n in db.session.execute(
            select(Application.call_id, Application.state, func.count())
            .where(Application.call_id.in_(by_call), Application.district_id == district_id)
            .group_by(Application.call_id, Application.state)):
        by_call[call_id][state] = n
    uses = []
    for call in calls:
        programme = catalogue().get(call.programme_key)
        counted = quota_states(programme) if programme else set()
        waiting = waiting_states(programme) if programme else set()
        rows = by_call[call.id]
        uses.append(QuotaUse(call, call.quota_for(district_id),
                             sum(n for state, n in rows.items() if state in counted),
                             sum(n for state, n in rows.items() if state in waiting),
                             call.minimum_for(district_id)))
    return uses


def state_choices(calls: list[Call]) -> list[tuple[str, dict[str, Any]]]:
    """The states of the calls' programmes (each once, in definition order)."""
    seen: dict[str, dict[str, Any]] = {}
    for key in dict.fromkeys(call.programme_key for call in calls):
        programme = catalogue().get(key)
        for name, state in (programme.states.items() if programme else ()):
            seen.setdefault(name, state)
    return list(seen.items())
