"""The whole programme in the browser: application to verified certificate."""

from __future__ import annotations

from sqlalchemy import select

from app.extensions import db
from app.models import Application, AuditEntry, Certificate, ReviewAssignment
from app.services.demo import SAMPLE_PDF
from tests.web.conftest import reload

TEAM = {
    "team_name": "湖塘太极拳队", "centre": "湖塘镇社区教育中心", "founded_on": "2020-05-01",
    "member_count": "16", "field": "体育与健康养生", "weekly_hours": "4.5", "leader": "张建国",
    "phone": "13912345678", "email": "taiji@example.cn", "members-0-name": "张建国",
    "members-0-gender": "男", "members-0-age": "61", "members-0-duty": "队长",
    "members-1-name": "王芳", "members-1-gender": "女", "activities": ["集中学习", "志愿服务"],
    "introduction": "每周三次集中练习。", "achievements": "带动 200 名居民参与。", "honest": "y",
}


def test_application_to_verified_certificate(world, browser):
    app_id = _apply_and_submit(world, browser("wj1"))
    _recommend(browser("wj_admin"), app_id)
    city = browser("city")
    _assign_and_score(world, browser, city, app_id)
    for trigger in ("publish_notice", "name_team"):
        detail = city.get(f"/applications/{app_id}")
        assert city.submit(detail, detail.form(f"/transitions/{trigger}")).status == 302
    assert reload(Application, app_id).state == "named"
    _download_and_verify(browser, app_id)
    triggers = list(db.session.scalars(select(AuditEntry.trigger).where(
        AuditEntry.application_id == app_id).order_by(AuditEntry.id)))
    assert triggers == ["create", "submit", "recommend", "publish_notice", "name_team"]


def _apply_and_submit(world, applicant) -> int:
    """Start an application from the home page, fill the whole form, upload, submit."""
    home = applicant.get("/my/")
    assert world["call"].title in home.text
    started = applicant.submit(home, home.form("/apply"))
    assert started.status == 302 and "/edit" in started.response.location
    edit = applicant.get(started.response.location)
    done = applicant.submit(edit, edit.form(), TEAM, button=("action", "submit"),
                            files={"charter": [(SAMPLE_PDF, "团队章程.pdf")]})
    assert done.status == 302, done.text
    app_id = int(edit.url.split("/")[-2])
    entry = reload(Application, app_id)
    assert entry.state == "district_review"
    assert entry.data["members"] == [
        {"name": "张建国", "gender": "男", "age": 61, "duty": "队长"},
        {"name": "王芳", "gender": "女", "age": None, "duty": None}]
    assert entry.data["weekly_hours"] == 4.5
    assert entry.data["activities"] == ["集中学习", "志愿服务"]
    return app_id


def _recommend(district, app_id: int) -> None:
    """The district recommends the entry with a rank and an opinion."""
    detail = district.get(f"/applications/{app_id}")
    assert "推荐至市级" in detail.text and "团队章程.pdf" in detail.text
    page = district.get(f"/applications/{app_id}/transitions/recommend")
    moved = district.submit(page, page.form(), {"rank": "1", "opinion": "活动扎实，推荐。"})
    assert moved.status == 302
    assert reload(Application, app_id).state == "city_review"
    assert "活动扎实，推荐。" in district.get(f"/applications/{app_id}").text


def _assign_and_score(world, browser, city, app_id: int) -> None:
    """The city assigns two experts; each scores on their sheet and submits."""
    detail = city.get(f"/applications/{app_id}")
    for expert in ("expert1", "expert2"):
        city.submit(detail, detail.form("/assign"), {"expert": str(world["users"][expert].id)})
        detail = city.get(f"/applications/{app_id}")
    assert "专家一" in detail.text and "专家二" in detail.text
    for expert in ("expert1", "expert2"):
        reviewer = browser(expert)
        assert "0/1" in reviewer.get("/reviews/").text
        sheet_id = db.session.scalar(select(ReviewAssignment.id).where(
            ReviewAssignment.expert_id == world["users"][expert].id))
        question = reviewer.get(f"/reviews/{sheet_id}")
        assert "利益冲突" in question.text and "团队章程.pdf" not in question.text
        opened = reviewer.submit(question, question.form("/conflict"), {"answer": "none"})
        assert opened.status == 302
        sheet = reviewer.get(f"/reviews/{sheet_id}")
        assert "湖塘太极拳队" in sheet.text and "团队章程.pdf" in sheet.text
        scores = {"criterion_organisation": "18", "criterion_resources": "12.5",
                  "criterion_activities": "30", "criterion_impact": "25", "comment": "很好"}
        saved = reviewer.submit(sheet, sheet.form(), scores, button=("action", "submit"))
        assert saved.status == 302
        assert reload(ReviewAssignment, sheet_id).locked


def _download_and_verify(browser, app_id: int) -> None:
    """The applicant downloads the certificate; the public verify page shows its facts."""
    applicant = browser("wj1")
    mine = applicant.get(f"/applications/{app_id}")
    certificate = db.session.scalar(select(Certificate))
    pdf_url = f"/applications/{app_id}/certificates/{certificate.id}.pdf"
    assert pdf_url in mine.text and f"/verify/{certificate.code}" in mine.text
    assert "专家一" not in mine.text  # applicants see nothing of the reviews
    pdf = applicant.get(pdf_url)
    assert pdf.response.mimetype == "application/pdf"
    assert pdf.response.get_data().startswith(b"%PDF")
    verify = browser(None).get(f"/verify/{certificate.code}")
    assert "湖塘太极拳队" in verify.text and certificate.serial in verify.text


def test_ranking_lists_scored_entries(world, make_application, advance, browser):
    first = advance(make_application("wj1", "甲队"), "city_review", experts=("expert1",))
    page = browser("city").get(f"/admin/calls/{world['call'].id}/ranking")
    assert page.status == 200
    assert "甲队" in page.text and "85.00" in page.text
    assert f"/applications/{first.id}" in page.text
