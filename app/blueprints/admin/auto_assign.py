"""Automatic assignment of experts for a call: a preview first, then the assignments."""

from __future__ import annotations

from typing import Any

from flask import flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import current_user

from app.blueprints.admin.views import bp
from app.engine.errors import PingshenError
from app.extensions import db
from app.models import Call, Role
from app.services.auto_assign import TAG_MODES, apply_pairs, plan_for_call
from app.web.access import roles_required


@bp.route("/calls/<int:call_id>/auto-assign", methods=["GET", "POST"])
@roles_required(Role.CITY_ADMIN)
def auto_assign(call_id: int) -> Any:
    """Preview N experts per entry under review (GET), or make those assignments (POST)."""
    call = db.get_or_404(Call, call_id)
    values = request.form if request.method == "POST" else request.args
    per_entry = values.get("per_entry", 3, type=int) or 0
    match_tags = values.get("match_tags", "prefer")
    try:
        if request.method == "POST":  # exactly what the preview showed, each checked again
            pairs = _pairs(request.form.getlist("pair"))
            try:
                made = apply_pairs(call, pairs, current_user)
            except PingshenError as exc:
                db.session.rollback()
                flash(_("Things changed since the preview (%(why)s). Here is a new preview.",
                        why=exc.message), "error")
            else:
                db.session.commit()
                flash(_("%(n)s assignments made.", n=len(made)), "success")
                return redirect(url_for("admin.call", call_id=call.id))
        planned = plan_for_call(call, current_user, per_entry, match_tags)
    except PingshenError as exc:
        db.session.rollback()
        flash(exc.message, "error")
        return render_template("admin/auto_assign.html", call=call, planned=None,
                               per_entry=per_entry, match_tags=match_tags,
                               modes=TAG_MODES), exc.status
    return render_template("admin/auto_assign.html", call=call, planned=planned,
                           per_entry=per_entry, match_tags=match_tags, modes=TAG_MODES)


def _pairs(values: list[str]) -> list[tuple[int, int]]:
    """The preview's pairs as posted back ("entry:expert"); malformed ones are dropped."""
    pairs = []
    for value in values:
        entry, _sep, expert = value.partition(":")
        if entry.isdigit() and expert.isdigit() and len(value) < 24:
            pairs.append((int(entry), int(expert)))
    return pairs
