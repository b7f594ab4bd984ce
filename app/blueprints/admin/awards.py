"""Award proposals from a call's ranking: propose, review, confirm (with named changes)."""

from __future__ import annotations

from typing import Any

from flask import flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import current_user

from app.blueprints.admin.views import bp
from app.engine.errors import PingshenError
from app.extensions import db
from app.models import AwardProposal, Call, Role
from app.services.awards import confirm_proposal, level_counts, propose_awards
from app.web.access import roles_required
from app.web.outcomes import act_and_return


@bp.route("/calls/<int:call_id>/award-proposals", methods=["POST"])
@roles_required(Role.CITY_ADMIN)
def propose(call_id: int) -> Any:
    """Compute award levels from the current ranking, for the city to review and confirm."""
    call = db.get_or_404(Call, call_id)
    try:
        proposal = propose_awards(call, current_user)
    except PingshenError as exc:
        db.session.rollback()
        flash(exc.message, "error")
        return redirect(url_for("admin.call_ranking", call_id=call_id))
    db.session.commit()
    return redirect(url_for("admin.award_proposal", proposal_id=proposal.id))


@bp.route("/award-proposals/<int:proposal_id>")
@roles_required(Role.CITY_ADMIN)
def award_proposal(proposal_id: int) -> Any:
    """A proposal: each entry's place, score, group, proposed level and why."""
    proposal = db.get_or_404(AwardProposal, proposal_id)
    return render_template("admin/award_proposal.html", proposal=proposal,
                           call=db.get_or_404(Call, proposal.call_id),
                           counts=level_counts(proposal))


@bp.route("/award-proposals/<int:proposal_id>/confirm", methods=["POST"])
@roles_required(Role.CITY_ADMIN)
def confirm_awards(proposal_id: int) -> Any:
    """Confirm the proposal; a level changed in the form needs the reason in the note."""
    proposal = db.get_or_404(AwardProposal, proposal_id)
    changes: dict[int, str | None] = {}
    for row in proposal.rows:
        chosen = request.form.get(f"level_{row['entry']}")
        if chosen is not None and (chosen or None) != row["level"]:
            changes[row["entry"]] = chosen or None
    return act_and_return(
        lambda: confirm_proposal(proposal, current_user, changes, request.form.get("note", "")),
        _("The awards are confirmed."),
        url_for("admin.award_proposal", proposal_id=proposal_id))
