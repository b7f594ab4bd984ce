"""The call overview (city and district) and the year calendar: what the charts and tables count."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

from sqlalchemy import select

from app.engine.runtime import fire
from app.extensions import db
from app.models import Application
from app.models.base import utcnow
from app.services.calls import open_call
from app.services.dashboards import call_overview, year_calendar
from app.services.objections import submit_objection
from app.services.reviews import assign_expert
from app.services.rounds import set_deadline
from tests.conftest import NOTICE_FROM


def cells(html: str, first_cell: str) -> list[str]:
    """The texts of the table row whose first cell is ``first_cell``."""
    for row in re.findall(r"<tr>(.*?)</tr>", html, re.S):
        texts = [re.sub(r"<[^>]+>|\s+", " ", cell).strip()
                 for cell in re.findall(r"<td[^>]*>(.*?)</td>", row, re.S)]
        if texts and texts[0] == first_cell:
            return texts
    raise AssertionError(f"no row for {first_cell}")


def _entry(title):
    return db.session.scalar(select(Application).filter_by(title=title))


def test_the_overview_counts_entries_by_state_district_and_round(world, make_application,
                                                                  advance):
    users = world["users"]
    make_application("wj1", name="甲队")
    advance(make_application("wj2", name="乙队"), "district_review")
    returned = advance(make_application("wj3", name="丙队"), "district_review")
    fire(returned, "return_for_correction", users["wj_admin"], comment="请补充")
    advance(make_application("tn1", name="丁队"), "city_review", experts=("expert1",))
    assign_expert(_entry("丁队"), users["expert2"], users["city"])
    db.session.commit()

    overview = call_overview(world["call"])
    assert {s.name: (s.count, s.kind) for s in overview.states} == {
        "district_review": (1, "district"), "returned": (1, "applicant"),
        "city_review": (1, "review")}
    assert overview.drafts == 1 and overview.submitted == 3
    rows = {row.district.code: row for row in overview.districts}
    wj, tn = rows["WJ"], rows["TN"]
    assert (wj.total, wj.drafts, wj.counted, wj.left) == (2, 1, 0, 2)
    assert dict(wj.kinds) == {"district": 1, "applicant": 1}
    assert (tn.total, tn.counted, tn.quota, tn.left) == (1, 1, 1, 0)
    [review] = overview.rounds
    assert (review.submitted, review.open, review.experts) == (1, 1, 2)


def test_the_city_reads_the_overview_and_follows_a_bar(world, make_application, advance,
                                                       browser):
    users = world["users"]
    make_application("wj1", name="甲队")
    advance(make_application("wj2", name="乙队"), "district_review")
    advance(make_application("tn1", name="丁队"), "city_review", experts=("expert1",))
    call = world["call"]
    set_deadline(call, "city_review", utcnow() + timedelta(days=3), users["city"])
    db.session.commit()

    page = browser("city").get(f"/admin/calls/{call.id}/overview")
    assert page.status == 200
    html = page.text
    assert f'href="/admin/calls/{call.id}?state=district_review"' in html
    assert cells(html, "武进区") == ["武进区", "1", "1", "0", "2", "2", "—"]
    assert cells(html, "天宁区") == ["天宁区", "1", "0", "1", "1", "0", "—"]
    assert "1 / 1" in html  # the round's sheets: one submitted of one
    assert "市级评审评分截止" in html
    assert "申报截止" in html  # the call closes within the month
    follow = browser("city").get(f"/admin/calls/{call.id}?state=district_review").text
    assert "乙队" in follow and "丁队" not in follow


def test_a_district_sees_only_its_own_entries(world, make_application, advance, browser):
    advance(make_application("wj2", name="乙队"), "district_review")
    advance(make_application("tn1", name="丁队"), "city_review")
    advance(make_application("tn2", name="戊队"), "district_review")
    call = world["call"]
    html = browser("wj_admin").get(f"/district/calls/{call.id}").text
    assert cells(html, "武进区")[:2] == ["武进区", "1"]
    assert "天宁区" not in html and "state=city_review" not in html
    tn = browser("tn_admin").get(f"/district/calls/{call.id}").text
    assert cells(tn, "天宁区")[:4] == ["天宁区", "2", "0", "1"]
    assert "武进区" not in tn
    exports = f'href="/admin/calls/{call.id}/exports"'
    assert exports in html  # the district's own exports are one click away
    assert "天宁区" not in browser("wj_admin").get(f"/admin/calls/{call.id}/exports").text
    for user in ("city", "wj1", "expert1"):
        assert browser(user).get(f"/district/calls/{call.id}").status == 403
    for user in ("wj_admin", "wj1", "expert1"):
        assert browser(user).get(f"/admin/calls/{call.id}/overview").status == 403


def test_notice_deadlines_and_open_objections_are_shown(world, in_notice, browser):
    submit_objection(in_notice, "王五", "13800000000", "团队成立时间与材料不符，请核实", None,
                     "10.0.0.1")
    db.session.commit()
    overview = call_overview(world["call"], now=NOTICE_FROM + timedelta(days=1))
    ends = [d for d in overview.deadlines if d.what == "state_ends"]
    # five working days from Monday 1 June 2026 (Dragon Boat Festival on 19 June is later)
    assert [(d.state, d.count, d.at.astimezone(UTC).date()) for d in ends] == [
        ("notice", 1, datetime(2026, 6, 8).date())]
    assert overview.objections_open == 1
    html = browser("city").get(f"/admin/calls/{world['call'].id}/overview").text
    assert "湖塘太极拳队" in html and "待处理异议" in html


def test_the_calendar_shows_each_call_with_its_stages(world, make_application, advance,
                                                      browser):
    users = world["users"]
    advance(make_application("wj2", name="乙队"), "city_review")
    now = utcnow()
    last = now.year - 1
    old = open_call("excellent_team", "上一年度遴选", last, datetime(last, 3, 1, tzinfo=UTC),
                    datetime(last, 4, 1, tzinfo=UTC), {}, users["city"])
    db.session.commit()
    rows = {row.call.title: row for row in year_calendar(now.year, now)}
    assert world["call"].title in rows and old.title not in rows
    spans = {span.label: span for span in rows[world["call"].title].spans}
    assert set(spans) == {"", "区级初审", "市级评审"}
    assert spans["市级评审"].ongoing and not spans["区级初审"].ongoing
    assert spans[""].kind == "window"

    html = browser("city").get(f"/admin/calendar?year={now.year}").text
    assert world["call"].title in html and "区级初审" in html and old.title not in html
    before = browser("city").get(f"/admin/calendar?year={now.year - 1}").text
    assert old.title in before and world["call"].title not in before
    assert browser("wj_admin").get("/admin/calendar").status == 403


def test_the_calls_page_lists_the_next_two_weeks(world, browser):
    now = utcnow()
    soon = open_call("model_centre", "第三批示范中心建设", 2026, now - timedelta(days=1),
                     now + timedelta(days=9), {}, world["users"]["city"])
    db.session.commit()
    html = browser("city").get("/admin/").text
    section = html[html.index("今后两周"):html.index("</section>", html.index("今后两周"))]
    assert soon.title in section and "申报截止" in section
    assert world["call"].title not in section  # it closes in 30 days
