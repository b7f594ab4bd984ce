"""A submitted score sheet goes back to its expert only through the city, and nothing is lost."""

from __future__ import annotations

import pytest

from app.engine.errors import Conflict, Forbidden, ValidationFailed
from app.engine.runtime import fire
from app.extensions import db
from app.services.reviews import assign_expert, reopen_sheet, save_review
from app.services.rounds import entry_scores
from tests.conftest import confirmed, login

FIRST = {"organisation": 18, "resources": 12, "activities": 30, "impact": 25}
SECOND = {"organisation": 16, "resources": 12, "activities": 28, "impact": 24}


@pytest.fixture
def sheet(world, make_application):
    users = world["users"]
    entry = make_application("wj1")
    fire(entry, "submit", users["wj1"])
    fire(entry, "recommend", users["wj_admin"], data={"rank": 1, "opinion": "推荐"})
    sheet = confirmed(assign_expert(entry, users["expert1"], users["city"]))
    save_review(sheet, users["expert1"], FIRST, "初评", submit=True)
    db.session.commit()
    return sheet


def test_reopened_sheet_keeps_the_first_submission_and_takes_a_new_one(world, sheet):
    users = world["users"]
    with pytest.raises(Forbidden):
        reopen_sheet(sheet, users["expert1"], "想改")
    with pytest.raises(ValidationFailed):
        reopen_sheet(sheet, users["city"], "  ")
    revision = reopen_sheet(sheet, users["city"], "组织管理一项打分依据不足，请复核")
    db.session.commit()
    assert sheet.status == "draft" and not sheet.locked
    assert entry_scores(sheet.application).final is None  # no submitted sheet for now
    assert revision.total == 85 and revision.scores["organisation"] == "18"
    with pytest.raises(Conflict, match="尚未提交"):  # a draft has nothing to return
        reopen_sheet(sheet, users["city"], "再退一次")
    save_review(sheet, users["expert1"], SECOND, "复核后调整", submit=True)
    db.session.commit()
    assert entry_scores(sheet.application).final == 80
    assert [r.reason for r in sheet.revisions] == ["组织管理一项打分依据不足，请复核"]


def test_a_draft_or_a_sheet_out_of_review_is_not_reopened(world, sheet):
    users = world["users"]
    fire(sheet.application, "publish_notice", users["city"])
    with pytest.raises(Conflict, match="不在此评审阶段"):
        reopen_sheet(sheet, users["city"], "复核")


def test_the_city_returns_a_sheet_from_the_entry_page(client, world, sheet):
    from tests.conftest import csrf_from

    login(client, "city")
    page = client.get(f"/applications/{sheet.application_id}").get_data(as_text=True)
    assert "将此评分退回专家" in page
    client.post(f"/admin/reviews/{sheet.id}/reopen",
                data={"reason": "请复核", "csrf_token": csrf_from(page)})
    db.session.expire_all()
    assert sheet.status == "draft"
    page = client.get(f"/applications/{sheet.application_id}").get_data(as_text=True)
    assert "请复核" in page and "85" in page


def test_the_api_returns_a_sheet_and_shows_the_earlier_submission(client, world, sheet):
    from app.services.accounts import issue_token

    city, expert = issue_token(world["users"]["city"]), issue_token(world["users"]["expert1"])
    db.session.commit()
    url = f"/api/v1/reviews/{sheet.id}/reopen"
    refused = client.post(url, json={"reason": "复核"},
                          headers={"Authorization": f"Bearer {expert}"})
    assert refused.status_code == 403
    answer = client.post(url, json={"reason": "复核"}, headers={"Authorization": f"Bearer {city}"})
    body = answer.get_json()
    assert answer.status_code == 200 and body["status"] == "draft"
    assert body["revisions"][0]["total"] == 85 and body["revisions"][0]["reason"] == "复核"


def test_review_progress_counts_every_sheet_by_stage(client, world, sheet):
    users = world["users"]
    assign_expert(sheet.application, users["expert2"], users["city"])  # not yet confirmed
    db.session.commit()
    login(client, "city")
    page = client.get(f"/admin/calls/{world['call'].id}/review-progress")
    text = page.get_data(as_text=True)
    assert page.status_code == 200
    assert "专家一" in text and "专家二" in text
    assert "1 / 2" in text  # the entry: one of two active sheets submitted
