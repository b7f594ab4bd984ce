"""Inviting experts to a call; they accept, or decline with a reason (kept on record).

Once a call has invitations, its expert pool is the experts who accepted: automatic assignment
draws only from them, and no expert who declined can be assigned in the call.
"""

from __future__ import annotations

from sqlalchemy import select

from app.engine.errors import Conflict, Forbidden, ValidationFailed
from app.extensions import db
from app.i18n import joined, zh
from app.models import Application, Call, CallInvitation, ReviewAssignment, Role, User
from app.models.base import utcnow


def invite(call: Call, experts: list[User], actor: User) -> list[CallInvitation]:
    """Invite experts to review in the call (those already invited are left as they are)."""
    if actor.role != Role.CITY_ADMIN:
        raise Forbidden(zh("只有市级管理员可以邀请评审专家"))
    wrong = [u.username for u in experts if u.role != Role.EXPERT or not u.active]
    if wrong:
        raise ValidationFailed(zh("只能邀请可用的评审专家"), {"experts": joined(wrong)})
    known = set(db.session.scalars(select(CallInvitation.expert_id).where(
        CallInvitation.call_id == call.id)))
    made = [CallInvitation(call_id=call.id, expert_id=u.id, invited_by_id=actor.id)
            for u in experts if u.id not in known]
    db.session.add_all(made)
    db.session.flush()
    return made


def answer(invitation: CallInvitation, expert: User, accept: bool,
           reason: str = "") -> CallInvitation:
    """The expert accepts, or declines with a reason; an answer can be changed until assigned."""
    if invitation.expert_id != expert.id:
        raise Forbidden(zh("这不是给您的邀请"))
    reason = reason.strip()
    if not accept and not reason:
        raise ValidationFailed(zh("请说明不能参加的原因"), {"reason": zh("此项为必填项")})
    if len(reason) > 500:
        raise ValidationFailed(zh("原因不能超过 500 字"), {"reason": zh("不能超过 500 字")})
    if not accept and _has_sheets(invitation):
        raise Conflict(zh("您已有本批次的评审任务，如需退出请联系市级管理员"))
    invitation.status = "accepted" if accept else "declined"
    invitation.reason = "" if accept else reason
    invitation.answered_at = utcnow()
    db.session.flush()
    return invitation


def _has_sheets(invitation: CallInvitation) -> bool:
    """Whether the expert already has assignments in the call."""
    return db.session.scalar(select(ReviewAssignment.id).join(Application).where(
        Application.call_id == invitation.call_id,
        ReviewAssignment.expert_id == invitation.expert_id).limit(1)) is not None


def invitations_of(call: Call) -> list[CallInvitation]:
    """The call's invitations, by expert."""
    return list(db.session.scalars(select(CallInvitation).where(
        CallInvitation.call_id == call.id).order_by(CallInvitation.id)))


def pending_for(expert: User) -> list[CallInvitation]:
    """The invitations an expert has not answered yet."""
    return list(db.session.scalars(select(CallInvitation).where(
        CallInvitation.expert_id == expert.id, CallInvitation.status == "invited")
        .order_by(CallInvitation.id)))


def pool_ids(call: Call) -> set[int] | None:
    """Experts the call may draw on: those who accepted, or None when nobody was invited."""
    rows = db.session.execute(select(CallInvitation.expert_id, CallInvitation.status).where(
        CallInvitation.call_id == call.id)).all()
    if not rows:
        return None
    return {expert for expert, status in rows if status == "accepted"}


def declined(call: Call, expert: User) -> CallInvitation | None:
    """The expert's declined invitation to the call, if they declined."""
    return db.session.scalar(select(CallInvitation).filter_by(
        call_id=call.id, expert_id=expert.id, status="declined"))
