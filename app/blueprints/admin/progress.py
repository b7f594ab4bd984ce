"""Review progress of a call, per expert and per entry."""

from __future__ import annotations

from typing import Any

from flask import render_template

from app.blueprints.admin.views import bp
from app.extensions import db
from app.models import Call, Role
from app.services.review_progress import STAGES, review_progress
from app.web.access import roles_required


@bp.route("/calls/<int:call_id>/review-progress")
@roles_required(Role.CITY_ADMIN)
def review_progress_page(call_id: int) -> Any:
    """Who has scored what: sheets by stage for each expert and each entry."""
    call = db.get_or_404(Call, call_id)
    by_expert, by_entry = review_progress(call)
    return render_template("admin/review_progress.html", call=call, stages=STAGES,
                           by_expert=sorted(by_expert.items(), key=lambda kv: kv[0].id),
                           by_entry=list(by_entry.items()))
