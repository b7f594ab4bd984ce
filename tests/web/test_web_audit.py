"""The audit log page: every move, filtered by who, call, action and date."""

from __future__ import annotations

from datetime import timedelta
from zoneinfo import ZoneInfo

from app.engine.runtime import fire
from app.extensions import db
from app.models.base import utcnow
from app.services.calls import open_call


def test_the_city_reads_who_did_what_to_which_entry(world, make_application, browser):
    users = world["users"]
    first, second = make_application("wj1", name="甲队"), make_application("tn1", name="乙队")
    fire(first, "submit", users["wj1"])
    fire(first, "return_for_correction", users["wj_admin"], comment="请补充活动记录")
    fire(second, "submit", users["tn1"])
    db.session.commit()
    city = browser("city")
    page = city.get("/admin/audit").text
    assert page.index("乙队") < page.index("请补充活动记录")  # newest first
    for text in ("甲队", "乙队", "wj_admin", "退回修改", "区级初审 → 退回修改"):
        assert text in page, text
    only = city.get("/admin/audit?user=wj_admin").text
    assert "请补充活动记录" in only and "乙队" not in only
    submits = city.get("/admin/audit?action=submit").text
    assert "甲队" in submits and "乙队" in submits and "请补充活动记录" not in submits


def test_filters_by_call_and_beijing_date(world, make_application, browser):
    users = world["users"]
    entry = make_application("wj1", name="甲队")
    fire(entry, "submit", users["wj1"])
    today = utcnow().astimezone(ZoneInfo("Asia/Shanghai")).date()
    yesterday = today - timedelta(days=1)
    other_call = open_call("excellent_team", "另一批次", 2026, utcnow() - timedelta(days=1),
                           utcnow() + timedelta(days=9), {}, users["city"])
    db.session.commit()
    city = browser("city")
    same_day = city.get(f"/admin/audit?since={today}&until={today}&action=submit").text
    assert "甲队" in same_day
    before = city.get(f"/admin/audit?until={yesterday}&action=submit").text
    assert "甲队" not in before and "没有符合条件的记录" in before
    assert "甲队" not in city.get(f"/admin/audit?since={today + timedelta(days=1)}").text
    assert "甲队" not in city.get(f"/admin/audit?call={other_call.id}").text
    assert "甲队" in city.get(f"/admin/audit?call={world['call'].id}").text
    assert city.get("/admin/audit?since=not-a-date").status == 200
    assert browser("wj_admin").get("/admin/audit").status == 403


def test_the_log_searches_titles_and_comments_and_turns_around(world, make_application, browser):
    users = world["users"]
    first, second = make_application("wj1", name="甲队"), make_application("tn1", name="乙队")
    fire(first, "submit", users["wj1"])
    fire(first, "return_for_correction", users["wj_admin"], comment="请补充活动记录")
    fire(second, "submit", users["tn1"])
    db.session.commit()
    city = browser("city")
    found = city.get("/admin/audit?q=活动记录").text
    assert "请补充活动记录" in found and "乙队" not in found
    assert "乙队" in city.get("/admin/audit?q=乙队").text
    assert "没有符合条件的记录" in city.get("/admin/audit?q=100%25").text
    oldest = city.get("/admin/audit?order=oldest&action=submit").text
    assert oldest.index("甲队") < oldest.index("乙队")
    newest = city.get("/admin/audit?action=submit").text
    assert newest.index("乙队") < newest.index("甲队")


def test_a_drafts_title_stays_its_applicants(world, make_application, browser):
    """Found by the marker crawl: the log showed the title of an entry never submitted."""
    users = world["users"]
    draft = make_application("wj1", name="草稿中的队")
    sent = make_application("wj1", name="已提交的队")
    fire(sent, "submit", users["wj1"])
    db.session.commit()
    city = browser("city")
    page = city.get("/admin/audit").text
    assert "已提交的队" in page and "草稿中的队" not in page and f"#{draft.id}" in page
    assert "草稿中的队" not in city.get("/admin/audit?q=草稿中").text
    assert f"#{draft.id}" not in city.get("/admin/audit?q=草稿中").text
    fire(draft, "submit", users["wj1"])
    db.session.commit()
    assert "草稿中的队" in city.get("/admin/audit?q=草稿中").text
