"""Panels of a round and the experts invited to a call (city administrators)."""

from __future__ import annotations

from typing import Any

from flask import flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import current_user
from sqlalchemy import select

from app.blueprints.admin.views import bp
from app.engine.errors import PingshenError
from app.extensions import db
from app.models import Application, Call, Panel, Role, User
from app.services.invitations import invitations_of, invite
from app.services.panels import assign_panel, create_panel
from app.web.access import roles_required
from app.web.outcomes import act_and_return


def _experts(ids: list[int]) -> list[User]:
    """Users by id, in the order given (unknown ids are dropped)."""
    found = {u.id: u for u in db.session.scalars(select(User).where(User.id.in_(ids)))}
    return [found[i] for i in ids if i in found]


@bp.route("/calls/<int:call_id>/rounds/<name>/panels", methods=["POST"])
@roles_required(Role.CITY_ADMIN)
def new_panel(call_id: int, name: str) -> Any:
    """Create a panel for the round from the form: name, members, chair."""
    call = db.get_or_404(Call, call_id)
    members = _experts(request.form.getlist("members", type=int))
    chair_id = request.form.get("chair", type=int)
    chair = db.session.get(User, chair_id) if chair_id else None
    return act_and_return(
        lambda: create_panel(call, name, request.form.get("name", ""), chair, members,
                             current_user),
        _("The panel has been created."),
        url_for("admin.round_page", call_id=call_id, name=name) + "#panels")


@bp.route("/panels/<int:panel_id>/assign", methods=["POST"])
@roles_required(Role.CITY_ADMIN)
def assign_to_panel(panel_id: int) -> Any:
    """Give the entries now in the panel's round (all, or one category's) to all its members."""
    panel = db.get_or_404(Panel, panel_id)
    entries = list(db.session.scalars(select(Application).where(
        Application.call_id == panel.call_id, Application.state == panel.round)
        .order_by(Application.id)))
    key, _sep, value = request.form.get("only", "").partition("=")
    if key:  # one category: the entries whose choice field holds this value
        entries = [a for a in entries if str((a.data or {}).get(key, "")) == value]
    try:
        outcome = assign_panel(panel, entries, current_user)
    except PingshenError as exc:
        db.session.rollback()
        flash(exc.message, "error")
    else:
        db.session.commit()
        flash(_("%(made)s assignments made for %(panel)s.", made=len(outcome.made),
                panel=panel.name), "success")
        for application, expert, why in outcome.skipped:
            flash(f"{expert.display_name} · {application.title}：{why}", "error")
    return redirect(url_for("admin.round_page", call_id=panel.call_id, name=panel.round)
                    + "#panels")


@bp.route("/calls/<int:call_id>/experts", methods=["GET", "POST"])
@roles_required(Role.CITY_ADMIN)
def call_experts(call_id: int) -> Any:
    """The experts invited to the call, their answers, and inviting more."""
    call = db.get_or_404(Call, call_id)
    if request.method == "POST":
        try:
            made = invite(call, _experts(request.form.getlist("experts", type=int)),
                          current_user)
        except PingshenError as exc:
            db.session.rollback()
            flash(exc.message, "error")
        else:
            db.session.commit()
            flash(_("%(n)s experts invited.", n=len(made)), "success")
        return redirect(url_for("admin.call_experts", call_id=call_id))
    invitations = invitations_of(call)
    invited = {i.expert_id for i in invitations}
    others = [u for u in db.session.scalars(select(User).where(
        User.role == Role.EXPERT, User.active.is_(True)).order_by(User.name, User.username))
        if u.id not in invited]
    return render_template("admin/call_experts.html", call=call, invitations=invitations,
                           others=others)
