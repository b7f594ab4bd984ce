"""Messages written to people when they are not there — inbox, e-mail, reminders, a password
reset — come in each reader's own language (users.locale), not the language of whoever caused
them; the language switch and the settings page set it."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

from flask import Flask, has_request_context
from sqlalchemy import select

from app.engine.runtime import fire
from app.extensions import db
from app.i18n import english, localised, writing_to, zh
from app.models import Notification, OutboxMessage, User
from app.services.password_reset import request_reset
from app.services.reminders import run_reminders
from app.services.reviews import assign_expert
from app.services.rounds import set_deadline
from tests.web.browser import Browser

DEADLINE = datetime(2026, 7, 10, 9, 0, tzinfo=UTC)  # 17:00 in Beijing
DAY = timedelta(days=1)


def reading(locale: str, *users: User) -> None:
    """Give users a language and an address each (username@example.cn); commit."""
    for user in users:
        user.locale, user.email = locale, f"{user.username}@example.cn"
    db.session.commit()


def inbox(user: User, event: str) -> list[Notification]:
    """A user's messages of one event, oldest first, as stored."""
    db.session.expire_all()
    return list(db.session.scalars(select(Notification).filter_by(user_id=user.id, event=event)
                                   .order_by(Notification.id)))


def mails(user: User, event: str) -> list[OutboxMessage]:
    """The e-mails of one event queued for a user, oldest first."""
    db.session.expire_all()
    return list(db.session.scalars(select(OutboxMessage).filter_by(user_id=user.id, event=event)
                                   .order_by(OutboxMessage.id)))


def test_writing_to_a_user_follows_their_language_outside_a_request(app: Flask, world):
    users = world["users"]
    reading("en", users["wj1"])
    assert not has_request_context()  # as in the worker and the tick
    state = {"label": "区级初审", "label_en": "District check"}
    with writing_to(users["wj1"]):
        assert english() and zh("未设定") == "not set" and localised(state) == "District check"
    with writing_to(users["wj_admin"]):
        assert not english() and zh("未设定") == "未设定" and localised(state) == "区级初审"
    assert zh("未设定") == "未设定"  # back to Chinese afterwards


def test_writing_to_a_user_overrides_the_language_of_the_request(app: Flask, world):
    users = world["users"]
    with app.test_request_context("/?lang=en"):
        assert zh("未设定") == "not set"
        with writing_to(users["wj_admin"]):  # a Chinese reader
            assert zh("未设定") == "未设定"
        assert zh("未设定") == "not set"


def test_an_english_applicant_reads_the_submission_and_return_in_english_the_district_in_chinese(
        world, make_application):
    users = world["users"]
    reading("en", users["wj1"])
    reading("zh_CN", users["wj_admin"])
    entry = make_application("wj1", name="湖塘太极拳队")
    fire(entry, "submit", users["wj1"])
    db.session.commit()

    (receipt,) = inbox(users["wj1"], "submitted")
    assert receipt.subject == "Application submitted: 湖塘太极拳队"
    assert receipt.body.startswith("Dear wj1,")
    assert "(Submit)" in receipt.body and "It is now: District check." in receipt.body
    assert f"Details: http://pingshen.test/applications/{entry.id}" in receipt.body
    (mail,) = mails(users["wj1"], "submitted")
    assert (mail.subject, mail.body) == (receipt.subject, receipt.body)

    (told,) = inbox(users["wj_admin"], "submitted")
    assert told.subject == "申报已提交：湖塘太极拳队"
    assert "（提交申报）" in told.body and "当前状态：区级初审" in told.body
    assert "District" not in told.body
    (mail,) = mails(users["wj_admin"], "submitted")
    assert mail.subject == "申报已提交：湖塘太极拳队" and mail.body == told.body

    fire(entry, "return_for_correction", users["wj_admin"], comment="请补充活动照片")
    db.session.commit()
    (returned,) = inbox(users["wj1"], "returned")
    assert returned.subject == "Application returned: 湖塘太极拳队"
    assert "(Return for correction)" in returned.body
    assert "It is now: Returned for correction." in returned.body
    assert "Reason: 请补充活动照片" in returned.body  # what people write stays as written
    assert mails(users["wj1"], "returned")[0].body == returned.body


def test_the_citys_wording_is_chinese_and_english_readers_keep_the_shipped_english(
        world, make_application):
    from app.services.message_templates import save_wording

    users = world["users"]
    reading("en", users["wj1"])
    save_wording("submitted", "已收到：{title}", "{name}：已收到“{title}”。", users["city"])
    fire(make_application("wj1", name="甲队"), "submit", users["wj1"])
    db.session.commit()
    assert inbox(users["wj1"], "submitted")[0].subject == "Application submitted: 甲队"
    assert inbox(users["wj_admin"], "submitted")[0].subject == "已收到：甲队"


def test_the_reminder_tick_writes_to_each_reader_in_their_language(world, make_application):
    users = world["users"]
    reading("en", users["expert1"], users["city"])
    entry = make_application("wj1", name="甲队")
    fire(entry, "submit", users["wj1"])
    fire(entry, "recommend", users["wj_admin"], data={"rank": 1, "opinion": "推荐"})
    set_deadline(world["call"], "city_review", DEADLINE, users["city"])
    assign_expert(entry, users["expert1"], users["city"])
    assign_expert(entry, users["expert2"], users["city"])
    db.session.commit()
    (assigned,) = inbox(users["expert1"], "assigned")
    assert "1 review(s) in \"City review\"" in assigned.body
    assert "due by 10 July 2026 17:00" in assigned.body

    assert [r.kind for r in run_reminders(DEADLINE - 3 * DAY)] == ["review_due"] * 2
    (english_due,) = inbox(users["expert1"], "review_due")
    assert english_due.subject == f"Reviews due soon: {world['call'].title} (City review)"
    assert "1 score sheet(s)" in english_due.body and "10 July 2026 17:00" in english_due.body
    (chinese_due,) = inbox(users["expert2"], "review_due")
    assert chinese_due.subject == f"评审即将截止：{world['call'].title}（市级评审）"
    assert "2026-07-10 17:00" in chinese_due.body

    run_reminders(DEADLINE + 2 * DAY)
    (escalation,) = inbox(users["city"], "review_escalation")
    assert escalation.subject.startswith("Reviews not completed:")
    assert "专家一 (expert1): 1 sheet(s)" in escalation.body
    assert "专家二 (expert2): 1 sheet(s)" in escalation.body


def test_the_password_reset_email_follows_the_accounts_language(app: Flask, world):
    users = world["users"]
    reading("en", users["wj1"])
    reading("zh_CN", users["wj2"])
    anonymous = Browser(app)  # asked from a Chinese page
    page = anonymous.get("/password/forgot")
    anonymous.submit(page, page.form(), {"identifier": "wj1"})
    (mail,) = mails(users["wj1"], "password_reset")
    assert mail.subject == "Pingshen: reset your password"
    assert "Pingshen account wj1" in mail.body and "within 1 hour(s)" in mail.body
    assert re.search(r"http://pingshen\.test/password/reset/\S+", mail.body)

    with app.test_request_context("/?lang=en"):  # asked from an English page
        assert request_reset("wj2")
    db.session.commit()
    (mail,) = mails(users["wj2"], "password_reset")
    assert mail.subject == "评审系统：重置密码" and "账号 wj2 的密码" in mail.body


def test_the_language_switch_and_the_settings_page_store_the_users_language(app: Flask, world):
    users = world["users"]
    browser = Browser(app, "wj1")
    home = browser.get("/my/")
    switched = browser.submit(home, home.form("/language/en"))
    assert switched.status == 302
    db.session.expire_all()
    assert db.session.get_one(User, users["wj1"].id).locale == "en"

    page = browser.get("/inbox/settings")
    assert "Language of my messages" in page.text
    assert page.form().value("locale") == "en"
    saved = browser.submit(page, page.form(), {"locale": "zh_CN"})
    assert saved.status == 302
    db.session.expire_all()
    assert db.session.get_one(User, users["wj1"].id).locale == "zh_CN"
    refused = browser.submit(page, page.form(), {"locale": "fr"})
    assert refused.status == 422 and "No such language: fr" in refused.text

    anonymous = Browser(app)
    anonymous.submit(anonymous.get("/login"), anonymous.get("/login").form("/language/en"))
    db.session.expire_all()
    assert all(user.locale == "zh_CN" for user in db.session.scalars(select(User))
               if user.username != "wj1")
