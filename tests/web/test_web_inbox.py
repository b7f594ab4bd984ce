"""The inbox, the bell, e-mail preferences, and the city's template and outbox pages."""

from __future__ import annotations

import re
from typing import Any

from sqlalchemy import select

from app.engine.runtime import fire
from app.extensions import db
from app.models import Notification, NotificationTemplate, OutboxMessage, User
from tests.web.conftest import reload


def bell(html: str) -> str | None:
    """The unread count shown beside the inbox link in the top bar (None: no number)."""
    match = re.search(r'class="bell">[^<]*(?:<span class="badge"[^>]*>(\d+)</span>)?', html)
    assert match, "no inbox link in the top bar"
    return match.group(1)


def submitted(make_application: Any, users: dict[str, User], *names: str) -> None:
    """wj1 submits one entry per name (each makes a message for wj1 and for wj_admin)."""
    for name in names:
        fire(make_application("wj1", name=name), "submit", users["wj1"])
    db.session.commit()


def test_the_bell_counts_unread_messages_and_the_inbox_shows_them_first(world, make_application,
                                                                        browser):
    users = world["users"]
    submitted(make_application, users, "甲队", "乙队", "丙队")
    district = browser("wj_admin")
    home = district.get("/district/")
    assert bell(home.text) == "3"
    assert bell(browser("tn_admin").get("/district/").text) is None  # another district: nothing

    page = district.get("/inbox/")
    assert page.text.index("申报已提交：丙队") < page.text.index("申报已提交：甲队")  # newest first
    first = db.session.scalars(select(Notification).where(
        Notification.user_id == users["wj_admin"].id).order_by(Notification.id)).first()
    done = district.submit(page, page.form(f"/inbox/{first.id}/read"))
    assert done.status == 302
    page = district.get("/inbox/")
    assert bell(page.text) == "2"
    assert page.text.index("申报已提交：乙队") < page.text.index("申报已提交：甲队")  # unread first
    assert reload(Notification, first.id).read_at is not None


def test_opening_a_message_marks_it_read_and_goes_to_its_page(world, make_application, browser):
    users = world["users"]
    submitted(make_application, users, "甲队")
    note = db.session.scalar(select(Notification).where(
        Notification.user_id == users["wj_admin"].id))
    district = browser("wj_admin")
    page = district.get("/inbox/")
    opened = district.submit(page, page.form(f"/inbox/{note.id}/read"), {"open": "1"})
    assert opened.response.headers["Location"] == note.link
    assert district.get(note.link).status == 200  # the district may open the entry
    assert reload(Notification, note.id).read_at is not None


def test_mark_all_read_and_nobody_reads_another_users_messages(world, make_application,
                                                               browser):
    users = world["users"]
    submitted(make_application, users, "甲队", "乙队")
    applicant = browser("wj1")
    page = applicant.get("/inbox/")
    done = applicant.submit(page, page.form("/inbox/read-all"))
    assert done.status == 302
    assert bell(applicant.get("/inbox/").text) is None
    theirs = db.session.scalar(select(Notification).where(
        Notification.user_id == users["wj_admin"].id))
    refused = applicant.post(f"/inbox/{theirs.id}/read", {}, applicant.get("/inbox/"))
    assert refused.status == 403
    assert reload(Notification, theirs.id).read_at is None
    assert bell(browser("wj_admin").get("/inbox/").text) == "2"


def test_the_inbox_pages_twenty_at_a_time(world, browser):
    users = world["users"]
    for n in range(23):
        db.session.add(Notification(user=users["wj1"], event="state_changed",
                                    subject=f"消息{n:02d}", body="正文", link=""))
    db.session.commit()
    applicant = browser("wj1")
    first = applicant.get("/inbox/").text
    assert "消息22" in first and "消息02" not in first and "第 1 / 2 页" in first
    assert "消息02" in applicant.get("/inbox/?page=2").text


def test_users_choose_their_address_and_which_events_come_by_email(world, make_application,
                                                                   browser):
    users = world["users"]
    district = browser("wj_admin")
    page = district.get("/inbox/settings")
    assert "申报已提交" in page.text and "评审任务分配" not in page.text  # their events only
    bad = district.submit(page, page.form(), {"email": "not an address"})
    assert bad.status == 422 and "电子邮箱格式不正确" in bad.text
    saved = district.submit(page, page.form(), {"email": "li@wj.gov.cn",
                                                "events": ["returned", "stage_due"]})
    assert saved.status == 302
    admin = reload(User, users["wj_admin"].id)
    assert admin.email == "li@wj.gov.cn"
    assert "submitted" in admin.email_opt_out and "returned" not in admin.email_opt_out
    page = district.get("/inbox/settings")
    assert page.form().values("events") == ["returned", "stage_due"]
    submitted(make_application, users, "甲队")
    assert db.session.scalars(select(OutboxMessage)).all() == []  # submitted: not by e-mail
    assert bell(district.get("/inbox/").text) == "1"  # still in the inbox


def test_the_city_previews_saves_and_resets_a_template(world, make_application, browser):
    users = world["users"]
    city = browser("city")
    listing = city.get("/admin/notification-templates")
    assert "退回修改" in listing.text and "证书颁发" in listing.text
    page = city.get("/admin/notification-templates/returned")
    assert "{comment}" in page.text  # the placeholders are listed
    wrong = city.submit(page, page.form(), {"body": "请修改{titel}"}, ("action", "preview"))
    assert wrong.status == 422
    assert "不认识的占位符 {titel}" in wrong.field_error("body")
    assert db.session.scalar(select(NotificationTemplate)) is None
    shown = city.submit(page, page.form(), {"subject": "请修改：{title}",
                                            "body": "{name}：“{title}”需要修改，意见：{comment}"},
                        ("action", "preview"))
    assert shown.status == 200
    assert "张老师：“湖塘太极拳队”需要修改，意见：请补充团队章程" in shown.text
    assert db.session.scalar(select(NotificationTemplate)) is None  # a preview saves nothing
    saved = city.submit(shown, shown.form("/admin/notification-templates/returned"),
                        button=("action", "save"))
    assert saved.status == 302
    entry = make_application("wj1", name="甲队")
    fire(entry, "submit", users["wj1"])
    fire(entry, "return_for_correction", users["wj_admin"], comment="补充照片")
    db.session.commit()
    assert "wj1：“甲队”需要修改，意见：补充照片" in browser("wj1").get("/inbox/").text
    page = city.get("/admin/notification-templates/returned")
    assert city.submit(page, page.form("/reset")).status == 302
    assert db.session.scalar(select(NotificationTemplate)) is None
    assert "申报被退回：{title}" in city.get("/admin/notification-templates/returned").text
    assert city.get("/admin/notification-templates/no_such_event").status == 404


def test_the_outbox_page_shows_attempts_and_errors_and_retries(app, world, make_application,
                                                               browser):
    users = world["users"]
    users["wj1"].email = "wj1@example.cn"
    db.session.commit()
    submitted(make_application, users, "甲队")
    city = browser("city")
    page = city.get("/admin/outbox")
    assert "wj1@example.cn" in page.text and "申报已提交：甲队" in page.text
    assert "MAIL_SERVER" in page.text  # no server configured: the messages wait here
    message = db.session.scalar(select(OutboxMessage))
    message.status, message.attempts, message.last_error = "failed", 5, "SMTPDataError: 554"
    db.session.commit()
    failed = city.get("/admin/outbox?status=failed")
    assert "SMTPDataError: 554" in failed.text and "申报已提交：甲队" in failed.text
    assert "申报已提交：甲队" not in city.get("/admin/outbox?status=sent").text
    retried = city.submit(failed, failed.form(f"/admin/outbox/{message.id}/retry"))
    assert retried.status == 302
    assert reload(OutboxMessage, message.id).status == "pending"
    assert browser("wj_admin").get("/admin/outbox").status == 403
