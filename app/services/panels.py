"""Panels (专家组) for a round of a call, bulk assignment to them, and live on-site scoring.

A panel has members and a chair. Assigning entries to a panel asks every member to score each
entry (the usual conflict rules apply; refusals are reported, not fatal). In a live round the
order of the panel's entries is drawn by lot once (抽签, recorded), the chair (or a city
administrator) opens one entry at a time, members can score only the open entry, and the
entry's result shows once every active member has submitted.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass

from sqlalchemy import select

from app.engine.definitions import ReviewRound
from app.engine.errors import Conflict, Forbidden, NotFound, PingshenError, ValidationFailed
from app.extensions import db
from app.i18n import joined, zh
from app.models import (
    Application,
    Call,
    CallRound,
    Panel,
    PanelMember,
    ReviewAssignment,
    Role,
    User,
)
from app.models.base import utcnow
from app.models.reviews import INACTIVE
from app.review.aggregate import EntryResult, Sheet, aggregate_round
from app.services.invitations import pool_ids
from app.services.programmes import current_programme
from app.services.reviews import assign_expert
from app.services.rounds import round_of, round_sheets, settings_for


def _require_city(actor: User) -> None:
    """Panels are set up by the city."""
    if actor.role != Role.CITY_ADMIN:
        raise Forbidden(zh("只有市级管理员可以设置专家组"))


def create_panel(call: Call, round_name: str, name: str, chair: User | None,
                 members: list[User], actor: User) -> Panel:
    """A panel of experts for one round of the call; the chair is one of its members."""
    _require_city(actor)
    round_of(call, round_name)
    name = name.strip()
    errors = {}
    if not name or len(name) > 60:
        errors["name"] = zh("请填写专家组名称（不超过 60 字）")
    if not members:
        errors["members"] = zh("请至少选择一位专家")
    wrong = [u.username for u in members if u.role != Role.EXPERT or not u.active]
    if wrong:
        errors["members"] = zh("不是可用的评审专家：%(wrong)s", wrong=joined(wrong))
    pool = pool_ids(call)
    outside = [u.username for u in members if pool is not None and u.id not in pool]
    if outside:
        errors["members"] = zh("尚未接受本批次评审邀请：%(outside)s", outside=joined(outside))
    if chair is not None and chair.id not in {u.id for u in members}:
        errors["chair"] = zh("组长须是专家组成员")
    if errors:
        raise ValidationFailed(zh("专家组设置有误"), errors)
    if db.session.scalar(select(Panel.id).filter_by(call_id=call.id, round=round_name,
                                                    name=name)) is not None:
        raise Conflict(zh("本轮已有同名的专家组"), {"name": name})
    panel = Panel(call_id=call.id, round=round_name, name=name,
                  chair_id=chair.id if chair else None,
                  members=[PanelMember(expert_id=u.id) for u in members])
    db.session.add(panel)
    db.session.flush()
    return panel


@dataclass(frozen=True)
class PanelAssignment:
    """What assigning entries to a panel made, and what it could not (with the reason)."""

    made: list[ReviewAssignment]
    skipped: list[tuple[Application, User, str]]  # refused by a rule, with its message
    already: int = 0  # pairs that were assigned before


def assign_panel(panel: Panel, applications: list[Application], actor: User) -> PanelAssignment:
    """Ask every member of the panel to score each entry (entries in the panel's round)."""
    _require_city(actor)
    made, skipped, already = [], [], 0
    for application in applications:
        if application.call_id != panel.call_id or application.state != panel.round:
            raise ValidationFailed(zh("只能把本轮正在评审的申报分配给专家组"),
                                   {"application": application.id})
        assigned = set(db.session.scalars(select(ReviewAssignment.expert_id).where(
            ReviewAssignment.application_id == application.id,
            ReviewAssignment.round == panel.round, ReviewAssignment.status.not_in(INACTIVE))))
        for member in panel.members:
            if member.expert_id in assigned:
                already += 1
                continue
            try:  # assign_expert checks everything before it adds anything
                made.append(assign_expert(application, member.expert, actor))
            except PingshenError as exc:
                skipped.append((application, member.expert, exc.message))
    return PanelAssignment(made, skipped, already)


def panel_of(call_id: int, round_name: str, expert: User) -> Panel | None:
    """The panel an expert sits on in a round of a call, if any."""
    return db.session.scalar(select(Panel).join(PanelMember).where(
        Panel.call_id == call_id, Panel.round == round_name, PanelMember.expert_id == expert.id))


def can_run(panel: Panel, user: User) -> bool:
    """The chair or a city administrator runs the live session."""
    return user.role == Role.CITY_ADMIN or (panel.chair_id is not None
                                           and panel.chair_id == user.id)


def is_member(panel: Panel, user: User) -> bool:
    """Whether the user sits on the panel."""
    return any(m.expert_id == user.id for m in panel.members)


def _live_round(panel: Panel) -> ReviewRound:
    """The panel's round, refused unless it is scored live."""
    review_round = round_of(db.session.get_one(Call, panel.call_id), panel.round)
    if not review_round.live:
        raise Conflict(zh("本轮不是现场评分，无需抽签和逐个开启"))
    return review_round


def _panel_entries(panel: Panel) -> list[Application]:
    """Entries in the panel's round that members of the panel are assigned to."""
    members = [m.expert_id for m in panel.members]
    return list(db.session.scalars(
        select(Application).where(
            Application.call_id == panel.call_id, Application.state == panel.round,
            Application.id.in_(select(ReviewAssignment.application_id).where(
                ReviewAssignment.round == panel.round, ReviewAssignment.status.not_in(INACTIVE),
                ReviewAssignment.expert_id.in_(members))))
        .order_by(Application.id)))


def draw_order(panel: Panel, actor: User) -> list[int]:
    """Draw the order of the panel's entries by lot, once; who drew it and when are recorded."""
    _live_round(panel)
    if not can_run(panel, actor):
        raise Forbidden(zh("只有组长或市级管理员可以抽签"))
    if panel.drawn_at is not None:
        raise Conflict(zh("出场顺序已经抽定"), {"order": panel.draw_order})
    order = [a.id for a in _panel_entries(panel)]
    if not order:
        raise Conflict(zh("专家组还没有要评分的作品"))
    secrets.SystemRandom().shuffle(order)
    panel.draw_order, panel.drawn_at, panel.drawn_by_id = order, utcnow(), actor.id
    db.session.flush()
    return order


def open_entry(panel: Panel, application: Application, actor: User) -> Panel:
    """Open one entry for scoring; the members can score only the open entry."""
    _live_round(panel)
    if not can_run(panel, actor):
        raise Forbidden(zh("只有组长或市级管理员可以开启作品"))
    if panel.drawn_at is None:
        raise Conflict(zh("请先抽签确定出场顺序"))
    if application.id not in panel.draw_order:
        raise NotFound(zh("该作品不在本组出场顺序中"), {"application": application.id})
    panel.current_application_id, panel.opened_at = application.id, utcnow()
    db.session.flush()
    return panel


@dataclass(frozen=True)
class LiveEntry:
    """One entry of a live session: its place in the drawn order and how far its scoring is."""

    position: int
    application: Application
    submitted: int
    active: int
    result: EntryResult | None  # once every active member has submitted

    @property
    def complete(self) -> bool:
        """Every active member has submitted."""
        return self.active > 0 and self.submitted == self.active


@dataclass(frozen=True)
class LiveBoard:
    """The live session of a panel: the drawn order, the open entry, who has submitted."""

    panel: Panel
    entries: list[LiveEntry]
    submitted_by: dict[int, bool]  # member id → submitted the open entry

    @property
    def current(self) -> LiveEntry | None:
        """The open entry."""
        return next((e for e in self.entries
                     if e.application.id == self.panel.current_application_id), None)

    @property
    def version(self) -> str:
        """Changes whenever anything on the board changes (for screens that refresh)."""
        parts = [str(self.panel.current_application_id)] + [
            f"{e.application.id}:{e.submitted}/{e.active}" for e in self.entries]
        return "|".join(parts)


def live_board(panel: Panel) -> LiveBoard:
    """The state of a panel's live session."""
    call = db.session.get_one(Call, panel.call_id)
    members = {m.expert_id for m in panel.members}
    sheets = list(db.session.scalars(select(ReviewAssignment).where(
        ReviewAssignment.round == panel.round, ReviewAssignment.expert_id.in_(members),
        ReviewAssignment.application_id.in_(panel.draw_order or [-1]))))
    settings = settings_for(round_of(call, panel.round))
    applications = {a.id: a for a in db.session.scalars(
        select(Application).where(Application.id.in_(panel.draw_order or [-1])))}
    scored: dict[int, list[Sheet]] = {}  # each entry's submitted sheets in the round
    if any(s.status == "submitted" for s in sheets):
        for sheet in round_sheets(call, panel.round):
            scored.setdefault(sheet.entry, []).append(sheet)
    entries = []
    for position, entry_id in enumerate(panel.draw_order or [], start=1):
        application = applications[entry_id]
        own = [s for s in sheets if s.application_id == entry_id and s.active]
        submitted = sum(1 for s in own if s.status == "submitted")
        result = None
        if own and submitted == len(own):
            found = aggregate_round(scored.get(entry_id, []), settings)
            result = found[0] if found else None
        entries.append(LiveEntry(position, application, submitted, len(own), result))
    current = panel.current_application_id
    submitted_by = {s.expert_id: s.status == "submitted" for s in sheets
                    if s.application_id == current and s.active}
    return LiveBoard(panel, entries, submitted_by)


def panels_of(call: Call, round_name: str | None = None) -> list[Panel]:
    """The call's panels (of one round, if named)."""
    query = select(Panel).where(Panel.call_id == call.id).order_by(Panel.round, Panel.id)
    if round_name is not None:
        query = query.where(Panel.round == round_name)
    return list(db.session.scalars(query))


def live_panels_of(expert: User) -> list[Panel]:
    """Panels the expert sits on in live rounds whose entries are still being scored."""
    panels = db.session.scalars(select(Panel).join(PanelMember).where(
        PanelMember.expert_id == expert.id).order_by(Panel.id))
    live = []
    for panel in panels:
        call = db.session.get_one(Call, panel.call_id)
        review_round = current_programme(call.programme_key).review_round(panel.round)
        if review_round is not None and review_round.live and not _closed(panel):
            live.append(panel)
    return live


def _closed(panel: Panel) -> bool:
    """Whether the panel's round is closed for its call."""
    return db.session.scalar(select(CallRound.closed_at).filter_by(
        call_id=panel.call_id, round=panel.round)) is not None
