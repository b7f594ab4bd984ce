"""Live on-site scoring boards of panels, and answering invitations (experts)."""

from __future__ import annotations

from typing import Any

from flask import abort, jsonify, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import current_user, login_required
from sqlalchemy import select

from app.blueprints.reviewer.views import bp
from app.extensions import db
from app.models import Application, CallInvitation, Panel, ReviewAssignment, Role
from app.services.blind import entry_titles
from app.services.invitations import answer
from app.services.panels import can_run, draw_order, is_member, live_board, open_entry
from app.web.access import roles_required
from app.web.outcomes import act_and_return


def _viewable_panel(panel_id: int) -> Panel:
    """A panel its members, its chair and city administrators may watch."""
    panel = db.get_or_404(Panel, panel_id)
    if current_user.role != Role.CITY_ADMIN and not is_member(panel, current_user):
        abort(403)
    return panel


@bp.route("/panels/<int:panel_id>")
@login_required
def live(panel_id: int) -> Any:
    """The live board: drawn order, the open entry, who has submitted, results when complete."""
    panel = _viewable_panel(panel_id)
    board = live_board(panel)
    mine = None
    if board.current is not None and is_member(panel, current_user):
        mine = db.session.scalar(select(ReviewAssignment).filter_by(
            application_id=board.current.application.id, expert_id=current_user.id,
            round=panel.round))
    titles = entry_titles([e.application for e in board.entries], current_user)
    return render_template("reviewer/live.html", panel=panel, board=board, mine=mine,
                           runs=can_run(panel, current_user), titles=titles)


@bp.route("/panels/<int:panel_id>/state")
@login_required
def live_state(panel_id: int) -> Any:
    """What screens poll: a version that changes whenever the board does."""
    return jsonify(version=live_board(_viewable_panel(panel_id)).version)


@bp.route("/panels/<int:panel_id>/draw", methods=["POST"])
@login_required
def live_draw(panel_id: int) -> Any:
    """The chair draws the order of appearance by lot."""
    panel = _viewable_panel(panel_id)
    return _act(panel, lambda: draw_order(panel, current_user), _("The order has been drawn."))


@bp.route("/panels/<int:panel_id>/open", methods=["POST"])
@login_required
def live_open(panel_id: int) -> Any:
    """The chair opens an entry for scoring."""
    panel = _viewable_panel(panel_id)
    application = db.get_or_404(Application, request.form.get("application", type=int) or 0)
    return _act(panel, lambda: open_entry(panel, application, current_user),
                _("The entry is open for scoring."))


def _act(panel: Panel, action: Any, done: str) -> Any:
    """Run a chair's action and go back to the board."""
    return act_and_return(action, done, url_for("reviewer.live", panel_id=panel.id))


@bp.route("/invitations/<int:invitation_id>", methods=["POST"])
@roles_required(Role.EXPERT)
def answer_invitation(invitation_id: int) -> Any:
    """Accept an invitation to a call, or decline it with a reason."""
    invitation = db.get_or_404(CallInvitation, invitation_id)
    if invitation.expert_id != current_user.id:
        abort(403)  # another expert's invitation: refused, not answered with a flash
    accept = request.form.get("answer") == "accept"
    return act_and_return(
        lambda: answer(invitation, current_user, accept, request.form.get("reason", "")),
        _("Thank you: your answer is recorded."), url_for("reviewer.queue"))
