"""Eligibility guards: one entry per person (or unit, or category), prior winners excluded,
minimum values, a team's age, a required attachment — each refusal says why."""

from __future__ import annotations

import io
from datetime import UTC, datetime, timedelta

import pytest

from app.engine.eligibility import (
    date_years_before,
    field_at_least,
    has_attachment,
    not_prior_winner,
    one_entry_per,
)
from app.engine.errors import GuardsFailed
from app.engine.guards import district_minimum
from app.engine.runtime import Context, fire
from app.extensions import db
from app.models.base import utcnow
from app.services.applications import create_application
from app.services.attachments import store_attachment
from app.services.calls import open_call
from app.services.demo import SAMPLE_PDF, contest_data, team_data
from app.services.programmes import programme_of


def _ctx(application, actor=None, now=None):
    """The context a guard sees for a step on ``application``."""
    return Context(application, actor, programme_of(application), {}, now or utcnow())


def test_the_contest_takes_one_entry_per_teacher(world, contest):
    users = world["users"]
    first = contest["enter"]("wj1", "太极拳入门")
    second = create_application(contest["call"], users["wj1"], contest_data(
        "wj1老师", users["wj1"].org.name, "葫芦丝演奏", category="通识课程说课展示"))
    store_attachment(second, "lesson_plan", "教案.pdf", io.BytesIO(SAMPLE_PDF), users["wj1"])
    with pytest.raises(GuardsFailed) as refused:
        fire(second, "submit", users["wj1"])
    assert refused.value.details["reasons"] == ["本批次每位申报人最多申报 1 项，已有 “太极拳入门”"]
    db.session.rollback()
    # Another teacher of the same unit is not affected; per unit it would be.
    assert one_entry_per(_ctx(second), by="applicant", max=1, field=None) is not None
    assert one_entry_per(_ctx(second), by="applicant", max=2, field=None) is None
    assert one_entry_per(_ctx(second), by="applicant", max=1, field="category") is None
    assert first.data["category"] != second.data["category"]


def test_drafts_and_withdrawn_entries_do_not_count(world, contest):
    users = world["users"]
    draft = create_application(contest["call"], users["tn1"], contest_data(
        "tn1老师", users["tn1"].org.name, "剪纸"))
    other = create_application(contest["call"], users["tn1"], contest_data(
        "tn1老师", users["tn1"].org.name, "茶艺"))
    db.session.commit()
    assert one_entry_per(_ctx(other), by="applicant", max=1, field=None) is None
    fire(draft, "withdraw", users["tn1"], comment="改报其他课程")
    assert one_entry_per(_ctx(other), by="applicant", max=1, field=None) is None


def test_a_team_founded_less_than_a_year_ago_cannot_apply(world, make_application):
    users = world["users"]
    young = (utcnow() - timedelta(days=200)).date().isoformat()
    entry = make_application("wj1", name="新成立的合唱队", founded_on=young)
    with pytest.raises(GuardsFailed) as refused:
        fire(entry, "submit", users["wj1"])
    [reason] = refused.value.details["reasons"]
    assert reason.startswith("“成立时间”应不晚于") and f"当前为 {young}" in reason
    assert "须满 1 年" in reason
    db.session.rollback()
    now = datetime(2026, 3, 1, 2, tzinfo=UTC)
    entry.data = {**entry.data, "founded_on": "2025-03-01"}
    assert date_years_before(_ctx(entry, now=now), field="founded_on", years=1) is None
    entry.data = {**entry.data, "founded_on": "2025-03-02"}
    assert date_years_before(_ctx(entry, now=now), field="founded_on", years=1) is not None


def test_minimum_values_and_required_files(world, make_application):
    entry = make_application("wj1", name="湖塘太极拳队", member_count=7)
    assert field_at_least(_ctx(entry), field="member_count", min=5) is None
    assert field_at_least(_ctx(entry), field="member_count", min=8) == \
        "“团队人数”至少应为 8（当前为 7）"
    assert has_attachment(_ctx(entry), field="charter", min=1) is None
    assert has_attachment(_ctx(entry), field="charter", min=2) == \
        "请上传“团队章程”（至少 2 个文件）"


def test_a_winner_of_recent_years_is_excluded(world, make_application):
    users = world["users"]
    now = utcnow()
    last_year = open_call("excellent_team", "2025年度X市社区教育优秀团队遴选", 2025,
                          now - timedelta(days=1), now + timedelta(days=1), {}, users["city"])
    winner = create_application(last_year, users["wj1"],
                                team_data("湖塘太极拳队", "某中心", "张三"))
    winner.state = "named"  # set-up: last year's outcome
    db.session.commit()
    entry = make_application("wj1", name="湖塘太极拳队（新）")
    assert not_prior_winner(_ctx(entry), years=3, by="applicant", field=None) == \
        "该申报人已于 2025 年获评（“湖塘太极拳队”），3 年内不能再次申报"
    assert not_prior_winner(_ctx(entry), years=3, by="unit", field=None) is not None
    assert not_prior_winner(_ctx(entry), years=3, by="field", field="leader") is not None
    other = make_application("wj2", name="别的团队")
    assert not_prior_winner(_ctx(other), years=3, by="applicant", field=None) is None
    winner.state = "not_selected"
    db.session.commit()
    assert not_prior_winner(_ctx(entry), years=3, by="applicant", field=None) is None


def test_a_district_cannot_decline_below_its_minimum(world):
    from app.services.demo import team_data

    users, now = world["users"], utcnow()
    call = open_call("excellent_team", "至少推荐两个的批次", 2026, now - timedelta(days=1),
                     now + timedelta(days=30), {"WJ": 3}, users["city"], minimums={"WJ": 2})
    entries = []
    for name in ("wj1", "wj2", "wj3"):
        entry = create_application(call, users[name], team_data(f"{name}的团队", "某中心", "张三"))
        store_attachment(entry, "charter", "章程.pdf", io.BytesIO(SAMPLE_PDF), users[name])
        fire(entry, "submit", users[name])
        entries.append(entry)
    db.session.commit()
    counted = ["city_review", "notice", "named", "not_selected"]
    # three waiting, minimum two: declining one still leaves enough
    assert district_minimum(_ctx(entries[0]), states=counted) is None
    fire(entries[0], "not_recommend", users["wj_admin"], comment="材料不全")
    # now two are left and both are needed
    assert district_minimum(_ctx(entries[1]), states=counted) == (
        "本区至少应推荐 2 个，已推荐 0 个，另有 1 个待审核；不予推荐后将达不到最少推荐数")
    fire(entries[1], "recommend", users["wj_admin"], data={"rank": 1, "opinion": "推荐"})
    assert district_minimum(_ctx(entries[2]), states=counted) == (
        "本区至少应推荐 2 个，已推荐 1 个，另有 0 个待审核；不予推荐后将达不到最少推荐数")
    # a district without a minimum is never held back
    other = open_call("excellent_team", "没有最少数的批次", 2026, now - timedelta(days=1),
                      now + timedelta(days=30), {}, users["city"])
    free = create_application(other, users["tn1"], team_data("天宁团队", "某中心", "李四"))
    assert district_minimum(_ctx(free), states=counted) is None


def test_call_minimums_are_checked(world):
    from app.engine.errors import ValidationFailed

    users, now = world["users"], utcnow()
    with pytest.raises(ValidationFailed) as refused:
        open_call("excellent_team", "有误的批次", 2026, now, now + timedelta(days=3),
                  {"WJ": 1}, users["city"], minimums={"WJ": 2, "TN": 0, "ZZ": 1})
    assert refused.value.details == {"minimums.WJ": "最少推荐数不能大于名额（1）",
                                     "minimums.TN": "最少推荐数应为不小于 1 的整数",
                                     "minimums.ZZ": "没有代码为 ZZ 的区"}
    call = open_call("excellent_team", "只有最少数", 2026, now, now + timedelta(days=3), {},
                     users["city"], minimums={"TN": 1})
    tn = users["tn_admin"].district_id
    assert call.quota_for(tn) is None and call.minimum_for(tn) == 1


def test_the_contest_quota_holds_per_district_and_category(world):
    users, now = world["users"], utcnow()
    call = open_call("teacher_contest", "每类别一个名额的大赛", 2026, now - timedelta(days=1),
                     now + timedelta(days=30), {"WJ": 1}, users["city"])

    def entry(who, course, category):
        made = create_application(call, users[who], contest_data(
            f"{who}老师", users[who].org.name, course, category=category))
        store_attachment(made, "lesson_plan", "教案.pdf", io.BytesIO(SAMPLE_PDF), users[who])
        fire(made, "submit", users[who])
        return made

    skills = entry("wj1", "太极拳入门", "技能课程说课展示")
    general = entry("wj2", "家庭理财", "通识课程说课展示")
    second_skills = entry("wj3", "剪纸", "技能课程说课展示")
    opinion = {"rank": 1, "opinion": "推荐"}
    for made in (skills, general):  # one place in each category
        fire(made, "recommend", users["wj_admin"], data=opinion)
    with pytest.raises(GuardsFailed) as refused:
        fire(second_skills, "recommend", users["wj_admin"], data=opinion)
    assert refused.value.details["reasons"] == [
        "本区在“参赛类别”为“技能课程说课展示”的类别中推荐名额为 1 个，已推荐 1 个，名额已用完"]


def test_a_unit_may_replace_a_nominee_the_district_declined(world):
    users, now = world["users"], utcnow()
    call = open_call("citizen_star", "百姓学习之星推荐", 2026, now - timedelta(days=1),
                     now + timedelta(days=30), {}, users["city"])
    entries = [create_application(call, users["wj1"], {"nominee": name})
               for name in ("张甲", "李乙", "王丙")]
    for entry in entries[:2]:
        entry.state, entry.submitted_at = "district_review", now
    db.session.flush()
    assert one_entry_per(_ctx(entries[2]), by="unit", max=2, field=None,
                         count_refused=False) is not None
    fire(entries[0], "not_recommend", users["wj_admin"], comment="事迹不够突出")
    assert one_entry_per(_ctx(entries[2]), by="unit", max=2, field=None,
                         count_refused=False) is None
    assert one_entry_per(_ctx(entries[2]), by="unit", max=2, field=None,
                         count_refused=True) is not None
