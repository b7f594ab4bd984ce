"""Invitations of experts to a call, panels, bulk assignment to a panel, live scoring."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select

from app.blueprints.api.common import (
    api_user,
    application_ids,
    bp,
    get_or_404,
    json_body,
    require_role,
)
from app.blueprints.api.serializers import JSON, iso, number
from app.engine.errors import Forbidden, ValidationFailed
from app.extensions import db
from app.i18n import joined, zh
from app.models import Application, Call, CallInvitation, Panel, Role, User
from app.services import invitations, panels
from app.services.blind import entry_titles


def _users(usernames: Any, key: str) -> list[User]:
    """Users by username; unknown names are a 422 naming them."""
    if not isinstance(usernames, list) or not all(isinstance(u, str) for u in usernames):
        raise ValidationFailed(zh("应为用户名列表"), {key: zh("应为用户名列表")})
    found = {u.username: u for u in db.session.scalars(
        select(User).where(User.username.in_(usernames)))}
    unknown = [name for name in usernames if name not in found]
    if unknown:
        raise ValidationFailed(zh("没有这些用户：%(unknown)s", unknown=joined(unknown)),
                               {key: "、".join(unknown)})
    return [found[name] for name in usernames]


@bp.get("/calls/<int:call_id>/invitations")
def list_invitations(call_id: int) -> Any:
    """The experts invited to the call and their answers (city administrators)."""
    require_role(Role.CITY_ADMIN)
    return [invitation_json(i) for i in
            invitations.invitations_of(get_or_404(Call, call_id, zh("批次不存在")))]


@bp.post("/calls/<int:call_id>/invitations")
def create_invitations(call_id: int) -> Any:
    """Invite experts (usernames) to the call; already invited ones are left as they are."""
    user = require_role(Role.CITY_ADMIN)
    call = get_or_404(Call, call_id, zh("批次不存在"))
    body = json_body({"experts": "array"})
    made = invitations.invite(call, _users(body["experts"], "experts"), user)
    db.session.commit()
    return [invitation_json(i) for i in made], 201


@bp.get("/invitations")
def my_invitations() -> Any:
    """The caller's invitations, unanswered first (experts)."""
    expert = require_role(Role.EXPERT)
    rows = db.session.scalars(select(CallInvitation).where(
        CallInvitation.expert_id == expert.id)
        .order_by(CallInvitation.status != "invited", CallInvitation.id))
    return [invitation_json(i) for i in rows]


@bp.post("/invitations/<int:invitation_id>/answer")
def answer_invitation(invitation_id: int) -> Any:
    """Accept, or decline with a reason."""
    expert = require_role(Role.EXPERT)
    invitation = get_or_404(CallInvitation, invitation_id, zh("邀请不存在"))
    body = json_body({"accept": "boolean"}, {"reason": "string"})
    invitations.answer(invitation, expert, body["accept"], body.get("reason", ""))
    db.session.commit()
    return invitation_json(invitation)


@bp.get("/calls/<int:call_id>/panels")
def list_panels(call_id: int) -> Any:
    """The call's panels (city administrators)."""
    require_role(Role.CITY_ADMIN)
    return [panel_json(p) for p in panels.panels_of(get_or_404(Call, call_id, zh("批次不存在")))]


@bp.post("/calls/<int:call_id>/panels")
def create_panel(call_id: int) -> Any:
    """Create a panel for a round: {round, name, members: [usernames], chair: username}."""
    user = require_role(Role.CITY_ADMIN)
    call = get_or_404(Call, call_id, zh("批次不存在"))
    body = json_body({"round": "string", "name": "string", "members": "array"},
                     {"chair": "string"})
    members = _users(body["members"], "members")
    chair = _users([body["chair"]], "chair")[0] if "chair" in body else None
    panel = panels.create_panel(call, body["round"], body["name"], chair, members, user)
    db.session.commit()
    return panel_json(panel), 201


@bp.post("/panels/<int:panel_id>/assign")
def assign_panel(panel_id: int) -> Any:
    """Ask every member to score the entries (ids; default: every entry now in the round)."""
    user = require_role(Role.CITY_ADMIN)
    panel = get_or_404(Panel, panel_id, zh("专家组不存在"))
    body = json_body({}, {"application_ids": "array"})
    ids = application_ids(body["application_ids"]) if "application_ids" in body else None
    query = select(Application).where(Application.call_id == panel.call_id)
    query = query.where(Application.id.in_(ids)) if ids is not None \
        else query.where(Application.state == panel.round)
    outcome = panels.assign_panel(panel, list(db.session.scalars(query.order_by(Application.id))),
                                  user)
    db.session.commit()
    return {"made": [{"review_id": a.id, "application_id": a.application_id,
                      "expert": a.expert.username} for a in outcome.made],
            "skipped": [{"application_id": a.id, "expert": e.username, "reason": why}
                        for a, e, why in outcome.skipped],
            "already": outcome.already}


@bp.post("/panels/<int:panel_id>/draw")
def draw_panel_order(panel_id: int) -> Any:
    """Draw the order of appearance by lot (the chair or a city administrator), once."""
    panel = _watchable(panel_id)
    panels.draw_order(panel, api_user())
    db.session.commit()
    return live_json(panel)


@bp.post("/panels/<int:panel_id>/open")
def open_panel_entry(panel_id: int) -> Any:
    """Open an entry for scoring (the chair or a city administrator)."""
    panel = _watchable(panel_id)
    body = json_body({"application_id": "integer"})
    application = get_or_404(Application, body["application_id"], zh("申报不存在"))
    panels.open_entry(panel, application, api_user())
    db.session.commit()
    return live_json(panel)


@bp.get("/panels/<int:panel_id>/live")
def get_panel_live(panel_id: int) -> Any:
    """The live board: drawn order, open entry, who has submitted, results when complete."""
    return live_json(_watchable(panel_id))


def _watchable(panel_id: int) -> Panel:
    """A panel its members and city administrators may see."""
    panel = get_or_404(Panel, panel_id, zh("专家组不存在"))
    user = api_user()
    if user.role != Role.CITY_ADMIN and not panels.is_member(panel, user):
        raise Forbidden(zh("您不是该专家组成员"), {"panel_id": panel_id})
    return panel


def invitation_json(invitation: CallInvitation) -> JSON:
    """An invitation and its answer."""
    return {"id": invitation.id, "call_id": invitation.call_id,
            "call_title": invitation.call_title, "expert": invitation.expert.username,
            "expert_name": invitation.expert.display_name, "status": invitation.status,
            "reason": invitation.reason, "invited_at": iso(invitation.invited_at),
            "answered_at": iso(invitation.answered_at)}


def panel_json(panel: Panel) -> JSON:
    """A panel with its members and chair."""
    return {"id": panel.id, "call_id": panel.call_id, "round": panel.round, "name": panel.name,
            "chair": panel.chair.username if panel.chair else None,
            "members": [m.expert.username for m in panel.members],
            "draw_order": list(panel.draw_order or []), "drawn_at": iso(panel.drawn_at),
            "drawn_by": panel.drawn_by.username if panel.drawn_by else None,
            "current_application_id": panel.current_application_id}


def live_json(panel: Panel) -> JSON:
    """The live board as the caller may see it (titles neutral in a blind round)."""
    board = panels.live_board(panel)
    titles = entry_titles([e.application for e in board.entries], api_user())
    return {**panel_json(panel), "version": board.version,
            "entries": [{"position": e.position, "application_id": e.application.id,
                         "title": titles[e.application.id],
                         "submitted": e.submitted, "active": e.active,
                         "complete": e.complete,
                         "score": number(e.result.score) if e.result else None}
                        for e in board.entries],
            "submitted_by": {db.session.get_one(User, member).username: done
                             for member, done in board.submitted_by.items()}}
