"""The city's round pages: what holds a round open, closing it, the stored result, the ranking."""

from __future__ import annotations

import re
from datetime import timedelta

from sqlalchemy import select

from app.blueprints.admin import progress
from app.engine.runtime import fire
from app.extensions import db
from app.models import Application, CallRound, ReviewAssignment, ReviewResult
from app.models.base import utcnow
from app.services.accounts import add_user
from app.services.programmes import CATALOGUE
from app.services.reviews import assign_expert, reopen_sheet, save_review
from app.services.rounds import set_deadline
from tests.conftest import confirmed

ONLINE = {"design": 30, "materials": 25, "presentation": 25}


def _scored(world, contest, totals_by_entry):
    """Entries in the preliminary round, each scored by the first judges with these totals."""
    entries = []
    for applicant, totals in totals_by_entry.items():
        entry = contest["enter"](applicant, f"{applicant}的课程")
        for judge, total in zip(contest["judges"], totals, strict=False):
            sheet = confirmed(assign_expert(entry, judge, world["users"]["city"]))
            save_review(sheet, judge, {**ONLINE, "design": total - 50}, "评语", submit=True)
        entries.append(entry)
    db.session.commit()
    return entries


def test_the_city_closes_a_round_and_checks_its_stored_result(world, contest, browser):
    a, b = _scored(world, contest, {"wj1": [80, 82, 84], "wj2": [70, 88]})
    city = browser("city")
    call_page = city.get(f"/admin/calls/{contest['call'].id}")
    assert "评审轮次" in call_page.text and "初赛网评" in call_page.text
    url = f"/admin/calls/{contest['call'].id}/rounds/city_preliminary"

    page = city.get(url)
    assert page.status == 200
    assert "本轮评审还不能结束" in page.text and "1 个申报的专家评分尚未收齐" in page.text
    assert "2 / 3" in page.text  # b: two of the three sheets the quorum needs

    sheet = confirmed(assign_expert(b, contest["judges"][2], world["users"]["city"]))
    save_review(sheet, contest["judges"][2], {**ONLINE, "design": 29}, "评语", submit=True)
    db.session.commit()
    page = city.get(url)
    closed = city.submit(page, page.form("/close"))
    assert closed.status == 302
    page = city.get(url)
    assert "本轮评审已结束，结果已保存。" in page.text and "已结束" in page.text
    record = db.session.query(CallRound).one()
    result = db.session.get(ReviewResult, record.result_id)

    result_page = city.get(f"/admin/results/{result.id}")
    assert result.fingerprint in result_page.text and "teacher_contest v4" in result_page.text
    checked = city.submit(result_page, result_page.form("/verify"))
    assert "校验指纹一致，每个申报的结果均相同" in checked.text

    ranking = city.get(f"/admin/calls/{contest['call'].id}/ranking")
    assert "已结束，采用已保存的结果" in ranking.text and "进行中，暂定" in ranking.text
    assert "缺轮次" in ranking.text  # no final round yet: no final score


def test_a_flagged_entry_offers_an_extra_expert_or_a_recorded_reason(world, contest, browser):
    (entry,) = _scored(world, contest, {"wj1": [55, 85, 90]})
    city = browser("city")
    url = f"/admin/calls/{contest['call'].id}/rounds/city_preliminary"
    page = city.get(url)
    assert "差异过大" in page.text and "追加专家" in page.text
    done = city.submit(page, page.form("/dispersion-waiver"), {"reason": "低分专家已书面说明"})
    assert done.status == 302
    page = city.get(url)
    assert "不追加专家：低分专家已书面说明" in page.text
    assert "结束本轮评审" in page.text  # nothing holds the round open any more


def test_the_city_proposes_and_confirms_awards_from_the_ranking(app, world, make_application,
                                                               browser):
    app.extensions[CATALOGUE]["excellent_team"].workflow["reviews"]["awards"] = {
        "levels": [{"name": "优秀", "name_en": "", "proportion": "0.5", "threshold": None}],
        "group_by": None, "per_group": False, "cap": None}
    judge = add_user("judge", "expert", "X-OU", "a-long-password")
    users = world["users"]
    entries = []
    for who, activities in (("wj1", 30), ("wj2", 25)):
        entry = make_application(who, name=f"{who}队")
        fire(entry, "submit", users[who])
        fire(entry, "recommend", users["wj_admin"], data={"rank": 1, "opinion": "推荐"})
        sheet = confirmed(assign_expert(entry, judge, users["city"]))
        save_review(sheet, judge, {"organisation": 18, "resources": 12, "activities": activities,
                                   "impact": 25}, "", submit=True)
        entries.append(entry)
    db.session.commit()
    city = browser("city")
    ranking = city.get(f"/admin/calls/{world['call'].id}/ranking")
    proposed = city.submit(ranking, ranking.form("/award-proposals"))
    assert proposed.status == 302
    page = city.get(proposed.response.headers["Location"])
    assert "待确认" in page.text and "按比例评定" in page.text and "超出比例" in page.text

    refused = city.submit(page, page.form("/confirm"), {f"level_{entries[1].id}": "优秀"})
    assert "调整奖项时请说明理由" in city.get(refused.response.headers["Location"]).text
    done = city.submit(page, page.form("/confirm"),
                       {f"level_{entries[1].id}": "优秀", "note": "两队并列"})
    page = city.get(done.response.headers["Location"])
    assert "奖项已确认。" in page.text and "管理员调整" in page.text and "两队并列" in page.text
    db.session.expire_all()  # the pages changed them in their own sessions
    assert [db.session.get(Application, e.id).award for e in entries] == ["优秀", "优秀"]
    assert "奖项确认后排名已发生变化" not in city.get(
        f"/admin/calls/{world['call'].id}/ranking").text
    sheet = db.session.scalar(select(ReviewAssignment).filter_by(application_id=entries[1].id))
    reopen_sheet(sheet, users["city"], "分数录入有误")
    save_review(sheet, judge, {"organisation": 20, "resources": 15, "activities": 35,
                               "impact": 30}, "", submit=True)
    db.session.commit()
    assert "奖项确认后排名已发生变化" in city.get(f"/admin/calls/{world['call'].id}/ranking").text


def test_the_progress_page_shows_overdue_sheets_and_harsh_or_lenient_experts(world, contest,
                                                                            browser):
    city_user, judges = world["users"]["city"], contest["judges"]
    # totals 60, 78, 90 on both entries: leans −24, +3 and +21 against the other two
    for applicant in ("wj1", "wj2"):
        entry = contest["enter"](applicant, f"{applicant}的课程")
        for judge, total in zip(judges[:3], (60, 78, 90), strict=True):
            sheet = confirmed(assign_expert(entry, judge, city_user))
            save_review(sheet, judge, {**ONLINE, "design": total - 50}, "评语", submit=True)
        confirmed(assign_expert(entry, judges[3], city_user))  # never submits
    late = contest["enter"]("tn1", "tn1的课程")  # two sheets of the three the quorum needs
    for judge in (judges[0], judges[3]):
        confirmed(assign_expert(late, judge, city_user))
    save_review(_sheet_of(late, judges[0]), judges[0], {**ONLINE, "design": 10}, "评语", True)
    set_deadline(contest["call"], "city_preliminary", utcnow() - timedelta(hours=2), city_user)
    db.session.commit()

    page = browser("city").get(f"/admin/calls/{contest['call'].id}/review-progress"
                               "?round=city_preliminary")

    text = page.text
    assert "已逾期" in text
    rows = {name: text[text.index(name):text.index("</tr>", text.index(name))]
            for name in ("评委1", "评委2", "评委3", "评委4")}
    assert "-24.00" in rows["评委1"] and "偏严" in rows["评委1"]  # 60 − (78 + 90) / 2
    assert "+21.00" in rows["评委3"] and "偏宽" in rows["评委3"]  # 90 − (60 + 78) / 2
    assert "+3.00" in rows["评委2"] and "正常" in rows["评委2"]  # 78 − (60 + 90) / 2
    assert 'class="badge final-rejected">3<' in rows["评委4"]  # three overdue sheets


def _sheet_of(entry, judge):
    """The judge's sheet on the entry."""
    return db.session.scalar(select(ReviewAssignment).filter_by(application_id=entry.id,
                                                                expert_id=judge.id))


def test_an_expert_sees_when_their_sheets_are_due(world, contest, browser):
    city, judge = world["users"]["city"], contest["judges"][0]
    done = contest["enter"]("wj2", "书法基础")
    save_review(confirmed(assign_expert(done, judge, city)), judge,
                {**ONLINE, "design": 20}, "评语", submit=True)
    entry = contest["enter"]("wj1", "太极拳入门")
    confirmed(assign_expert(entry, judge, city))
    set_deadline(contest["call"], "city_preliminary", utcnow() - timedelta(hours=1), city)
    db.session.commit()

    queue = browser("judge1").get("/reviews/")

    assert "初赛网评 · <span class=\"overdue\">截止" in queue.text and "（已逾期）" in queue.text
    tiles = re.findall(r'<span class="stat">(\d+)</span> ([^<]+)</li>', queue.text)
    assert tiles == [("1", "份待评"), ("1", "份逾期"), ("1", "已提交")]
    # the overdue sheet comes before the submitted one, though assigned later
    assert queue.text.index("太极拳入门") < queue.text.index("书法基础")


def test_the_progress_by_entry_filters_and_pages(world, contest, browser, monkeypatch):
    city, judges = world["users"]["city"], contest["judges"]
    done = contest["enter"]("wj1", "书法基础")
    save_review(confirmed(assign_expert(done, judges[0], city)), judges[0],
                {**ONLINE, "design": 20}, "评语", submit=True)
    for applicant, course in (("wj2", "太极拳入门"), ("tn1", "社区茶艺")):
        confirmed(assign_expert(contest["enter"](applicant, course), judges[0], city))
    db.session.commit()
    base = f"/admin/calls/{contest['call'].id}/review-progress?round=city_preliminary"

    def entries(query: str = "") -> list[str]:
        text = browser("city").get(base + query).text
        table = text[text.index('id="entries"'):]
        return sorted((c for c in ("书法基础", "太极拳入门", "社区茶艺") if c in table),
                      key=table.index)

    assert entries() == ["书法基础", "太极拳入门", "社区茶艺"]
    assert entries("&entries=open") == ["太极拳入门", "社区茶艺"]
    assert entries("&entries=open&q=茶艺") == ["社区茶艺"]
    monkeypatch.setattr(progress, "PER_PAGE", 2)
    assert entries("&page=2") == ["社区茶艺"]
    assert entries("&page=99") == ["社区茶艺"]  # past the end: the last page


def test_an_english_reader_is_told_in_english_why_a_round_cannot_close(world, contest, browser):
    _scored(world, contest, {"wj1": [80, 82, 84], "wj2": [70, 88]})
    city = browser("city")
    city.client.set_cookie("lang", "en")
    url = f"/admin/calls/{contest['call'].id}/rounds/city_preliminary"
    page = city.get(url)
    blocker = "Applications still missing expert scores: 1"
    assert blocker in page.text and "尚未收齐" not in page.text
    refused = city.post(f"{url}/close", {}, page)
    assert refused.status == 302
    flashed = city.get(url).text
    assert f"This review round cannot end yet: {blocker}" in flashed
    assert "还不能结束" not in flashed
    assert db.session.scalar(select(ReviewResult)) is None
