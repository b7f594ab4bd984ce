"""Review progress of a call's round: per expert (with their score distribution) and per entry."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from flask import abort, render_template, request

from app.blueprints.admin.views import bp
from app.extensions import db
from app.models import Call, Role
from app.review.calibration import expert_distribution
from app.services.programmes import current_programme
from app.services.review_progress import STAGES, review_progress
from app.services.rounds import round_sheets, round_status
from app.web.access import roles_required
from app.web.paging import ListPage

PER_PAGE = 50


@bp.route("/calls/<int:call_id>/review-progress")
@roles_required(Role.CITY_ADMIN)
def review_progress_page(call_id: int) -> Any:
    """Who has scored what in a round, what is overdue, and who scores harshly or leniently;
    the entries filtered (?entries=open: still waiting for a sheet; ?q= in the title) and paged
    by 50."""
    call = db.get_or_404(Call, call_id)
    rounds = current_programme(call.programme_key).rounds
    if not rounds:
        abort(404)
    name = request.args.get("round") or next(iter(rounds))
    if name not in rounds:
        abort(404)
    status = round_status(call, name)
    by_expert, by_entry = review_progress(call, name, overdue=status.overdue)
    scale = Decimal(str(rounds[name].rubric.raw["max"]))
    spread = {d.expert: d for d in expert_distribution(round_sheets(call, name),
                                                       scale_max=scale)}
    declares = current_programme(call.programme_key).workflow["reviews"]["declare_conflicts"]
    stages = [s for s in STAGES if declares or s != "unconfirmed"]
    entries = list(by_entry.items())
    if request.args.get("entries") == "open":  # entries still waiting for a sheet
        entries = [(a, p) for a, p in entries if p.submitted < p.active]
    if needle := request.args.get("q", "").strip().lower():
        entries = [(a, p) for a, p in entries if needle in (a.title or "").lower()]
    return render_template("admin/review_progress.html", call=call, stages=stages,
                           rounds=rounds, current=name, status=status, spread=spread,
                           by_expert=sorted(by_expert.items(), key=lambda kv: kv[0].id),
                           by_entry=bool(by_entry), args=request.args,
                           entries=ListPage.of(entries, request.args.get("page", type=int),
                                               PER_PAGE))
