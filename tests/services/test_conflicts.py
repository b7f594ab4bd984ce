"""Conflicts of interest: automatic exclusions and declarations before the materials open."""

from __future__ import annotations

import re

import pytest

from app.engine.errors import Conflict, GuardsFailed, ValidationFailed
from app.engine.runtime import fire
from app.extensions import db
from app.permissions import can_view_application
from app.services.programmes import CATALOGUE
from app.services.reviews import assign_expert, declare_conflict, save_review, withdraw_assignment
from tests.conftest import confirmed

SCORES = {"organisation": 18, "resources": 12, "activities": 30, "impact": 25}


@pytest.fixture
def entry(world, make_application):
    users = world["users"]
    application = make_application("wj1")
    fire(application, "submit", users["wj1"])
    fire(application, "recommend", users["wj_admin"], data={"rank": 1, "opinion": "推荐"})
    db.session.commit()
    return application


def test_materials_stay_shut_until_the_expert_confirms_no_conflict(world, entry):
    expert = world["users"]["expert1"]
    sheet = assign_expert(entry, expert, world["users"]["city"])
    assert not can_view_application(expert, entry)
    with pytest.raises(Conflict):
        save_review(sheet, expert, SCORES, "", submit=False)
    declare_conflict(sheet, expert, conflict=False)
    assert can_view_application(expert, entry)
    with pytest.raises(Conflict):  # answered once, for good
        declare_conflict(sheet, expert, conflict=True, reason="改变主意")


def test_a_declared_conflict_withdraws_the_expert_and_is_kept(world, entry):
    users = world["users"]
    sheet = assign_expert(entry, users["expert1"], users["city"])
    with pytest.raises(ValidationFailed):
        declare_conflict(sheet, users["expert1"], conflict=True, reason=" ")
    declare_conflict(sheet, users["expert1"], conflict=True, reason="本人曾指导该团队")
    db.session.commit()
    assert sheet.status == "conflict" and sheet.conflict_reason == "本人曾指导该团队"
    assert not can_view_application(users["expert1"], entry)
    with pytest.raises(Conflict) as again:
        assign_expert(entry, users["expert1"], users["city"])
    assert again.value.message == "该专家已声明回避此申报"
    with pytest.raises(GuardsFailed) as nobody:  # the withdrawn sheet does not count
        fire(entry, "publish_notice", users["city"])
    assert "至少需要 1 份专家评分" in nobody.value.message
    db.session.rollback()
    other = confirmed(assign_expert(entry, users["expert2"], users["city"]))
    save_review(other, users["expert2"], SCORES, "", submit=True)
    fire(entry, "publish_notice", users["city"])
    assert entry.state == "notice"


def test_own_unit_always_and_own_district_when_the_programme_says_so(app, world, entry):
    from app.services.accounts import add_user

    same_unit = add_user("insider", "expert", "WJ-U1", "a-long-password")
    same_district = add_user("neighbour", "expert", "WJ-U3", "a-long-password")
    with pytest.raises(ValidationFailed, match="专家与申报单位相同"):
        assign_expert(entry, same_unit, world["users"]["city"])
    programme = app.extensions[CATALOGUE]["excellent_team"]
    reviews = programme.workflow["reviews"]
    assert (reviews["exclude_same_district"], reviews["declare_conflicts"]) == (False, True)
    assign_expert(entry, same_district, world["users"]["city"])  # allowed by default
    db.session.rollback()
    from app.services.programmes import programme_of

    programme_of(entry).workflow["reviews"]["exclude_same_district"] = True
    try:
        with pytest.raises(ValidationFailed, match="同属一个区"):
            assign_expert(entry, same_district, world["users"]["city"])
    finally:
        programme_of(entry).workflow["reviews"]["exclude_same_district"] = False


def test_the_city_sees_the_declared_conflict_and_its_reason(client, world, entry):
    from tests.conftest import login

    users = world["users"]
    sheet = assign_expert(entry, users["expert1"], users["city"])
    declare_conflict(sheet, users["expert1"], conflict=True, reason="本人曾指导该团队")
    db.session.commit()
    login(client, "city")
    page = client.get(f"/applications/{entry.id}").get_data(as_text=True)
    assert "已声明回避" in page and "本人曾指导该团队" in page


def test_automatic_assignment_previews_then_assigns_without_conflicts(client, world,
                                                                      make_application):
    from sqlalchemy import select

    from app.models import ReviewAssignment
    from app.services.accounts import add_user
    from tests.conftest import csrf_from, login

    users = world["users"]
    add_user("expert3", "expert", "TN-U1", "a-long-password", "专家三", "教授", ["美育与艺术鉴赏"])
    add_user("expert_wj", "expert", "WJ-U2", "a-long-password", "同区专家")
    add_user("expert_own", "expert", "WJ-U1", "a-long-password", "本单位专家")
    for n, who in enumerate(("wj1", "tn1")):
        entry = make_application(who, name=f"队{n}")
        fire(entry, "submit", users[who])
        admin = users["wj_admin"] if who.startswith("wj") else users["tn_admin"]
        fire(entry, "recommend", admin, data={"rank": 1, "opinion": "推荐"})
    db.session.commit()
    login(client, "city")
    call = world["call"].id
    preview = client.get(f"/admin/calls/{call}/auto-assign?per_entry=2&match_tags=prefer")
    text = preview.get_data(as_text=True)
    assert preview.status_code == 200
    assert "将为 2 份待评审申报新增 4 项分配" in text
    assert db.session.scalar(select(ReviewAssignment.id)) is None  # a preview changes nothing
    pairs = re.findall(r'name="pair" value="([0-9]+:[0-9]+)"', text)
    assert len(pairs) == 4  # the confirmation carries exactly what the preview showed
    made = client.post(f"/admin/calls/{call}/auto-assign", data={
        "per_entry": "2", "match_tags": "prefer", "csrf_token": csrf_from(text), "pair": pairs})
    assert made.status_code == 302
    sheets = db.session.scalars(select(ReviewAssignment)).all()
    assert len(sheets) == 4
    for sheet in sheets:
        assert sheet.expert.org_id != sheet.application.org_id  # never the own unit
    loads = sorted(sum(s.expert_id == e for s in sheets) for e in {s.expert_id for s in sheets})
    assert loads[-1] - loads[0] <= 1


def test_a_stale_preview_is_refused_whole_and_previewed_again(client, world, entry):
    from sqlalchemy import func, select

    from app.models import Application, ReviewAssignment, User
    from tests.conftest import csrf_from, login

    login(client, "city")
    url = f"/admin/calls/{world['call'].id}/auto-assign"
    text = client.get(f"{url}?per_entry=2&match_tags=off").get_data(as_text=True)
    pairs = re.findall(r'name="pair" value="([0-9]+:[0-9]+)"', text)
    entry_id, expert_id = map(int, pairs[0].split(":"))
    assign_expert(db.session.get(Application, entry_id), db.session.get(User, expert_id),
                  world["users"]["city"])  # someone assigns one of the pairs meanwhile
    db.session.commit()

    answer = client.post(url, data={"per_entry": "2", "match_tags": "off",
                                    "csrf_token": csrf_from(text), "pair": pairs})

    page = answer.get_data(as_text=True)
    assert answer.status_code == 200 and "预览之后情况已有变化" in page
    assert db.session.scalar(select(func.count()).select_from(ReviewAssignment)) == 1
    assert "将为 1 份待评审申报新增 1 项分配" in page  # the new preview


def test_automatic_assignment_over_the_api(client, world, entry):
    from sqlalchemy import func, select

    from app.models import ReviewAssignment
    from app.services.accounts import issue_token

    token = issue_token(world["users"]["city"])
    db.session.commit()
    url = f"/api/v1/calls/{world['call'].id}/auto-assign"
    headers = {"Authorization": f"Bearer {token}"}
    plan = client.post(url, json={"per_entry": 2}, headers=headers).get_json()
    assert plan["dry_run"] is True and len(plan["assignments"]) == 2
    assert db.session.scalar(select(func.count()).select_from(ReviewAssignment)) == 0
    made = client.post(url, json={"per_entry": 2, "dry_run": False}, headers=headers).get_json()
    assert made["assignments"] == plan["assignments"]
    assert db.session.scalar(select(func.count()).select_from(ReviewAssignment)) == 2
    again = client.post(url, json={"per_entry": 2}, headers=headers).get_json()
    assert again["assignments"] == [] and again["loads"] == {"expert1": 1, "expert2": 1}
    bad = client.post(url, json={"per_entry": 0}, headers=headers)
    assert bad.status_code == 422 and bad.get_json()["error"] == "validation_failed"


def test_a_withdrawn_sheet_cannot_be_declared_on(world, entry):
    """The city withdrew the sheet before the expert answered: the record stays "withdrawn"."""
    users = world["users"]
    sheet = assign_expert(entry, users["expert1"], users["city"])
    withdraw_assignment(sheet, users["city"], "专家长期未响应")
    db.session.commit()
    for conflict, reason in ((True, "本人曾指导该团队"), (False, "")):
        with pytest.raises(Conflict) as refused:
            declare_conflict(sheet, users["expert1"], conflict=conflict, reason=reason)
        assert refused.value.message == "这项评审任务已被市级管理员撤回"
    db.session.rollback()
    assert (sheet.status, sheet.conflict_checked_at, sheet.conflict_reason) == \
        ("withdrawn", None, "")
