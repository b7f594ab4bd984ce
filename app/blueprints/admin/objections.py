"""After the review: objections raised during public notice (read, see the evidence, decide)
and the dossiers of the entries recommended to a higher level (city)."""

from __future__ import annotations

from typing import Any

from flask import abort, render_template, request, send_file, url_for
from flask_babel import gettext as _
from flask_login import current_user

from app.blueprints.admin.views import bp
from app.extensions import db
from app.models import Call, Objection, Role
from app.services.dossiers import recommended_zip
from app.services.objections import decide, evidence_folder, objections_of
from app.web.access import roles_required
from app.web.downloads import zip_response
from app.web.outcomes import act_and_return, download_or_return


@bp.route("/calls/<int:call_id>/objections")
@roles_required(Role.CITY_ADMIN)
def call_objections(call_id: int) -> Any:
    """The call's objections, open ones first."""
    call = db.get_or_404(Call, call_id)
    return render_template("admin/objections.html", call=call, objections=objections_of(call))


@bp.route("/objections/<int:objection_id>/decide", methods=["POST"])
@roles_required(Role.CITY_ADMIN)
def decide_objection(objection_id: int) -> Any:
    """Sustain or dismiss with a written outcome (sustained moves the entry)."""
    objection = db.get_or_404(Objection, objection_id)
    sustained = request.form.get("decision") == "sustained"
    return act_and_return(
        lambda: decide(objection, current_user, sustained, request.form.get("outcome", "")),
        _("Objection sustained; the entry has moved.") if sustained
        else _("Objection dismissed."),
        url_for("admin.call_objections", call_id=objection.application.call_id))


@bp.route("/objections/<int:objection_id>/evidence")
@roles_required(Role.CITY_ADMIN)
def objection_evidence(objection_id: int) -> Any:
    """The evidence file an objector attached."""
    objection = db.get_or_404(Objection, objection_id)
    if not objection.evidence_stored:
        abort(404)
    path = evidence_folder() / objection.evidence_stored
    if not path.exists():
        abort(404)
    response = send_file(path, as_attachment=True, download_name=objection.evidence_name)
    response.headers["Cache-Control"] = "private, no-store"
    return response


@bp.route("/calls/<int:call_id>/recommended.zip")
@roles_required(Role.CITY_ADMIN)
def recommended_dossiers(call_id: int) -> Any:
    """The dossiers of the entries recommended to a higher level (list + attachments)."""
    call = db.get_or_404(Call, call_id)
    return download_or_return(
        lambda: zip_response(recommended_zip(call, current_user), f"{call.title}-上级推荐材料.zip"),
        url_for("admin.call", call_id=call.id))
