"""Calls: the list with counts, opening a call, a call's entries, ranking, expert assignment."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import current_user
from sqlalchemy import Select, func, select
from sqlalchemy.orm import joinedload

from app.blueprints.admin.forms import as_utc, call_form
from app.engine.errors import PingshenError, ValidationFailed
from app.extensions import db
from app.i18n import localised
from app.models import (
    Application,
    AwardProposal,
    Call,
    Organisation,
    OrgKind,
    ReviewAssignment,
    Role,
    User,
)
from app.models.base import utcnow
from app.services.applications import EntryFilter, call_entries
from app.services.awards import is_stale
from app.services.calls import open_call
from app.services.dashboards import coming_up, round_progress
from app.services.programmes import catalogue, current_programme, programme_of
from app.services.ranking import rank_call
from app.services.reviews import assign_expert, withdraw_assignment
from app.services.reviews import reopen_sheet as reopen
from app.web.access import roles_required
from app.web.outcomes import act_and_return

bp = Blueprint("admin", __name__)
PER_PAGE = 50


@bp.route("/")
@roles_required(Role.CITY_ADMIN)
def home() -> Any:
    """List the calls, newest first, with their entries counted by state and what falls due in
    the next two weeks; one programme's calls with ?programme=<key> (batches of a programme
    overlap over the years)."""
    chosen = request.args.get("programme") or None
    query = select(Call).order_by(Call.opens_at.desc(), Call.id.desc())
    if chosen:
        query = query.where(Call.programme_key == chosen)
    calls = list(db.session.scalars(query))
    counts: dict[int, dict[str, int]] = {}
    for call_id, state, n in db.session.execute(
            select(Application.call_id, Application.state, func.count())
            .where(Application.submitted_at.is_not(None))  # drafts stay private
            .group_by(Application.call_id, Application.state)):
        counts.setdefault(call_id, {})[state] = n
    used = set(db.session.scalars(select(Call.programme_key).distinct()))
    return render_template("admin/home.html", calls=calls, counts=counts,
                           programmes=catalogue(), chosen=chosen, coming=coming_up(calls),
                           choices=sorted((key, localised(p.workflow, "title"))
                                          for key, p in catalogue().items() if key in used))


@bp.route("/calls/new", methods=["GET", "POST"])
@roles_required(Role.CITY_ADMIN)
def new_call() -> Any:
    """Open a call: dates are typed in Beijing time and stored in UTC."""
    districts = list(db.session.scalars(select(Organisation).where(
        Organisation.kind == OrgKind.DISTRICT).order_by(Organisation.code)))
    form = call_form(districts)
    if form.validate_on_submit():
        try:
            call = open_call(form.programme.data or "", form.title.data or "",
                             form.year.data or 0, as_utc(form.opens_at.data),
                             as_utc(form.closes_at.data), form.quotas(), current_user,
                             form.description.data or "", form.minimums())
        except ValidationFailed as exc:
            db.session.rollback()
            for key, message in exc.details.items():
                target = getattr(form, str(key).replace("quotas.", "quota_")
                                 .replace("minimums.", "minimum_"), None)
                if target is not None:
                    target.errors = [message]
            flash(exc.message, "error")
        else:
            db.session.commit()
            flash(_("The call has been opened."), "success")
            return redirect(url_for("admin.call", call_id=call.id))
    return render_template("admin/new_call.html", form=form), 422 if form.errors else 200


@bp.route("/calls/<int:call_id>")
@roles_required(Role.CITY_ADMIN)
def call(call_id: int) -> Any:
    """A call's entries with filters, pagination and the bulk action form."""
    call = db.get_or_404(Call, call_id)
    programme = current_programme(call.programme_key)
    query = entries_query(call, request.args).options(
        joinedload(Application.org), joinedload(Application.district))
    page = db.paginate(query, per_page=PER_PAGE, error_out=False)
    districts = list(db.session.scalars(select(Organisation).where(
        Organisation.kind == OrgKind.DISTRICT).order_by(Organisation.code)))
    return render_template("admin/call.html", call=call, programme=programme, page=page,
                           rows=[(a, programme_of(a)) for a in page.items],
                           rounds=round_progress(call, programme), now=utcnow(),
                           districts=districts, triggers=admin_triggers(programme),
                           args=request.args)


def entries_query(call: Call, args: Any) -> Select[Any]:
    """The call's entries matching the page's filters state, district and q (in the title or
    the unit's name), in the order ``sort`` names."""
    return call_entries(call, current_user, entry_filter(args))


def entry_filter(args: Any) -> EntryFilter:
    """The entries filter a page's query (or form) asks for: ?state= &district=<id> &q= &sort=."""
    return EntryFilter(state=args.get("state", ""), district_id=args.get("district", type=int),
                       q=args.get("q", ""), sort=args.get("sort", ""))


def admin_triggers(programme: Any) -> list[dict[str, Any]]:
    """The programme's transitions a city administrator may fire, one per trigger."""
    seen: dict[str, dict[str, Any]] = {}
    for t in programme.transitions:
        if Role.CITY_ADMIN in t["roles"]:
            seen.setdefault(t["trigger"], t)
    return list(seen.values())


@bp.route("/calls/<int:call_id>/ranking")
@roles_required(Role.CITY_ADMIN)
def call_ranking(call_id: int) -> Any:
    """Entries of a call with submitted score sheets, ranked as the programme defines."""
    call = db.get_or_404(Call, call_id)
    return render_template(
        "admin/ranking.html", call=call, ranking=rank_call(call), programme_of=programme_of,
        awards=current_programme(call.programme_key).workflow["reviews"]["awards"],
        proposals=(proposals := list(db.session.scalars(
            select(AwardProposal).filter_by(call_id=call.id)
            .order_by(AwardProposal.id.desc()).limit(5)))),
        stale=any(p.status == "confirmed" and is_stale(p) for p in proposals[:1]))


@bp.route("/applications/<int:application_id>/assign", methods=["POST"])
@roles_required(Role.CITY_ADMIN)
def assign(application_id: int) -> Any:
    """Ask an expert to score an entry in review; refusals come back as a message."""
    application = db.get_or_404(Application, application_id)
    expert = db.get_or_404(User, request.form.get("expert", type=int) or 0)
    try:
        assign_expert(application, expert, current_user, extra=bool(request.form.get("extra")))
    except PingshenError as exc:
        db.session.rollback()
        flash(exc.message, "error")
    else:
        db.session.commit()
        flash(_("%(name)s has been asked to review this entry.", name=expert.display_name),
              "success")
    return redirect(url_for("applications.detail", application_id=application_id))


@bp.route("/reviews/<int:assignment_id>/withdraw", methods=["POST"])
@roles_required(Role.CITY_ADMIN)
def withdraw_sheet(assignment_id: int) -> Any:
    """Take an unsubmitted assignment back from its expert, with a reason kept on record."""
    sheet = db.get_or_404(ReviewAssignment, assignment_id)
    return act_and_return(
        lambda: withdraw_assignment(sheet, current_user, request.form.get("reason", "")),
        _("The assignment of %(name)s has been withdrawn.", name=sheet.expert.display_name),
        url_for("applications.detail", application_id=sheet.application_id) + "#experts")


@bp.route("/reviews/<int:assignment_id>/reopen", methods=["POST"])
@roles_required(Role.CITY_ADMIN)
def reopen_sheet(assignment_id: int) -> Any:
    """Give a submitted score sheet back to its expert, keeping the submitted one on record."""
    sheet = db.get_or_404(ReviewAssignment, assignment_id)
    return act_and_return(
        lambda: reopen(sheet, current_user, request.form.get("reason", "")),
        _("The sheet has been returned to %(name)s.", name=sheet.expert.display_name),
        url_for("applications.detail", application_id=sheet.application_id))


from app.blueprints.admin import (  # noqa: E402,F401  (routes on bp)
    audit,
    auto_assign,
    awards,
    bulk,
    certificate_templates,
    certificates,
    dashboards,
    exports,
    notifications,
    objections,
    organisations,
    panels,
    people,
    people_import,
    programmes,
    progress,
    rounds,
    security_events,
)
