"""The applicant's form: drafts, invalid values, uploads, return and resubmission, withdrawal."""

from __future__ import annotations

from sqlalchemy import select

from app.extensions import db
from app.models import Application, Attachment, AuditEntry
from app.services.demo import SAMPLE_PDF
from tests.web.conftest import reload


def test_invalid_values_are_explained_and_nothing_typed_is_lost(make_application, browser):
    entry = make_application("wj1", member_count=12, phone="13912345678", leader="张三")
    user = browser("wj1")
    edit = user.get(f"/applications/{entry.id}/edit")
    assert edit.input_value("member_count") == "12"
    page = user.submit(edit, edit.form(), {"member_count": "3", "phone": "123",
                                           "leader": "李四", "weekly_hours": "abc"},
                       button=("action", "save"))
    assert page.status == 422
    assert page.field_error("member_count") == "不能小于 5"
    assert "电话号码格式不正确" in page.field_error("phone")
    assert page.field_error("weekly_hours") == "应为数字"
    assert page.input_value("member_count") == "3"  # what was typed is still there
    assert page.input_value("phone") == "123"
    assert page.input_value("leader") == "李四"
    stored = reload(Application, entry.id).data
    assert stored["member_count"] == 12 and stored["phone"] == "13912345678"
    assert stored["leader"] == "李四"  # the valid change was kept
    assert stored["weekly_hours"] == 6


def test_a_partial_draft_saves_and_submission_names_what_is_missing(world, browser):
    user = browser("wj2")
    home = user.get("/my/")
    edit = user.get(user.submit(home, home.form("/apply")).response.location)
    saved = user.submit(edit, edit.form(), {"team_name": "牛塘舞蹈队", "members-0-name": "刘一"},
                        button=("action", "save"))
    assert saved.status == 302
    entry = db.session.scalar(select(Application).where(
        Application.applicant_id == world["users"]["wj2"].id))
    assert entry.data == {"team_name": "牛塘舞蹈队", "honest": False,
                          "members": [{"name": "刘一", "gender": None, "age": None,
                                       "duty": None}]}
    edit = user.get(saved.response.location)
    refused = user.submit(edit, edit.form(), button=("action", "submit"))
    assert refused.status == 422
    assert "以下必填项尚未完成" in refused.text and "团队章程" in refused.text
    assert refused.field_error("centre") == "此项为必填项"
    assert reload(Application, entry.id).state == "draft"


def test_uploads_are_checked_listed_and_deleted(make_application, browser):
    entry = make_application("wj1")
    user = browser("wj1")
    edit = user.get(f"/applications/{entry.id}/edit")
    page = user.submit(edit, edit.form(), button=("action", "save"),
                       files={"photos": [(b"not an image", "a.jpg")],
                              "application_scan": [(SAMPLE_PDF, "扫描件.pdf")]})
    assert page.status == 422
    assert "a.jpg" in page.field_error("photos") and "不符" in page.field_error("photos")
    names = set(db.session.scalars(select(Attachment.original_name).where(
        Attachment.application_id == entry.id)))
    assert names == {"章程.pdf", "扫描件.pdf"}
    scan = db.session.scalar(select(Attachment).where(Attachment.original_name == "扫描件.pdf"))
    edit = user.get(f"/applications/{entry.id}/edit")
    deleted = user.submit(edit, edit.form(), {"leader": "王五"},
                          button=("delete_attachment", str(scan.id)))
    assert deleted.status == 302
    assert reload(Attachment, scan.id) is None
    assert reload(Application, entry.id).data["leader"] == "王五"


def test_returned_entry_shows_the_reason_and_can_be_resubmitted(make_application, advance,
                                                                 browser):
    entry = advance(make_application("wj1"), "district_review")
    district = browser("wj_admin")
    page = district.get(f"/applications/{entry.id}/transitions/return_for_correction")
    refused = district.submit(page, page.form(), {"comment": ""})
    assert refused.status == 422 and "此项为必填项" in refused.text
    returned = district.submit(page, page.form(), {"comment": "请补充近一年的活动照片。"})
    assert returned.status == 302
    assert reload(Application, entry.id).state == "returned"

    user = browser("wj1")
    assert "/edit" in user.get("/my/").text
    detail = user.get(f"/applications/{entry.id}")
    assert "请补充近一年的活动照片。" in detail.text and 'role="alert"' in detail.text
    edit = user.get(f"/applications/{entry.id}/edit")
    assert "请补充近一年的活动照片。" in edit.text
    done = user.submit(edit, edit.form(), {"weekly_hours": "8"}, button=("action", "submit"),
                       files={"photos": [(b"\xff\xd8\xff\xe0" + b"0" * 64, "活动.jpg")]})
    assert done.status == 302
    entry = reload(Application, entry.id)
    assert entry.state == "district_review" and entry.data["weekly_hours"] == 8
    last = db.session.scalar(select(AuditEntry).where(AuditEntry.application_id == entry.id)
                             .order_by(AuditEntry.id.desc()))
    assert last.trigger == "resubmit"


def test_withdrawal_asks_first_and_ends_editing(make_application, advance, browser):
    entry = advance(make_application("wj1"), "district_review")
    user = browser("wj1")
    detail = user.get(f"/applications/{entry.id}")
    form = detail.form("/transitions/withdraw")
    assert 'data-confirm="' in detail.text
    assert user.submit(detail, form).status == 302
    assert reload(Application, entry.id).state == "withdrawn"
    assert "已撤回" in user.get(f"/applications/{entry.id}").text
    assert user.get(f"/applications/{entry.id}/edit").status == 403
