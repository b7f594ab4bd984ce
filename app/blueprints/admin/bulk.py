"""Bulk moves on a call's entries: a dry run first, then the move of those that pass."""

from __future__ import annotations

from typing import Any

from flask import abort, flash, render_template, request
from flask_babel import gettext as _
from flask_login import current_user
from sqlalchemy import select

from app.blueprints.admin.views import admin_triggers, bp, entries_query
from app.extensions import db
from app.models import Application, Call, Role
from app.services.bulk import bulk_fire
from app.services.programmes import current_programme
from app.web.access import roles_required


@bp.route("/calls/<int:call_id>/bulk", methods=["POST"])
@roles_required(Role.CITY_ADMIN)
def bulk(call_id: int) -> Any:
    """Dry-run a trigger on the chosen entries, or apply it (each item commits alone)."""
    call = db.get_or_404(Call, call_id)
    programme = current_programme(call.programme_key)
    triggers = {t["trigger"]: t for t in admin_triggers(programme)}
    move = triggers.get(request.form.get("trigger", ""))
    if move is None:
        abort(400)
    ids = chosen_ids(call)
    if not ids:
        flash(_("Choose at least one entry."), "error")
        return render_template("admin/bulk.html", call=call, move=move, result=None,
                               programme=programme), 422
    comment = request.form.get("comment", "").strip()
    result = bulk_fire(ids, move["trigger"], current_user, comment=comment,
                       dry_run=request.form.get("apply") != "1")
    if not result.dry_run:
        flash(_("%(n)s of %(total)s entries moved.", n=result.passed, total=len(result.items)),
              "success" if result.passed else "error")
    return render_template("admin/bulk.html", call=call, move=move, result=result,
                           comment=comment, programme=programme)


def chosen_ids(call: Call) -> list[int]:
    """The ticked entries of this call, or every entry matching the posted filters."""
    if request.form.get("scope") == "filter":
        query = entries_query(call, request.form).with_only_columns(Application.id)
        return list(db.session.scalars(query))
    wanted = [int(v) for v in request.form.getlist("ids") if v.isdigit()]
    return list(db.session.scalars(select(Application.id).where(
        Application.call_id == call.id, Application.id.in_(wanted)).order_by(Application.id)))
