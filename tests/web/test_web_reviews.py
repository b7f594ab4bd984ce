"""The expert's score sheet: drafts, errors beside criteria, submission, locking."""

from __future__ import annotations

from decimal import Decimal

from sqlalchemy import select

from app.extensions import db
from app.models import ReviewAssignment
from app.services.reviews import reopen_sheet
from tests.web.conftest import reload

FULL = {"criterion_organisation": "18", "criterion_resources": "12",
        "criterion_activities": "30", "criterion_impact": "25", "comment": "扎实"}


def _sheet(make_application, advance, experts=("expert1",)):
    """An entry in city review with unsubmitted sheets; return expert1's sheet."""
    advance(make_application("wj1"), "city_review", experts=experts, submit_sheets=False)
    return db.session.scalar(select(ReviewAssignment).order_by(ReviewAssignment.id))


def test_draft_errors_beside_criteria_then_submit(make_application, advance, browser):
    sheet = _sheet(make_application, advance)
    expert = browser("expert1")
    page = expert.get(f"/reviews/{sheet.id}")
    bad = expert.submit(page, page.form(), {**FULL, "criterion_organisation": "25"},
                        button=("action", "save"))
    assert bad.status == 422
    assert bad.field_error("criterion_organisation") == "应在 0 到 20 之间"
    assert bad.input_value("criterion_organisation") == "25"
    assert reload(ReviewAssignment, sheet.id).status == "assigned"
    draft = expert.submit(page, page.form(), {"criterion_organisation": "17.5"},
                          button=("action", "save"))
    assert draft.status == 302
    stored = reload(ReviewAssignment, sheet.id)
    assert stored.status == "draft" and stored.scores == {"organisation": "17.5"}
    page = expert.get(f"/reviews/{sheet.id}")
    assert page.input_value("criterion_organisation") == "17.5"
    incomplete = expert.submit(page, page.form(), button=("action", "submit"))
    assert incomplete.status == 422
    assert incomplete.field_error("criterion_impact") == "提交前请为此项打分"
    done = expert.submit(page, page.form(), FULL, button=("action", "submit"))
    assert done.status == 302
    assert reload(ReviewAssignment, sheet.id).total == Decimal("85")


def test_submitted_sheet_cannot_be_changed(make_application, advance, browser):
    sheet = _sheet(make_application, advance)
    expert = browser("expert1")
    page = expert.get(f"/reviews/{sheet.id}")
    assert expert.submit(page, page.form(), FULL, button=("action", "submit")).status == 302
    shown = expert.get(f"/reviews/{sheet.id}")
    assert 'name="criterion_organisation"' not in shown.text  # read-only now
    again = expert.submit(page, page.form(), {**FULL, "criterion_organisation": "5"},
                          button=("action", "submit"))
    assert again.status == 409 and "评分已提交，不能再修改" in again.text
    stored = reload(ReviewAssignment, sheet.id)
    assert stored.scores["organisation"] == "18" and stored.total == Decimal("85")


def test_queue_shows_progress_and_next_goes_to_the_open_one(make_application, advance,
                                                             browser):
    advance(make_application("wj1", "一队"), "city_review", experts=("expert1",),
            submit_sheets=False)
    advance(make_application("wj2", "二队"), "city_review", rank=2, experts=("expert1",),
            submit_sheets=False)
    first, second = db.session.scalars(select(ReviewAssignment).order_by(ReviewAssignment.id))
    expert = browser("expert1")
    page = expert.get(f"/reviews/{first.id}")
    expert.submit(page, page.form(), FULL, button=("action", "submit"))
    queue = expert.get("/reviews/")
    assert "1/2" in queue.text
    assert f"/reviews/{second.id}" in expert.get(f"/reviews/{first.id}").text


def test_sheet_shows_bands_and_records_a_checked_veto(make_application, advance, browser):
    sheet = _sheet(make_application, advance)
    expert = browser("expert1")
    page = expert.get(f"/reviews/{sheet.id}")
    assert "优 18–20" in page.text and "良 14–17.5" in page.text
    assert "低于 21 分时，请在评语中说明理由" in page.text
    assert "申报材料弄虚作假" in page.text
    done = expert.submit(page, page.form(), {**FULL, "vetoes": "falsified"},
                         button=("action", "submit"))
    assert done.status == 302
    assert reload(ReviewAssignment, sheet.id).vetoes == ["falsified"]
    assert "已勾选的否决项：申报材料弄虚作假" in expert.get(f"/reviews/{sheet.id}").text


def test_autosave_keeps_a_draft_without_a_page_load_and_reports_errors(make_application, advance,
                                                                      browser):
    sheet = _sheet(make_application, advance)
    expert = browser("expert1")
    page = expert.get(f"/reviews/{sheet.id}")
    assert "data-autosave" in page.text and "草稿会自动保存" in page.text
    data = {name: value for name, value in page.form().fields}
    data.update({"criterion_organisation": "16", "action": "save"})
    saved = expert.client.post(f"/reviews/{sheet.id}", data=data, headers={"X-Autosave": "1"})
    assert saved.status_code == 200 and saved.get_json()["saved"] is True
    assert reload(ReviewAssignment, sheet.id).scores == {"organisation": "16"}
    data["criterion_organisation"] = "99"
    bad = expert.client.post(f"/reviews/{sheet.id}", data=data, headers={"X-Autosave": "1"})
    assert bad.status_code == 422
    assert bad.get_json()["details"] == {"organisation": "应在 0 到 20 之间"}
    assert reload(ReviewAssignment, sheet.id).scores == {"organisation": "16"}  # nothing lost


def test_submit_and_next_opens_the_next_open_sheet(make_application, advance, browser):
    advance(make_application("wj1"), "city_review", experts=("expert1",), submit_sheets=False)
    advance(make_application("wj2", name="第二队"), "city_review", experts=("expert1",),
            submit_sheets=False)
    first, second = db.session.scalars(select(ReviewAssignment).order_by(ReviewAssignment.id))
    expert = browser("expert1")
    page = expert.get(f"/reviews/{first.id}")
    assert "提交并评下一个" in page.text
    done = expert.submit(page, page.form(), FULL, button=("action", "submit_next"))
    assert done.status == 302 and done.response.headers["Location"].endswith(
        f"/reviews/{second.id}")
    assert reload(ReviewAssignment, first.id).status == "submitted"


def test_pdf_materials_open_in_the_browser_beside_the_sheet(make_application, advance, browser):
    sheet = _sheet(make_application, advance)
    expert = browser("expert1")
    page = expert.get(f"/reviews/{sheet.id}")
    attachment = sheet.application.attachments[0]
    link = f"/applications/{sheet.application_id}/attachments/{attachment.id}?view=1"
    assert link in page.text and "在线查看" in page.text
    shown = expert.get(link).response
    assert shown.mimetype == "application/pdf"
    assert shown.headers["Content-Disposition"].startswith("inline")
    saved = expert.get(link.split("?")[0]).response
    assert saved.headers["Content-Disposition"].startswith("attachment")


def test_the_city_withdraws_a_slow_experts_sheet_and_assigns_another(make_application, advance,
                                                                    browser):
    sheet = _sheet(make_application, advance)
    city = browser("city")
    page = city.get(f"/applications/{sheet.application_id}")
    done = city.submit(page, page.form(f"/reviews/{sheet.id}/withdraw"), {"reason": "专家出差"})
    assert done.status == 302
    page = city.get(f"/applications/{sheet.application_id}")
    assert "已撤回" in page.text and "专家出差" in page.text
    assert reload(ReviewAssignment, sheet.id).status == "withdrawn"
    assert browser("expert1").get(f"/applications/{sheet.application_id}").status == 403


def test_a_returned_sheet_tells_the_expert_why(make_application, advance, browser, world):
    advance(make_application("wj1"), "city_review", experts=("expert1",))
    sheet = db.session.scalar(select(ReviewAssignment))
    reopen_sheet(sheet, world["users"]["city"], "“学习活动”一项请按评分标准复核")
    db.session.commit()

    page = browser("expert1").get(f"/reviews/{sheet.id}")

    assert "市级管理员于" in page.text and "“学习活动”一项请按评分标准复核" in page.text
