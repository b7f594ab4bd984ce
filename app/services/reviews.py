"""Expert assignments, score sheets and the resulting scores and ranking."""

from __future__ import annotations

from decimal import Decimal, InvalidOperation
from typing import Any

from sqlalchemy import select

from app.engine.errors import Conflict, Forbidden, ValidationFailed
from app.extensions import db
from app.i18n import joined, zh
from app.models import (
    Application,
    CallRound,
    Panel,
    PanelMember,
    ReviewAssignment,
    Role,
    SheetRevision,
    User,
)
from app.models.base import utcnow
from app.services.invitations import declined, pool_ids
from app.services.notifications import notify_assignment
from app.services.programmes import programme_of

CENT = Decimal("0.01")


def assign_expert(application: Application, expert: User, actor: User,
                  extra: bool = False) -> ReviewAssignment:
    """Ask an expert to score an entry in its current review round (city administrators).

    `extra` marks an expert added because the panel's scores spread too far (dispersion rule).
    """
    if actor.role != Role.CITY_ADMIN:
        raise Forbidden(zh("只有市级管理员可以分配评审专家"))
    if expert.role != Role.EXPERT or not expert.active:
        raise ValidationFailed(zh("所选用户不是可用的评审专家"), {"expert": expert.username})
    review_round = programme_of(application).review_round(application.state)
    if review_round is None:
        raise Conflict(zh("该申报当前不在评审阶段"), {"state": application.state})
    if expert.org_id == application.org_id:
        raise ValidationFailed(zh("专家与申报单位相同，须回避"), {"expert": expert.username})
    if programme_of(application).workflow["reviews"]["exclude_same_district"] \
            and expert.district_id is not None and expert.district_id == application.district_id:
        raise ValidationFailed(zh("专家与申报单位同属一个区，须回避"), {"expert": expert.username})
    _refuse_closed_round(application, review_round.name)
    if (refusal := declined(application.call, expert)) is not None:
        raise ValidationFailed(zh("该专家已谢绝参加本批次评审"), {"expert": expert.username,
                                                             "reason": refusal.reason})
    pool = pool_ids(application.call)
    if pool is not None and expert.id not in pool:
        raise ValidationFailed(zh("该专家尚未接受本批次的评审邀请"), {"expert": expert.username})
    if review_round.live and not _on_panel(application, review_round.name, expert):
        raise ValidationFailed(zh("现场评分轮次请先把专家加入本轮的专家组，再通过专家组分配"),
                               {"expert": expert.username})
    existing = db.session.scalar(select(ReviewAssignment).filter_by(
        application_id=application.id, expert_id=expert.id, round=review_round.name))
    if existing is not None:
        message = {"conflict": zh("该专家已声明回避此申报"),
                   "withdrawn": zh("该专家的这项评审任务已被撤回")}.get(existing.status,
                                                                 zh("该专家已分配到此申报"))
        raise Conflict(message, {"assignment": existing.id})
    if _declared_conflict(application, expert):
        raise Conflict(zh("该专家已声明与此申报存在利益冲突，不能再分配"),
                       {"expert": expert.username})
    assignment = ReviewAssignment(application=application, expert=expert, round=review_round.name,
                                  rubric_key=review_round.rubric.raw["key"],
                                  assigned_by_id=actor.id, extra=extra)
    db.session.add(assignment)
    application.updated_at = utcnow()  # a guard counting reviews must see this change
    db.session.flush()
    notify_assignment(assignment)
    return assignment


def declare_conflict(assignment: ReviewAssignment, expert: User, conflict: bool,
                     reason: str = "") -> ReviewAssignment:
    """Before the materials open: confirm no conflict of interest, or declare one (kept on record).

    A declared conflict withdraws the expert from the entry; the city assigns someone else.
    """
    if assignment.expert_id != expert.id:
        raise Forbidden(zh("这不是您的评审任务"))
    if assignment.status == "withdrawn":
        raise Conflict(zh("这项评审任务已被市级管理员撤回"))
    if assignment.conflict_checked_at is not None:
        raise Conflict(zh("已确认过利益冲突情况，不能再更改"))
    reason = reason.strip()
    if conflict and not reason:
        raise ValidationFailed(zh("请说明利益冲突的情况"), {"reason": zh("此项为必填项")})
    if len(reason) > 500:
        raise ValidationFailed(zh("说明不能超过 500 字"), {"reason": zh("不能超过 500 字")})
    assignment.conflict_checked_at = utcnow()
    if conflict:
        assignment.status = "conflict"
        assignment.conflict_reason = reason
        assignment.application.updated_at = utcnow()  # the panel changed: guards must see it
    db.session.flush()
    return assignment


def withdraw_assignment(assignment: ReviewAssignment, actor: User,
                        reason: str) -> ReviewAssignment:
    """Take an unsubmitted sheet away from its expert (city, with a reason); kept on record.

    This is how an entry is reassigned: withdraw, then assign someone else. A submitted sheet
    is reopened first (see `reopen_sheet`), so that nothing scored is lost silently.
    """
    if actor.role != Role.CITY_ADMIN:
        raise Forbidden(zh("只有市级管理员可以撤回评审任务"))
    reason = reason.strip()
    if not reason:
        raise ValidationFailed(zh("请说明撤回的理由"), {"reason": zh("此项为必填项")})
    if len(reason) > 500:
        raise ValidationFailed(zh("理由不能超过 500 字"), {"reason": zh("不能超过 500 字")})
    if assignment.locked:
        raise Conflict(zh("该评分已提交，不能撤回；如确需改动，请先退回评分"))
    if not assignment.active:
        raise Conflict(zh("该评审任务已不在专家组中"))
    if not in_current_round(assignment):
        raise Conflict(zh("该申报已不在此评审阶段"))
    _refuse_closed_round(assignment.application, assignment.round)
    assignment.status = "withdrawn"
    assignment.withdrawn_at, assignment.withdrawn_by_id = utcnow(), actor.id
    assignment.withdrawal_reason = reason
    assignment.application.updated_at = utcnow()  # the panel changed: guards must see it
    db.session.flush()
    return assignment


def reopen_sheet(assignment: ReviewAssignment, actor: User, reason: str) -> SheetRevision:
    """Give a submitted sheet back to its expert (city administrators, with a reason).

    The sheet as submitted is kept as a revision, so the old and the new scores both stay on
    record; the entry's version is bumped, so a guard racing with this sees the change.
    """
    if actor.role != Role.CITY_ADMIN:
        raise Forbidden(zh("只有市级管理员可以退回专家评分"))
    reason = reason.strip()
    if not reason:
        raise ValidationFailed(zh("请说明退回评分的理由"), {"reason": zh("此项为必填项")})
    if not assignment.locked:
        raise Conflict(zh("该评分尚未提交，无需退回"))
    if not in_current_round(assignment):
        raise Conflict(zh("该申报已不在此评审阶段，不能退回评分"))
    _refuse_closed_round(assignment.application, assignment.round)
    revision = SheetRevision(assignment=assignment, scores=dict(assignment.scores),
                             total=assignment.total, comment=assignment.comment,
                             vetoes=list(assignment.vetoes or []),
                             submitted_at=assignment.submitted_at, reopened_by_id=actor.id,
                             reason=reason[:500])
    db.session.add(revision)
    assignment.status, assignment.submitted_at = "draft", None
    assignment.application.updated_at = utcnow()
    db.session.flush()
    return revision


def _refuse_closed_round(application: Application, name: str) -> None:
    """A closed round's result is frozen: no new experts, sheets or reopened sheets in it."""
    closed = db.session.scalar(select(CallRound.closed_at).filter_by(
        call_id=application.call_id, round=name))
    if closed is not None:
        raise Conflict(zh("本轮评审已经结束，结果已保存；如需改动，请先重新开启本轮"),
                       {"round": name})


def _declared_conflict(application: Application, expert: User) -> bool:
    """Whether the expert declared a conflict with this entry in any round."""
    return db.session.scalar(select(ReviewAssignment.id).filter_by(
        application_id=application.id, expert_id=expert.id, status="conflict").limit(1)) \
        is not None


def _on_panel(application: Application, round_name: str, expert: User) -> bool:
    """Whether the expert sits on a panel of this round of the entry's call."""
    return db.session.scalar(select(Panel.id).join(PanelMember).where(
        Panel.call_id == application.call_id, Panel.round == round_name,
        PanelMember.expert_id == expert.id).limit(1)) is not None


def _refuse_unless_open(assignment: ReviewAssignment, expert: User) -> None:
    """In a live round, a sheet can be saved only while the panel has its entry open."""
    review_round = programme_of(assignment.application).review_round(assignment.round)
    if review_round is None or not review_round.live:
        return
    current = db.session.scalar(select(Panel.current_application_id).join(PanelMember).where(
        Panel.call_id == assignment.application.call_id, Panel.round == assignment.round,
        PanelMember.expert_id == expert.id))
    if current != assignment.application_id:
        raise Conflict(zh("现场评分：请等组长开启该作品后再评分"), {"live": "not_open"})


def in_current_round(assignment: ReviewAssignment) -> bool:
    """Whether the entry is still in the round the sheet belongs to (else the sheet is closed)."""
    return assignment.application.state == assignment.round


def needs_conflict_check(assignment: ReviewAssignment) -> bool:
    """Whether the expert must still confirm or declare a conflict before seeing materials."""
    reviews = programme_of(assignment.application).workflow["reviews"]
    return bool(reviews["declare_conflicts"]) and assignment.conflict_checked_at is None


def save_review(assignment: ReviewAssignment, expert: User, scores: dict[str, Any],
                comment: str, submit: bool, vetoes: list[str] | None = None) -> ReviewAssignment:
    """Save a draft score sheet, or submit it (all criteria required); submitted sheets lock."""
    if assignment.expert_id != expert.id:
        raise Forbidden(zh("这不是您的评审任务"))
    if assignment.locked:
        raise Conflict(zh("评分已提交，不能再修改"))
    if assignment.status == "conflict":
        raise Conflict(zh("您已声明回避此申报，不能评分"))
    if assignment.status == "withdrawn":
        raise Conflict(zh("这项评审任务已被市级管理员撤回"))
    if needs_conflict_check(assignment):
        raise Conflict(zh("请先确认与该申报不存在利益冲突"), {"conflict": "unconfirmed"})
    application = assignment.application
    if not in_current_round(assignment):
        raise Conflict(zh("该申报已不在评审阶段，不能评分"), {"state": application.state})
    _refuse_closed_round(application, assignment.round)
    _refuse_unless_open(assignment, expert)
    rubric = programme_of(application).rubrics[assignment.rubric_key]
    clean, errors = _clean_scores(rubric.leaves, scores, submit)
    comment = comment.strip()
    if len(comment) > 2000:
        errors["comment"] = zh("评语不能超过 2000 字")
    elif submit and not comment and (low := _below_threshold(rubric.leaves, clean)):
        errors["comment"] = zh("%(low)s得分偏低，请在评语中说明理由", low=joined(low))
    veto_keys = {v["key"] for v in rubric.raw["vetoes"]}
    unknown = [key for key in vetoes or [] if key not in veto_keys]
    if unknown:
        errors["vetoes"] = zh("评分表中没有这些否决项：%(unknown)s", unknown=joined(unknown))
    if errors:
        raise ValidationFailed(zh("评分有误，请检查标出的项目"), errors)
    assignment.scores = {k: str(v) for k, v in clean.items()}
    assignment.comment = comment
    assignment.vetoes = [v["key"] for v in rubric.raw["vetoes"] if v["key"] in (vetoes or [])]
    assignment.total = sum(clean.values(), Decimal(0)) if clean else None
    assignment.status = "submitted" if submit else "draft"
    if submit:
        assignment.submitted_at = utcnow()
        application.updated_at = utcnow()  # bump the entry's version: guards race safely
    db.session.flush()
    return assignment


def _clean_scores(leaves: list[dict[str, Any]], scores: dict[str, Any],
                  submit: bool) -> tuple[dict[str, Decimal], dict[str, str]]:
    """Check each criterion's points: a number from 0 to its maximum, two decimals at most."""
    by_key = {leaf["key"]: leaf for leaf in leaves}
    clean: dict[str, Decimal] = {}
    errors = {key: zh("评分表中没有此项") for key in scores if key not in by_key}
    for key, leaf in by_key.items():
        value = scores.get(key)
        if value in (None, ""):
            if submit:
                errors[key] = zh("提交前请为此项打分")
            continue
        try:
            points = Decimal(str(value))
        except InvalidOperation:
            errors[key] = zh("应为数字")
            continue
        if not points.is_finite() or points < 0 or points > Decimal(str(leaf["max"])):
            errors[key] = zh("应在 0 到 %(maximum)s 之间", maximum=leaf['max'])
        elif points != points.quantize(CENT):
            errors[key] = zh("最多两位小数")
        else:
            clean[key] = points
    return clean, errors


def _below_threshold(leaves: list[dict[str, Any]], clean: dict[str, Decimal]) -> list[str]:
    """Labels of criteria scored under their `comment_below` threshold."""
    return [f"“{leaf['label']}”" for leaf in leaves
            if leaf["comment_below"] is not None and leaf["key"] in clean
            and clean[leaf["key"]] < Decimal(str(leaf["comment_below"]))]


def next_to_score(expert: User, besides: int | None = None) -> ReviewAssignment | None:
    """The expert's first sheet still to score (assigned or a draft, by assignment), other than
    the one ``besides`` names: the first open one of `assignments_for`, read alone."""
    query = select(ReviewAssignment).where(ReviewAssignment.expert_id == expert.id,
                                           ReviewAssignment.status.in_(("assigned", "draft")))
    if besides is not None:
        query = query.where(ReviewAssignment.id != besides)
    return db.session.scalar(query.order_by(ReviewAssignment.id).limit(1))


def assignments_for(expert: User, *options: Any) -> list[ReviewAssignment]:
    """An expert's assignments, open ones first; ``options`` are loader options for the query
    (e.g. joinedload of the entries, for a list that shows them)."""
    return list(db.session.scalars(
        select(ReviewAssignment).where(ReviewAssignment.expert_id == expert.id)
        .order_by(ReviewAssignment.status == "submitted", ReviewAssignment.id).options(*options)))
