"""Review rounds of a call: deadline, progress, spread flags, closing, stored results."""

from __future__ import annotations

from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from flask import flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import current_user
from sqlalchemy import select

from app.blueprints.admin.views import bp
from app.extensions import db
from app.models import Application, Call, ReviewResult, Role, User
from app.services import rounds as service
from app.services.exports import ranking_xlsx, review_sheets_xlsx
from app.services.invitations import pool_ids
from app.services.panels import panels_of
from app.services.programmes import current_programme, programme_of
from app.services.rounds import result_version, round_status, stored_results
from app.web.access import roles_required
from app.web.downloads import xlsx_response
from app.web.outcomes import act_and_return

LOCAL = ZoneInfo("Asia/Shanghai")


@bp.route("/calls/<int:call_id>/rounds/<name>")
@roles_required(Role.CITY_ADMIN)
def round_page(call_id: int, name: str) -> Any:
    """A round of a call: deadline, each entry's sheets, spread flags, close or reopen."""
    call = db.get_or_404(Call, call_id)
    pool = pool_ids(call)
    experts = [u for u in db.session.scalars(select(User).where(
        User.role == Role.EXPERT, User.active.is_(True)).order_by(User.name, User.username))
        if pool is None or u.id in pool]
    return render_template("admin/round.html", call=call, status=round_status(call, name),
                           programme_of=programme_of, panels=panels_of(call, name),
                           programme_of_call=current_programme(call.programme_key),
                           experts=experts)


@bp.route("/calls/<int:call_id>/rounds/<name>/deadline", methods=["POST"])
@roles_required(Role.CITY_ADMIN)
def round_deadline(call_id: int, name: str) -> Any:
    """Set or clear the deadline (a Beijing time from the form)."""
    call = db.get_or_404(Call, call_id)
    raw = request.form.get("deadline", "").strip()
    try:
        deadline = datetime.fromisoformat(raw).replace(tzinfo=LOCAL) if raw else None
    except ValueError:
        flash(_("Enter the deadline as a date and time."), "error")
        return redirect(url_for("admin.round_page", call_id=call_id, name=name))
    return _act(call, name, lambda: service.set_deadline(call, name, deadline, current_user),
                _("The deadline has been saved.") if deadline else _("The deadline is cleared."))


@bp.route("/calls/<int:call_id>/rounds/<name>/close", methods=["POST"])
@roles_required(Role.CITY_ADMIN)
def round_close(call_id: int, name: str) -> Any:
    """Close the round: its result is stored and released."""
    call = db.get_or_404(Call, call_id)
    return _act(call, name, lambda: service.close_round(call, name, current_user),
                _("The round is closed; its result is stored."))


@bp.route("/calls/<int:call_id>/rounds/<name>/reopen", methods=["POST"])
@roles_required(Role.CITY_ADMIN)
def round_reopen(call_id: int, name: str) -> Any:
    """Open a closed round again; its stored result stays on record."""
    call = db.get_or_404(Call, call_id)
    return _act(call, name, lambda: service.reopen_round(call, name, current_user),
                _("The round is open again."))


@bp.route("/applications/<int:application_id>/dispersion-waiver", methods=["POST"])
@roles_required(Role.CITY_ADMIN)
def dispersion_waiver(application_id: int) -> Any:
    """Record why a widely spread panel gets no extra expert."""
    application = db.get_or_404(Application, application_id)
    name = request.form.get("round", "")
    return _act(application.call, name,
                lambda: service.waive_dispersion(application, name, current_user,
                                                 request.form.get("reason", "")),
                _("The reason has been recorded."))


@bp.route("/results/<int:result_id>")
@roles_required(Role.CITY_ADMIN)
def result_page(result_id: int) -> Any:
    """A stored result: how it was computed, the sheets it used, and a way to recompute it."""
    return _result_page(db.get_or_404(ReviewResult, result_id), check=False)


@bp.route("/results/<int:result_id>/verify", methods=["POST"])
@roles_required(Role.CITY_ADMIN)
def result_verify(result_id: int) -> Any:
    """Compute the stored result again from its stored inputs and show whether it matches."""
    return _result_page(db.get_or_404(ReviewResult, result_id), check=True)


def _result_page(result: ReviewResult, check: bool) -> str:
    """The stored result's page, with the outcome of a recomputation when asked for."""
    ids = [row["entry"] for row in result.results]
    titles = {a.id: a.title for a in db.session.scalars(
        select(Application).where(Application.id.in_(ids)))} if ids else {}
    return render_template("admin/result.html", result=result, version=result_version(result),
                           entries=stored_results(result), call=db.get_or_404(Call, result.call_id),
                           titles=titles, check=service.verify_result(result) if check else None)


def _act(call: Call, name: str, action: Any, done: str) -> Any:
    """Run a round action and go back to the round with the outcome."""
    return act_and_return(action, done, url_for("admin.round_page", call_id=call.id, name=name))


@bp.route("/calls/<int:call_id>/review-sheets.xlsx")
@roles_required(Role.CITY_ADMIN)
def export_sheets(call_id: int) -> Any:
    """Every score sheet of the call and each round's results, as an Excel workbook."""
    call = db.get_or_404(Call, call_id)
    return xlsx_response(review_sheets_xlsx(call), f"{call.title}-评分明细.xlsx")


@bp.route("/calls/<int:call_id>/ranking.xlsx")
@roles_required(Role.CITY_ADMIN)
def export_ranking(call_id: int) -> Any:
    """The call's ranking, as an Excel workbook."""
    call = db.get_or_404(Call, call_id)
    return xlsx_response(ranking_xlsx(call), f"{call.title}-排名.xlsx")
