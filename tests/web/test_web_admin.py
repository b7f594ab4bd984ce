"""City administration: opening calls, bulk moves with a dry run, stale pages."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from sqlalchemy import select

from app.extensions import db
from app.models import Application, AuditEntry, Call, ReviewAssignment
from app.models.base import utcnow
from app.services.applications import create_application
from app.services.reviews import assign_expert, save_review
from tests.conftest import confirmed
from tests.web.conftest import SCORES, reload


def test_open_a_call_in_beijing_time(world, browser):
    city = browser("city")
    page = city.get("/admin/calls/new")
    done = city.submit(page, page.form(), {
        "programme": "excellent_team", "title": "2027年度遴选", "year": "2027",
        "opens_at": "2027-03-01T09:00", "closes_at": "2027-04-01T17:30",
        "quota_WJ": "3", "quota_TN": ""})
    assert done.status == 302
    call = db.session.scalar(select(Call).where(Call.title == "2027年度遴选"))
    assert call.opens_at == datetime(2027, 3, 1, 1, 0, tzinfo=UTC)
    assert {q.district.code: q.quota for q in call.quotas} == {"WJ": 3}
    bad = city.submit(page, page.form(), {
        "programme": "excellent_team", "title": "错的", "year": "2027",
        "opens_at": "2027-04-01T09:00", "closes_at": "2027-03-01T09:00", "quota_WJ": "-1"})
    assert bad.status == 422 and "截止时间必须晚于开始时间" in bad.text
    assert "名额应为不小于 0 的整数" in bad.text
    minimum = city.submit(page, page.form(), {
        "programme": "excellent_team", "title": "有最少推荐数的批次", "year": "2027",
        "opens_at": "2027-03-01T09:00", "closes_at": "2027-04-01T17:30",
        "quota_WJ": "1", "minimum_WJ": "2", "minimum_TN": "1"})
    assert minimum.status == 422 and "最少推荐数不能大于名额（1）" in minimum.text
    done = city.submit(page, page.form(), {
        "programme": "excellent_team", "title": "有最少推荐数的批次", "year": "2027",
        "opens_at": "2027-03-01T09:00", "closes_at": "2027-04-01T17:30",
        "quota_WJ": "3", "minimum_WJ": "2"})
    call = db.session.scalar(select(Call).where(Call.title == "有最少推荐数的批次"))
    assert {q.district.code: (q.quota, q.minimum) for q in call.quotas} == {"WJ": (3, 2)}


def test_the_calls_filter_by_programme(world, browser):
    from datetime import timedelta

    from app.services.calls import open_call

    now = utcnow()
    open_call("model_centre", "第三批示范中心建设", 2026, now, now + timedelta(days=9), {},
              world["users"]["city"])
    db.session.commit()
    city = browser("city")
    every = city.get("/admin/").text
    assert "第三批示范中心建设" in every and world["call"].title in every
    only = city.get("/admin/?programme=model_centre").text
    assert "第三批示范中心建设" in only and world["call"].title not in only
    assert '<option value="model_centre" selected>' in only


def test_bulk_dry_run_then_apply_to_those_that_pass(world, make_application, advance,
                                                     browser):
    ready = [advance(make_application(user, name), "city_review", rank=n, experts=("expert1",))
             for n, (user, name) in enumerate((("wj1", "甲队"), ("wj2", "乙队")), start=1)]
    waiting = advance(make_application("tn1", "丙队"), "city_review")
    city = browser("city")
    listing = city.get(f"/admin/calls/{world['call'].id}?state=city_review")
    form = listing.form("/bulk")
    ids = [str(a.id) for a in (*ready, waiting)]
    dry = city.submit(listing, form, {"ids": ids, "trigger": "publish_notice"})
    assert dry.status == 200
    assert "至少需要 1 份专家评分，目前 0 份" in dry.text
    assert reload(Application, waiting.id).state == "city_review"
    apply_form = dry.form("/bulk")
    assert sorted(apply_form.values("ids")) == sorted(str(a.id) for a in ready)
    result = city.submit(dry, apply_form)
    assert result.status == 200
    states = {a.id: reload(Application, a.id).state for a in (*ready, waiting)}
    assert states == {ready[0].id: "notice", ready[1].id: "notice", waiting.id: "city_review"}
    bulk_ids = set(db.session.scalars(select(AuditEntry.bulk_id).where(
        AuditEntry.trigger == "publish_notice")))
    assert len(bulk_ids) == 1 and None not in bulk_ids
    assert bulk_ids.pop() in result.text


def test_bulk_on_all_entries_matching_the_filter(world, make_application, advance, browser):
    advance(make_application("wj1", "甲队"), "city_review", experts=("expert1",))
    other = advance(make_application("wj2", "乙队"), "district_review")
    city = browser("city")
    listing = city.get(f"/admin/calls/{world['call'].id}?state=city_review")
    dry = city.submit(listing, listing.form("/bulk"),
                      {"scope": "filter", "trigger": "publish_notice"})
    assert "甲队" in dry.text and "乙队" not in dry.text
    assert reload(Application, other.id).state == "district_review"


def test_a_stale_page_gets_a_conflict_and_no_double_move(world, make_application, advance,
                                                         browser):
    entry = advance(make_application("wj1"), "city_review", experts=("expert1",))
    city = browser("city")
    stale = city.get(f"/applications/{entry.id}")
    form = stale.form("/transitions/publish_notice")
    users = world["users"]
    sheet = confirmed(assign_expert(reload(Application, entry.id), users["expert2"], users["city"]))
    save_review(sheet, users["expert2"], SCORES, "", submit=True)  # the entry changed meanwhile
    db.session.commit()
    conflict = city.submit(stale, form)
    assert conflict.status == 409 and "该申报已被他人修改，请刷新后重试" in conflict.text
    assert reload(Application, entry.id).state == "city_review"

    fresh = city.get(f"/applications/{entry.id}")
    fresh_form = fresh.form("/transitions/publish_notice")
    assert city.submit(fresh, fresh_form).status == 302
    twice = city.submit(fresh, fresh_form)  # the same click again: the state has moved on
    assert twice.status == 409
    moves = db.session.scalars(select(AuditEntry).where(
        AuditEntry.application_id == entry.id, AuditEntry.trigger == "publish_notice")).all()
    assert len(moves) == 1 and reload(Application, entry.id).state == "notice"


def test_admin_assigns_experts_from_the_entry_page(world, make_application, advance, browser):
    entry = advance(make_application("wj1"), "city_review")
    city = browser("city")
    page = city.get(f"/applications/{entry.id}")
    city.submit(page, page.form("/assign"), {"expert": str(world["users"]["expert1"].id)})
    page = city.get(f"/applications/{entry.id}")
    assert "专家一" in page.text
    again = city.submit(page, page.form("/assign"),
                        {"expert": str(world["users"]["expert1"].id)})
    assert again.status == 302
    assert len(db.session.scalars(select(ReviewAssignment)).all()) == 1
    assert "该专家已分配到此申报" in city.get(f"/applications/{entry.id}").text


def test_call_entries_are_paginated_by_fifty(world, browser):
    for n in range(51):
        entry = create_application(world["call"], world["users"]["wj1"],
                                   {"team_name": f"队{n:02d}"})
        entry.submitted_at = utcnow()  # set-up only: administrators list submitted entries
    db.session.commit()
    city = browser("city")
    first = city.get(f"/admin/calls/{world['call'].id}")
    assert first.text.count('name="ids"') == 50
    assert "page=2" in first.text
    second = city.get(f"/admin/calls/{world['call'].id}?page=2")
    assert second.text.count('name="ids"') == 1
    only = city.get(f"/admin/calls/{world['call'].id}?q=队07")
    assert only.text.count('name="ids"') == 1 and "队07" in only.text


def test_call_entries_search_the_unit_and_sort(world, browser):
    moments = {"甲队": 3, "乙队": 1, "丙队": 2}  # hours ago each was submitted
    for name, applicant in (("甲队", "wj1"), ("乙队", "tn1"), ("丙队", "wj2")):
        entry = create_application(world["call"], world["users"][applicant], {"team_name": name})
        entry.submitted_at = utcnow() - timedelta(hours=moments[name])
    db.session.commit()
    city, base = browser("city"), f"/admin/calls/{world['call'].id}"

    def order(query: str) -> list[str]:
        text = city.get(base + query).text
        return sorted((n for n in moments if n in text), key=text.index)

    assert order("?q=天宁区单位1") == ["乙队"]  # tn1's unit, found by its Chinese name
    assert order("?q=单位&sort=-submitted") == ["乙队", "丙队", "甲队"]
    assert order("?sort=submitted") == ["甲队", "丙队", "乙队"]
    assert order("?sort=nonsense") == order("")  # an unknown order falls back to the default
