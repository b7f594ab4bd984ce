"""Review rounds: weighted final scores, closing with a stored result, recomputing it."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

import pytest
from sqlalchemy import func, select

from app.engine.errors import Conflict, Forbidden, GuardsFailed, ValidationFailed
from app.engine.runtime import fire
from app.extensions import db
from app.models import ReviewAssignment, ReviewResult
from app.models.base import utcnow
from app.services.panels import open_entry
from app.services.ranking import rank_call
from app.services.reviews import assign_expert, reopen_sheet, save_review
from app.services.rounds import (
    close_round,
    entry_scores,
    reopen_round,
    round_status,
    set_deadline,
    verify_result,
    waive_dispersion,
)
from tests.conftest import confirmed, live_final

ONLINE = [("design", 40), ("materials", 30), ("presentation", 30)]
FINAL = [("analysis", 25), ("process", 30), ("guidance", 15), ("resources", 5), ("delivery", 10),
         ("technology", 15)]


def _split(total, criteria):
    """Points per criterion adding up to `total`, filling the criteria in order."""
    scores, left = {}, total
    for key, most in criteria:
        scores[key] = min(most, left)
        left -= scores[key]
    return scores


def _score(entry, judge, total, city, extra=False, submit=True):
    """Assign a judge to the entry's current round and have them score `total`."""
    criteria = ONLINE if entry.state == "city_preliminary" else FINAL
    sheet = confirmed(assign_expert(entry, judge, city, extra=extra))
    save_review(sheet, judge, _split(total, criteria), "评语", submit=submit)
    return sheet


def _panel(entry, judges, totals, city):
    for judge, total in zip(judges, totals, strict=False):
        _score(entry, judge, total, city)


def _live(panel, entry, judges, totals, city):
    """On site: the chair opens the entry, each judge scores it on their own device."""
    open_entry(panel, entry, city)
    for judge, total in zip(judges, totals, strict=True):
        sheet = db.session.scalar(select(ReviewAssignment).filter_by(
            application_id=entry.id, expert_id=judge.id, round="city_final"))
        save_review(sheet, judge, _split(total, FINAL), "评语", submit=True)


def test_final_score_weighs_the_rounds_and_the_final_uses_the_trimmed_mean(world, contest):
    city, judges = world["users"]["city"], contest["judges"]
    a = contest["enter"]("wj1", "太极拳入门")
    b = contest["enter"]("wj2", "手机摄影")
    c = contest["enter"]("tn1", "剪纸艺术")
    _panel(a, judges[:3], [80, 82, 84], city)  # mean 82
    _panel(b, judges[:3], [90, 90, 90], city)  # mean 90
    _panel(c, judges[:3], [70, 72, 74], city)  # mean 72
    close_round(contest["call"], "city_preliminary", city)
    for entry in (a, b):
        fire(entry, "advance", city)
    fire(c, "eliminate", city)
    panel = live_final(contest, judges[2:], [a, b], city)
    _live(panel, a, judges[2:], [95, 90, 88, 86, 70], city)  # drop 95, 70: (90+88+86)/3 = 88
    _live(panel, b, judges[2:], [85, 84, 83, 82, 60], city)  # drop 85, 60: (84+83+82)/3 = 83
    db.session.commit()

    ranking = rank_call(contest["call"])

    # A: 0.3 × 82 + 0.7 × 88 = 86.20; B: 0.3 × 90 + 0.7 × 83 = 85.10 — the final decides.
    assert [(r.application.id, r.place.position, r.final) for r in ranking.ranked] == [
        (a.id, 1, Decimal("86.20")), (b.id, 2, Decimal("85.10"))]
    top = ranking.ranked[0].rounds
    assert top["city_preliminary"].score == Decimal("82.00")
    assert top["city_final"].score == Decimal("88.00")
    assert top["city_final"].method_used == "trimmed_mean"
    assert set(top["city_final"].dropped) == {"judge3", "judge7"}
    assert [(r.application.id, r.missing) for r in ranking.incomplete] == [(c.id, ("city_final",))]
    assert [(col.round.name, col.round.weight, col.closed) for col in ranking.columns] == [
        ("city_preliminary", Decimal("0.3"), True), ("city_final", Decimal("0.7"), False)]
    assert entry_scores(a).final == Decimal("86.20")
    assert entry_scores(c).final is None


def test_equal_final_scores_are_split_by_the_final_round_first(world, contest):
    city, judges = world["users"]["city"], contest["judges"]
    a = contest["enter"]("wj1", "太极拳入门")
    b = contest["enter"]("wj2", "手机摄影")
    _panel(a, judges[:3], [90, 90, 90], city)
    _panel(b, judges[:3], [83, 83, 83], city)
    for entry in (a, b):
        fire(entry, "advance", city)
    panel = live_final(contest, judges[2:], [a, b], city)
    _live(panel, a, judges[2:], [80] * 5, city)  # 0.3 × 90 + 0.7 × 80 = 83
    _live(panel, b, judges[2:], [83] * 5, city)  # 0.3 × 83 + 0.7 × 83 = 83
    db.session.commit()

    ranked = rank_call(contest["call"]).ranked

    assert [(r.application.id, r.final, r.place.position) for r in ranked] == [
        (b.id, Decimal("83.00"), 1), (a.id, Decimal("83.00"), 2)]
    assert ranked[0].place.decided_by == "round:city_final"


def test_a_round_closes_only_with_its_quorum_and_a_settled_spread(world, contest):
    city, judges = world["users"]["city"], contest["judges"]
    call = contest["call"]
    a = contest["enter"]("wj1", "太极拳入门")
    b = contest["enter"]("wj2", "手机摄影")
    _panel(a, judges[:3], [60, 85, 90], city)  # spread 30 > 20: flagged
    confirmed(assign_expert(a, judges[3], city))  # a fourth judge, not needed for the quorum
    _panel(b, judges[:2], [80, 82], city)  # two of the three sheets the quorum needs
    db.session.commit()

    with pytest.raises(Conflict) as refused:
        close_round(call, "city_preliminary", city)
    assert refused.value.details["reasons"] == [
        "1 个申报的专家评分尚未收齐",
        "1 个申报的专家评分差异过大，须增加专家评分或记录不增加的理由"]
    fire(a, "advance", city)  # the quorum (3) lets the entry move on with one sheet pending
    db.session.rollback()

    _score(b, judges[2], 81, city)
    _score(a, judges[4], 84, city, extra=True)  # the extra expert settles the spread
    db.session.commit()
    status = round_status(call, "city_preliminary")
    assert status.blockers == []
    assert {e.application.id: (e.submitted, e.pending, e.complete) for e in status.entries} == {
        a.id: (4, 1, True), b.id: (3, 0, True)}

    result = close_round(call, "city_preliminary", city)
    db.session.commit()

    assert result.round == "city_preliminary" and len(result.inputs["sheets"]) == 7
    assert {row["entry"]: row["score"] for row in result.results} == {
        a.id: "79.75", b.id: "81"}  # (60+85+90+84)/4 and (80+82+81)/3
    assert result.settings["method"] == "mean" and result.settings["scale_max"] == "100"
    assert result.inputs["context"]["rubric"] == "contest_online_rubric"
    assert verify_result(result).ok
    with pytest.raises(Conflict):
        _score(a, judges[5], 99, city)  # closed: no new sheets
    db.session.rollback()


def test_a_waiver_with_a_reason_also_settles_the_spread(world, contest):
    city, judges = world["users"]["city"], contest["judges"]
    a = contest["enter"]("wj1", "太极拳入门")
    _panel(a, judges[:3], [60, 85, 90], city)
    with pytest.raises(ValidationFailed):
        waive_dispersion(a, "city_preliminary", city, "   ")
    with pytest.raises(Forbidden):
        waive_dispersion(a, "city_preliminary", world["users"]["wj_admin"], "专家意见一致")
    waive_dispersion(a, "city_preliminary", city, "低分专家已说明理由，专家组认可")
    with pytest.raises(Conflict):
        waive_dispersion(a, "city_preliminary", city, "再记一次")
    db.session.commit()

    status = round_status(contest["call"], "city_preliminary")
    assert status.blockers == []
    assert status.entries[0].waiver.reason == "低分专家已说明理由，专家组认可"


def test_a_stored_result_recomputes_the_same_and_tampering_shows(world, contest):
    city, judges = world["users"]["city"], contest["judges"]
    a = contest["enter"]("wj1", "太极拳入门")
    _panel(a, judges[:3], [80, 82, 84], city)
    result = close_round(contest["call"], "city_preliminary", city)
    db.session.commit()
    assert verify_result(result).ok

    result.results = [{**result.results[0], "score": "95"}]  # someone edits the stored score
    check = verify_result(result)
    assert check.fingerprint_matches and not check.results_match
    assert check.differences[0]["stored"]["score"] == "95"
    assert check.differences[0]["recomputed"]["score"] == "82"

    sheets = [dict(s) for s in result.inputs["sheets"]]
    sheets[0]["total"] = "100"
    result.inputs = {**result.inputs, "sheets": sheets}  # or edits an input sheet
    assert not verify_result(result).fingerprint_matches


def test_a_closed_round_freezes_its_sheets_until_it_is_reopened(world, contest):
    city, judges = world["users"]["city"], contest["judges"]
    a = contest["enter"]("wj1", "太极拳入门")
    sheets = [_score(a, judge, 80, city) for judge in judges[:3]]
    close_round(contest["call"], "city_preliminary", city)
    db.session.commit()
    with pytest.raises(Conflict):
        reopen_sheet(sheets[0], city, "分数录入有误")
    with pytest.raises(Conflict):
        close_round(contest["call"], "city_preliminary", city)
    db.session.rollback()

    reopen_round(contest["call"], "city_preliminary", city)
    reopen_sheet(sheets[0], city, "分数录入有误")
    save_review(sheets[0], judges[0], _split(86, ONLINE), "更正", submit=True)
    second = close_round(contest["call"], "city_preliminary", city)
    db.session.commit()

    assert db.session.scalar(select(func.count()).select_from(ReviewResult)) == 2  # both kept
    assert {row["entry"]: row["score"] for row in second.results} == {a.id: "82"}
    assert rank_call(contest["call"]).rows[0].rounds["city_preliminary"].score == Decimal("82")


def test_deadlines_mark_a_round_overdue_while_sheets_are_missing(world, contest):
    city, judges = world["users"]["city"], contest["judges"]
    a = contest["enter"]("wj1", "太极拳入门")
    confirmed(assign_expert(a, judges[0], city))
    with pytest.raises(Forbidden):
        set_deadline(contest["call"], "city_preliminary", utcnow(), world["users"]["wj_admin"])
    set_deadline(contest["call"], "city_preliminary", utcnow() + timedelta(days=3), city)
    assert not round_status(contest["call"], "city_preliminary").overdue
    set_deadline(contest["call"], "city_preliminary", utcnow() - timedelta(hours=1), city)
    db.session.commit()
    assert round_status(contest["call"], "city_preliminary").overdue


def test_the_guard_accepts_the_rounds_quorum(world, contest):
    city, judges = world["users"]["city"], contest["judges"]
    a = contest["enter"]("wj1", "太极拳入门")
    _panel(a, judges[:2], [80, 80], city)
    with pytest.raises(GuardsFailed) as refused:
        fire(a, "advance", city)
    assert refused.value.details["reasons"] == ["本轮评审至少需要 3 份专家评分，目前 2 份"]
    db.session.rollback()


def test_a_round_closes_after_its_entries_have_moved_on(world, contest):
    city, judges = world["users"]["city"], contest["judges"]
    a = contest["enter"]("wj1", "太极拳入门")
    _panel(a, judges[:3], [80, 82, 84], city)
    fire(a, "advance", city)  # moved on before anyone closed the preliminary
    db.session.commit()

    result = close_round(contest["call"], "city_preliminary", city)

    assert {row["entry"]: row["score"] for row in result.results} == {a.id: "82"}


def test_declining_every_award_waits_for_the_confirmed_awards(world, contest):
    city, judges = world["users"]["city"], contest["judges"]
    a = contest["enter"]("wj1", "太极拳入门")
    _panel(a, judges[:3], [80, 82, 84], city)
    fire(a, "advance", city)
    panel = live_final(contest, judges[2:], [a], city)
    _live(panel, a, judges[2:], [80] * 5, city)
    with pytest.raises(GuardsFailed) as refused:
        fire(a, "not_award", city, comment="未获奖")
    assert refused.value.details["reasons"] == ["本批次的奖项尚未确认（请先生成并确认奖项建议）"]
    db.session.rollback()
