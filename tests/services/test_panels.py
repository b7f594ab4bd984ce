"""Panels, bulk assignment to a panel, live on-site scoring, and invitations with declines."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from app.engine.errors import Conflict, Forbidden, ValidationFailed
from app.engine.runtime import fire
from app.extensions import db
from app.models import ReviewAssignment
from app.services.auto_assign import plan_for_call
from app.services.invitations import answer, invite, pool_ids
from app.services.panels import (
    assign_panel,
    create_panel,
    draw_order,
    live_board,
    open_entry,
)
from app.services.reviews import (
    assign_expert,
    declare_conflict,
    save_review,
    withdraw_assignment,
)
from tests.conftest import confirmed

ONLINE = {"design": 30, "materials": 25, "presentation": 25}
FINAL = {"analysis": 20, "process": 25, "guidance": 12, "resources": 4, "delivery": 8,
         "technology": 11}  # 80


def _finalists(world, contest, applicants=("wj1", "wj2", "tn1")):
    """Entries through the preliminary round (3 sheets each) and into the live final."""
    city, judges = world["users"]["city"], contest["judges"]
    entries = []
    for who in applicants:
        entry = contest["enter"](who, f"{who}的课程")
        for judge in judges[:3]:
            save_review(confirmed(assign_expert(entry, judge, city)), judge, ONLINE, "", True)
        fire(entry, "advance", city)
        entries.append(entry)
    db.session.commit()
    return entries


def _sheet(entry, judge):
    return db.session.scalar(select(ReviewAssignment).filter_by(
        application_id=entry.id, expert_id=judge.id, round="city_final"))


def test_a_panel_gets_every_entry_and_reports_what_it_cannot_assign(world, contest):
    city, judges = world["users"]["city"], contest["judges"]
    entries = _finalists(world, contest)
    with pytest.raises(ValidationFailed) as refused:
        create_panel(contest["call"], "city_final", "决赛组", judges[0], judges[3:6], city)
    assert refused.value.details == {"chair": "组长须是专家组成员"}
    with pytest.raises(Forbidden):
        create_panel(contest["call"], "city_final", "决赛组", None, judges[2:], world[
            "users"]["wj_admin"])
    judges[6].org_id = entries[0].org_id  # judge7 works at wj1's unit: must not score it
    panel = create_panel(contest["call"], "city_final", "决赛组", judges[2], judges[2:], city)

    outcome = assign_panel(panel, entries, city)

    assert len(outcome.made) == 3 * 5 - 1
    assert [(a.id, u.username, why) for a, u, why in outcome.skipped] == [
        (entries[0].id, "judge7", "专家与申报单位相同，须回避")]
    with pytest.raises(ValidationFailed):  # an entry not in the panel's round
        assign_panel(panel, [contest["enter"]("wj3", "未入围")], city)


def test_live_scoring_follows_the_drawn_order_and_shows_a_result_when_complete(world, contest):
    city, judges = world["users"]["city"], contest["judges"]
    entries = _finalists(world, contest)
    panel = create_panel(contest["call"], "city_final", "决赛组", judges[2], judges[2:], city)
    assign_panel(panel, entries, city)
    for entry in entries:
        for judge in judges[2:]:
            confirmed(_sheet(entry, judge))
    with pytest.raises(Conflict):
        open_entry(panel, entries[0], judges[2])  # lots first
    with pytest.raises(Forbidden):
        draw_order(panel, judges[3])  # a member who is not the chair

    order = draw_order(panel, judges[2])  # the chair draws

    assert sorted(order) == sorted(e.id for e in entries)
    assert panel.drawn_by_id == judges[2].id and panel.drawn_at is not None
    with pytest.raises(Conflict):
        draw_order(panel, city)  # drawn once, kept
    first = next(e for e in entries if e.id == order[0])
    second = next(e for e in entries if e.id == order[1])
    with pytest.raises(Conflict) as refused:
        save_review(_sheet(first, judges[3]), judges[3], FINAL, "", submit=True)
    assert refused.value.message == "现场评分：请等组长开启该作品后再评分"

    open_entry(panel, first, judges[2])
    for judge in judges[2:6]:
        save_review(_sheet(first, judge), judge, FINAL, "", submit=True)
    board = live_board(panel)
    assert board.current.application.id == first.id
    assert (board.current.submitted, board.current.active, board.current.result) == (4, 5, None)
    assert board.submitted_by == {j.id: j != judges[6] for j in judges[2:]}
    with pytest.raises(Conflict):  # another entry is not open
        save_review(_sheet(second, judges[6]), judges[6], FINAL, "", submit=True)

    save_review(_sheet(first, judges[6]), judges[6], {**FINAL, "process": 30}, "", submit=True)
    board = live_board(panel)
    # five sheets 80, 80, 80, 80, 85: drop one 80 and the 85, mean of three 80s
    assert board.current.complete and str(board.current.result.score) == "80.00"
    assert [e.position for e in board.entries] == [1, 2, 3]


def test_invited_experts_accept_or_decline_and_only_accepted_ones_are_used(world, contest):
    city, judges = world["users"]["city"], contest["judges"]
    entry = contest["enter"]("wj1", "太极拳入门")
    invitations = {i.expert_id: i for i in invite(contest["call"], judges[:4], city)}
    assert invite(contest["call"], judges[:2], city) == []  # already invited
    with pytest.raises(ValidationFailed):
        invite(contest["call"], [world["users"]["wj1"]], city)
    with pytest.raises(ValidationFailed) as refused:
        answer(invitations[judges[0].id], judges[0], accept=False)
    assert refused.value.details == {"reason": "此项为必填项"}
    with pytest.raises(Forbidden):
        answer(invitations[judges[0].id], judges[1], accept=True)

    answer(invitations[judges[0].id], judges[0], accept=False, reason="当周外出培训")
    for judge in judges[1:4]:
        answer(invitations[judge.id], judge, accept=True)
    db.session.commit()

    assert pool_ids(contest["call"]) == {j.id for j in judges[1:4]}
    with pytest.raises(ValidationFailed) as refused:
        assign_expert(entry, judges[0], city)
    assert refused.value.message == "该专家已谢绝参加本批次评审"
    assert refused.value.details["reason"] == "当周外出培训"
    planned = plan_for_call(contest["call"], city, per_entry=3, match_tags="off")
    assert {expert for _entry, expert in planned.plan.pairs} == {j.id for j in judges[1:4]}


def test_reassignment_withdraws_the_sheet_and_keeps_it_on_record(world, contest):
    city, judges = world["users"]["city"], contest["judges"]
    entry = contest["enter"]("wj1", "太极拳入门")
    slow = confirmed(assign_expert(entry, judges[0], city))
    save_review(slow, judges[0], {"design": 30}, "", submit=False)  # a draft
    done = confirmed(assign_expert(entry, judges[1], city))
    save_review(done, judges[1], ONLINE, "", submit=True)
    with pytest.raises(ValidationFailed):
        withdraw_assignment(slow, city, " ")
    with pytest.raises(Forbidden):
        withdraw_assignment(slow, world["users"]["wj_admin"], "太慢")
    with pytest.raises(Conflict):
        withdraw_assignment(done, city, "已提交的不能撤回")

    withdraw_assignment(slow, city, "专家出差，改派他人")
    replacement = confirmed(assign_expert(entry, judges[2], city))
    db.session.commit()

    assert (slow.status, slow.withdrawal_reason, slow.scores) == (
        "withdrawn", "专家出差，改派他人", {"design": "30"})  # the draft stays on record
    with pytest.raises(Conflict) as refused:
        save_review(slow, judges[0], ONLINE, "", submit=True)
    assert refused.value.message == "这项评审任务已被市级管理员撤回"
    with pytest.raises(Conflict):
        assign_expert(entry, judges[0], city)  # not silently re-added
    save_review(replacement, judges[2], ONLINE, "", submit=True)
    save_review(confirmed(assign_expert(entry, judges[3], city)), judges[3], ONLINE, "", True)
    fire(entry, "advance", city)  # three active sheets in: the withdrawn one does not count


def test_assignment_rules_across_rounds_invitations_and_live_panels(world, contest):
    city, judges = world["users"]["city"], contest["judges"]
    entry = contest["enter"]("wj1", "太极拳入门")
    declared = assign_expert(entry, judges[6], city)
    declare_conflict(declared, judges[6], conflict=True, reason="曾指导该教师")
    for judge in judges[:3]:
        save_review(confirmed(assign_expert(entry, judge, city)), judge, ONLINE, "", True)
    fire(entry, "advance", city)

    with pytest.raises(ValidationFailed) as refused:  # the final is live: panels only
        assign_expert(entry, judges[3], city)
    assert refused.value.message == "现场评分轮次请先把专家加入本轮的专家组，再通过专家组分配"
    assert plan_for_call(contest["call"], city, per_entry=3, match_tags="off").plan.pairs == ()
    panel = create_panel(contest["call"], "city_final", "决赛组", judges[3], judges[3:], city)
    outcome = assign_panel(panel, [entry], city)
    assert [(u.username, why) for _a, u, why in outcome.skipped] == [
        ("judge7", "该专家已声明与此申报存在利益冲突，不能再分配")]  # declared in the preliminary

    invite(contest["call"], judges[:2], city)
    with pytest.raises(ValidationFailed) as refused:  # invited, not yet accepted
        create_panel(contest["call"], "city_final", "第二组", None, [judges[0]], city)
    assert refused.value.details["members"] == "尚未接受本批次评审邀请：judge1"
