"""Notifications: the right people hear of each event, in the wording the city chose, and their
e-mail goes through the outbox — written with the change, sent after it, at most once.

E-mail is sent to a real SMTP server running in the test process (aiosmtpd) and read back as a
mail client would read it.
"""

from __future__ import annotations

import asyncio
import email
import json
import os
import signal
import socket
import subprocess
import sys
import threading
from collections.abc import Iterator
from datetime import timedelta
from email.message import EmailMessage
from email.policy import default as default_policy
from pathlib import Path
from typing import Any

import pytest
from aiosmtpd.controller import Controller
from flask import Flask
from sqlalchemy import func, select

from app.engine.errors import Forbidden, ValidationFailed
from app.engine.runtime import fire
from app.extensions import db
from app.models import Notification, OutboxMessage, User
from app.models.base import utcnow
from app.services.mail import INTERRUPTED, claim, retry_now, send_due, send_mail_to, sweep
from app.services.message_templates import check_defaults, reset_wording, save_wording
from app.services.reviews import assign_expert, save_review
from tests.conftest import TEAM_SCORES, confirmed
from tests.security.stored import committed

ROOT = Path(__file__).resolve().parents[2]


class Mailbox:
    """An SMTP server's handler: keeps what it accepts; refuses as told."""

    def __init__(self) -> None:
        self.messages: list[EmailMessage] = []
        self.envelopes: list[Any] = []
        self.refuse_rcpt = ""  # an SMTP reply to RCPT TO, e.g. "451 4.3.0 try later"

    async def handle_RCPT(self, server: Any, session: Any, envelope: Any, address: str,
                          options: Any) -> str:
        if self.refuse_rcpt:
            return self.refuse_rcpt
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        self.envelopes.append(envelope)
        self.messages.append(email.message_from_bytes(envelope.content, policy=default_policy))
        return "250 Message accepted"


def free_port() -> int:
    """A TCP port nobody listens on right now."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@pytest.fixture
def smtp(app: Flask) -> Iterator[Mailbox]:
    """A real SMTP server on loopback, and the app configured to send through it."""
    mailbox = Mailbox()
    port = free_port()
    controller = Controller(mailbox, hostname="127.0.0.1", port=port)
    controller.start()
    app.config.update(MAIL_SERVER="127.0.0.1", MAIL_PORT=port,
                      MAIL_FROM="评审系统 <pingshen@x.gov.cn>")
    try:
        yield mailbox
    finally:
        controller.stop()


def with_email(*users: User) -> None:
    """Give users an address each (username@example.cn) and commit."""
    for user in users:
        user.email = f"{user.username}@example.cn"
    db.session.commit()


def inbox(user: User) -> list[Notification]:
    """The user's messages as stored, oldest first."""
    db.session.expire_all()
    return list(db.session.scalars(select(Notification).where(Notification.user_id == user.id)
                                   .order_by(Notification.id)))


def outbox() -> list[OutboxMessage]:
    """Every outbox row as stored, oldest first."""
    db.session.expire_all()
    return list(db.session.scalars(select(OutboxMessage).order_by(OutboxMessage.id)))


def events(user: User) -> list[str]:
    """The events of a user's messages, oldest first."""
    return [n.event for n in inbox(user)]


# --- who hears of what ------------------------------------------------------------------------

def test_a_submission_reaches_the_applicant_and_their_district_only(world, make_application):
    users = world["users"]
    entry = make_application("wj1", name="湖塘太极拳队")
    fire(entry, "submit", users["wj1"])
    db.session.commit()
    assert events(users["wj1"]) == ["submitted"]  # a receipt
    assert events(users["wj_admin"]) == ["submitted"]  # to recommend it
    for other in ("tn_admin", "city", "wj2", "expert1"):
        assert events(users[other]) == [], other
    note = inbox(users["wj_admin"])[0]
    assert note.subject == "申报已提交：湖塘太极拳队"
    assert "湖塘太极拳队" in note.body and world["call"].title in note.body
    assert "武进区单位1" in note.body  # {unit}
    assert f"http://pingshen.test/applications/{entry.id}" in note.body  # {link}, absolute
    assert note.link == f"/applications/{entry.id}" and note.application_id == entry.id


def test_a_return_tells_the_applicant_why_and_not_the_district_that_returned_it(
        world, make_application):
    users = world["users"]
    entry = make_application("wj1")
    fire(entry, "submit", users["wj1"])
    fire(entry, "return_for_correction", users["wj_admin"], comment="请补充活动照片")
    db.session.commit()
    returned = inbox(users["wj1"])[-1]
    assert returned.event == "returned"
    assert "请补充活动照片" in returned.body and "退回" in returned.subject
    assert events(users["wj_admin"]) == ["submitted"]  # not told of their own step
    fire(entry, "resubmit", users["wj1"])
    db.session.commit()
    assert events(users["wj_admin"]) == ["submitted", "submitted"]


def test_the_rest_of_the_life_of_an_entry(world, make_application):
    users = world["users"]
    entry = make_application("wj1", name="湖塘太极拳队")
    fire(entry, "submit", users["wj1"])
    fire(entry, "recommend", users["wj_admin"], data={"rank": 1, "opinion": "推荐"})
    sheet = confirmed(assign_expert(entry, users["expert1"], users["city"]))
    save_review(sheet, users["expert1"], TEAM_SCORES, "", submit=True)
    fire(entry, "publish_notice", users["city"])
    fire(entry, "name_team", users["city"])
    db.session.commit()
    assert events(users["wj1"]) == ["submitted", "recommended", "result_published",
                                    "result_published", "certificate_issued"]
    recommended = inbox(users["wj1"])[1]
    assert "武进区" in recommended.body  # {district}
    certificate = inbox(users["wj1"])[-1]
    assert "YXTD-2026-" in certificate.body and certificate.subject == "证书已颁发：湖塘太极拳队"
    assert events(users["expert1"]) == ["assigned"]
    assert events(users["expert2"]) == [] and events(users["tn_admin"]) == []
    assert events(users["city"]) == []  # the city took every step itself


def test_a_withdrawal_tells_the_district_only_if_it_saw_the_entry(world, make_application):
    users = world["users"]
    draft, submitted = make_application("wj1", name="草稿队"), make_application("wj1", name="甲队")
    fire(draft, "withdraw", users["wj1"])
    fire(submitted, "submit", users["wj1"])
    fire(submitted, "withdraw", users["wj1"])
    db.session.commit()
    assert [n.subject for n in inbox(users["wj_admin"])] == ["申报已提交：甲队", "申报已撤回：甲队"]
    assert events(users["wj1"]) == ["submitted"]


def test_assignments_of_one_transaction_make_one_message_that_names_no_entry(world, contest):
    users, judge = world["users"], contest["judges"][0]
    first, second = contest["enter"]("wj1", "太极入门"), contest["enter"]("wj2", "书法鉴赏")
    assign_expert(first, judge, users["city"])
    assign_expert(second, judge, users["city"])
    db.session.commit()
    (note,) = inbox(judge)
    assert note.event == "assigned" and "2 项评审任务" in note.body
    assert contest["call"].title in note.body and "“初赛网评”" in note.body
    for identity in ("wj1老师", "wj2老师", "太极入门", "书法鉴赏", "武进区"):
        assert identity not in note.subject + note.body  # the round is blind
    assert note.application_id is None and note.link == "/reviews/"
    assign_expert(first, contest["judges"][1], users["city"])
    db.session.commit()
    assert "1 项评审任务" in inbox(contest["judges"][1])[0].body
    assert len(inbox(judge)) == 1


# --- templates --------------------------------------------------------------------------------

def test_the_shipped_templates_are_complete_and_valid():
    assert check_defaults() == []


def test_the_citys_wording_is_used_and_reset_brings_back_the_shipped_one(world,
                                                                          make_application):
    users = world["users"]
    save_wording("returned", "请修改：{title}",
                 "{name}：{call}的“{title}”需要修改。\n意见：{comment}", users["city"])
    entry = make_application("wj1", name="甲队")
    fire(entry, "submit", users["wj1"])
    fire(entry, "return_for_correction", users["wj_admin"], comment="补充材料")
    db.session.commit()
    note = inbox(users["wj1"])[-1]
    assert note.subject == "请修改：甲队"
    assert note.body == f"wj1：{world['call'].title}的“甲队”需要修改。\n意见：补充材料"
    reset_wording("returned", users["city"])
    fire(entry, "resubmit", users["wj1"])
    fire(entry, "return_for_correction", users["wj_admin"], comment="再补充")
    db.session.commit()
    assert inbox(users["wj1"])[-1].subject == "申报被退回：甲队"


@pytest.mark.parametrize(("subject", "body", "message"), [
    ("申报：{titel}", "正文", "不认识的占位符 {titel}"),
    ("申报", "{name}，{title.__class__}", "花括号只能用于占位符"),
    ("申报 {title", "正文", "花括号只能用于占位符"),
    ("申报", "{serial}", "不认识的占位符 {serial}"),  # a placeholder of another event
    ("", "正文", "标题不能为空"),
    ("申报\n第二行", "正文", "标题只能有一行"),
])
def test_bad_wording_is_refused_with_a_clear_message(world, subject, body, message):
    with pytest.raises(ValidationFailed) as refused:
        save_wording("submitted", subject, body, world["users"]["city"])
    assert message in refused.value.message
    if "占位符" in message:
        assert "可用的占位符：{name}、{title}、{call}" in refused.value.message


def test_only_the_city_changes_the_wording(world):
    with pytest.raises(Forbidden):
        save_wording("submitted", "标题", "正文", world["users"]["wj_admin"])


# --- the outbox: with the change, or not at all ----------------------------------------------

def test_mail_is_written_with_the_change_and_vanishes_with_its_rollback(world, make_application):
    users = world["users"]
    with_email(users["wj1"], users["wj_admin"])
    entry = make_application("wj1")
    fire(entry, "submit", users["wj1"])
    assert {m.to_address for m in db.session.scalars(select(OutboxMessage))} == {
        "wj1@example.cn", "wj_admin@example.cn"}  # in the change's own transaction
    db.session.rollback()
    assert outbox() == [] and inbox(users["wj1"]) == []
    fire(entry, "submit", users["wj1"])
    db.session.commit()
    db.session.remove()  # read back as another request would
    rows = outbox()
    assert [(m.to_address, m.status, m.attempts) for m in rows] == [
        ("wj1@example.cn", "pending", 0), ("wj_admin@example.cn", "pending", 0)]
    assert all(m.notification_id is not None for m in rows)


def test_without_a_mail_server_messages_wait_in_the_outbox(world, make_application):
    users = world["users"]
    with_email(users["wj1"])
    entry = make_application("wj1")
    fire(entry, "submit", users["wj1"])
    db.session.commit()
    assert send_due(utcnow() + timedelta(hours=1))["sent"] == 0
    assert [m.status for m in outbox()] == ["pending"]


def test_preferences_and_missing_addresses_decide_who_gets_mail(world, make_application):
    users = world["users"]
    with_email(users["wj1"], users["wj_admin"])
    users["wj_admin"].email_opt_out = ["submitted"]
    users["tn1"].email = ""
    db.session.commit()
    first = make_application("wj1")
    fire(first, "submit", users["wj1"])
    fire(first, "return_for_correction", users["wj_admin"], comment="补充")
    second = make_application("tn1")
    fire(second, "submit", users["tn1"])
    db.session.commit()
    assert [(m.to_address, m.event) for m in outbox()] == [
        ("wj1@example.cn", "submitted"), ("wj1@example.cn", "returned")]
    assert events(users["wj_admin"]) == ["submitted"]  # the inbox receives everything
    assert events(users["tn1"]) == ["submitted"]


# --- sending ------------------------------------------------------------------------------------

def test_a_message_is_sent_after_the_commit_in_utf8(world, make_application, smtp):
    users = world["users"]
    with_email(users["wj1"])
    entry = make_application("wj1", name="湖塘太极拳队")
    fire(entry, "submit", users["wj1"])
    assert smtp.messages == []  # nothing leaves before the commit
    db.session.commit()
    (received,) = smtp.messages
    assert received["To"] == "wj1@example.cn"
    assert received["From"].addresses[0].addr_spec == "pingshen@x.gov.cn"
    assert str(received["Subject"]) == "申报已提交：湖塘太极拳队"
    assert received.get_content_charset() == "utf-8"
    body = received.get_content()
    assert "湖塘太极拳队" in body and world["call"].title in body
    assert f"http://pingshen.test/applications/{entry.id}" in body
    assert smtp.envelopes[0].rcpt_tos == ["wj1@example.cn"]
    (row,) = outbox()
    assert (row.status, row.attempts, row.last_error) == ("sent", 1, "")
    assert row.sent_at is not None


def test_a_message_whose_job_was_lost_is_sent_by_the_minute_sweep(app, world,
                                                                  make_application, smtp):
    users = world["users"]
    with_email(users["wj1"])
    server, app.config["MAIL_SERVER"] = app.config["MAIL_SERVER"], ""  # no job after commit
    fire(make_application("wj1"), "submit", users["wj1"])
    db.session.commit()
    assert smtp.messages == [] and [m.status for m in outbox()] == ["pending"]
    app.config["MAIL_SERVER"] = server
    sweep()  # what the worker runs every minute
    assert len(smtp.messages) == 1 and outbox()[0].status == "sent"


def test_a_sent_message_is_never_sent_again(world, make_application, smtp):
    users = world["users"]
    with_email(users["wj1"])
    fire(make_application("wj1"), "submit", users["wj1"])
    db.session.commit()
    (row,) = outbox()
    assert len(smtp.messages) == 1
    assert claim(utcnow() + timedelta(days=1), [row.id]) == []  # a second worker gets nothing
    assert send_due(utcnow() + timedelta(days=1))["sent"] == 0
    with pytest.raises(Exception, match="不会再次发送"):
        retry_now(outbox()[0], users["city"])
    assert len(smtp.messages) == 1


def test_two_workers_claiming_the_same_message_only_one_gets_it(world, make_application):
    users = world["users"]
    with_email(users["wj1"])
    fire(make_application("wj1"), "submit", users["wj1"])
    db.session.commit()
    (row,) = outbox()
    now = utcnow()
    assert claim(now, [row.id]) == [row.id]
    assert claim(now, [row.id]) == [] and claim(now) == []
    assert (outbox()[0].status, outbox()[0].attempts) == ("sending", 1)


def test_a_refusing_server_leaves_the_message_waiting_with_the_error(world, make_application,
                                                                     smtp):
    users = world["users"]
    with_email(users["wj1"])
    smtp.refuse_rcpt = "451 4.3.0 邮箱暂时不可用，请稍后再试"
    before = utcnow()
    fire(make_application("wj1"), "submit", users["wj1"])
    db.session.commit()
    (row,) = outbox()
    assert (row.status, row.attempts) == ("pending", 1)
    assert "451" in row.last_error
    assert before + timedelta(minutes=1) <= row.next_attempt_at <= utcnow() + timedelta(minutes=1)
    assert send_due()["sent"] == 0  # not due yet
    smtp.refuse_rcpt = ""
    assert send_due(row.next_attempt_at)["sent"] == 1
    assert (outbox()[0].status, outbox()[0].attempts, outbox()[0].last_error) == ("sent", 2, "")
    assert len(smtp.messages) == 1


def test_an_unreachable_server_is_retried_with_backoff_until_it_fails(app, world,
                                                                      make_application):
    users = world["users"]
    with_email(users["wj1"])
    app.config.update(MAIL_SERVER="127.0.0.1", MAIL_PORT=free_port(), MAIL_TIMEOUT=5)
    fire(make_application("wj1"), "submit", users["wj1"])
    db.session.commit()
    waits = []
    for _ in range(4):
        row = outbox()[0]
        assert row.status == "pending" and "ConnectionRefusedError" in row.last_error
        waits.append(row.next_attempt_at)
        send_due(row.next_attempt_at)
    gaps = [round((b - a).total_seconds() / 60) for a, b in zip(waits, waits[1:], strict=False)]
    assert gaps == [5, 30, 120]  # 1, 5, 30, 120 minutes after each failure
    row = outbox()[0]
    assert (row.status, row.attempts) == ("failed", 5)
    assert send_due(utcnow() + timedelta(days=1))["sent"] == 0  # failed stays failed
    retry_now(row, users["city"])  # until an administrator retries it
    db.session.commit()
    assert (outbox()[0].status, outbox()[0].attempts) == ("failed", 6)


def test_a_refused_address_fails_at_once(world, make_application, smtp):
    users = world["users"]
    with_email(users["wj1"])
    smtp.refuse_rcpt = "550 5.1.1 没有这个邮箱"
    fire(make_application("wj1"), "submit", users["wj1"])
    db.session.commit()
    assert (outbox()[0].status, outbox()[0].attempts) == ("failed", 1)
    smtp.refuse_rcpt = ""
    users["wj1"].email = "right@example.cn"
    retry_now(outbox()[0], users["city"])
    db.session.commit()
    assert outbox()[0].status == "sent" and len(smtp.messages) == 1


def test_a_send_interrupted_by_a_dead_worker_is_failed_not_resent(world, make_application,
                                                                  smtp):
    users = world["users"]
    with_email(users["wj1"])
    smtp_server = smtp
    fire(make_application("wj1"), "submit", users["wj1"])
    db.session.commit()
    assert len(smtp_server.messages) == 1
    row = outbox()[0]
    row.status, row.claimed_at = "sending", utcnow() - timedelta(minutes=11)  # as if it died
    db.session.commit()
    counts = send_due()
    assert counts["interrupted"] == 1 and counts["sent"] == 0
    assert (outbox()[0].status, outbox()[0].last_error) == ("failed", INTERRUPTED)
    assert len(smtp_server.messages) == 1


def test_other_features_queue_mail_through_the_same_outbox(world, smtp):
    users = world["users"]
    with_email(users["wj1"])
    send_mail_to(users["wj1"], "重设密码", "请打开链接重设密码：https://x/reset/abc")
    send_mail_to("someone@example.cn", "测试", "一封测试邮件")
    db.session.commit()
    assert sorted(m["To"] for m in smtp.messages) == ["someone@example.cn", "wj1@example.cn"]
    assert db.session.scalar(select(func.count()).select_from(Notification)) == 0
    with pytest.raises(ValidationFailed, match="没有电子邮箱"):
        send_mail_to(users["wj2"], "重设密码", "正文")


def test_a_server_that_cannot_be_reached_fails_the_whole_batch_at_once(app, world,
                                                                       make_application):
    users = world["users"]
    with_email(users["wj1"], users["wj_admin"])
    for name in ("甲队", "乙队"):
        fire(make_application("wj1", name=name), "submit", users["wj1"])
    db.session.commit()
    app.config.update(MAIL_SERVER="127.0.0.1", MAIL_PORT=free_port(), MAIL_TIMEOUT=5)
    counts = send_due()
    assert (counts["sent"], counts["retry"]) == (0, 4)
    assert {(m.status, m.attempts) for m in outbox()} == {("pending", 1)}
    assert all("ConnectionRefusedError" in m.last_error for m in outbox())


def test_workers_claiming_at_the_same_time_never_share_a_message(app, world):
    import threading

    for n in range(120):
        db.session.add(OutboxMessage(to_address=f"u{n}@example.cn", subject="通知", body="正文"))
    db.session.commit()
    now = utcnow() + timedelta(seconds=1)
    taken: list[list[int]] = []
    errors: list[BaseException] = []

    def worker() -> None:
        with app.app_context():
            try:
                for _ in range(5):
                    taken.append(claim(now))
            except BaseException as exc:  # pragma: no cover - reported below
                errors.append(exc)
            finally:
                db.session.remove()

    threads = [threading.Thread(target=worker) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    assert errors == []
    ids = [message_id for batch in taken for message_id in batch]
    assert len(ids) == len(set(ids)) == 120  # each claimed once, none left behind
    assert {(m.status, m.attempts) for m in outbox()} == {("sending", 1)}


# --- a sender killed for real ---------------------------------------------------------------

SUBMIT_AND_DIE = """
import json, os, signal, sys
from sqlalchemy import event
from sqlalchemy.orm import Session
from app import create_app
from app.engine.runtime import fire
from app.extensions import db
from app.models import Application

config, entry_id, die = json.loads(sys.argv[1]), int(sys.argv[2]), sys.argv[3]
app = create_app(config)
with app.app_context():
    if die == "after_commit":  # before anything else hears of the commit: the send job
        event.listen(Session, "after_commit",
                     lambda session: os.kill(os.getpid(), signal.SIGKILL), insert=True)
    entry = db.session.get(Application, entry_id)
    fire(entry, "submit", entry.applicant)
    db.session.commit()
"""


def submit_in_a_process(app: Flask, entry_id: int, die: str) -> subprocess.Popen[bytes]:
    """Submit the entry in a process of its own (sending mail as the app is configured),
    which kills itself with SIGKILL right after the commit when ``die`` says so."""
    keys = ("SQLALCHEMY_DATABASE_URI", "UPLOAD_FOLDER", "CERTIFICATE_FOLDER", "EXPORT_FOLDER",
            "IMPORT_FOLDER", "PUBLIC_BASE_URL", "SECRET_KEY", "MAIL_SERVER", "MAIL_PORT",
            "MAIL_FROM")
    config = {key: app.config[key] for key in keys}
    env = {**os.environ, "PINGSHEN_INSTANCE": str(Path(app.config["UPLOAD_FOLDER"]).parent),
           "JOB_QUEUE_URL": "immediate"}  # the send job runs in this process, after commit
    return subprocess.Popen([sys.executable, "-c", SUBMIT_AND_DIE, json.dumps(config),
                             str(entry_id), die], cwd=ROOT, env=env)


def fresh_outbox(app: Flask) -> list[tuple[str, int]]:
    """(status, attempts) of every outbox row, read through a connection of its own."""
    return [(status, attempts) for status, attempts in committed(
        app, "SELECT status, attempts FROM outbox ORDER BY id")]


def test_a_sender_killed_right_after_the_commit_loses_no_mail(app, world, make_application,
                                                              smtp):
    users = world["users"]
    with_email(users["wj1"])
    entry = make_application("wj1")
    process = submit_in_a_process(app, entry.id, "after_commit")
    assert process.wait(60) == -signal.SIGKILL
    assert committed(app, f"SELECT state FROM applications WHERE id = {entry.id}") == [
        ("district_review",)]  # the change is committed ...
    assert fresh_outbox(app) == [("pending", 0)] and smtp.messages == []  # ... its mail unsent
    sweep()  # the worker's minute sweep
    assert fresh_outbox(app) == [("sent", 1)] and len(smtp.messages) == 1
    sweep()
    send_due(utcnow() + timedelta(days=1))
    assert len(smtp.messages) == 1  # exactly once
    assert str(smtp.messages[0]["Subject"]) == "申报已提交：湖塘太极拳队"


class StallingMailbox(Mailbox):
    """A server that takes the message and never answers: the sender is killed meanwhile."""

    def __init__(self) -> None:
        super().__init__()
        self.receiving = threading.Event()

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        self.receiving.set()
        await asyncio.sleep(60)
        return "451 too late"


def test_a_sender_killed_in_the_middle_of_a_send_never_sends_twice(app, world,
                                                                   make_application):
    users = world["users"]
    with_email(users["wj1"])
    entry = make_application("wj1")
    stalling, port = StallingMailbox(), free_port()
    controller = Controller(stalling, hostname="127.0.0.1", port=port)
    controller.start()
    app.config.update(MAIL_SERVER="127.0.0.1", MAIL_PORT=port, MAIL_FROM="pingshen@x.gov.cn")
    try:
        process = submit_in_a_process(app, entry.id, "while_sending")
        assert stalling.receiving.wait(60)  # the message is on the wire
        process.send_signal(signal.SIGKILL)
        assert process.wait(60) == -signal.SIGKILL
    finally:
        controller.stop()
    assert fresh_outbox(app) == [("sending", 1)]  # nobody knows whether it went out
    counts = send_due(utcnow() + timedelta(minutes=11))  # MAIL_SENDING_TIMEOUT later
    assert (counts["interrupted"], counts["sent"]) == (1, 0)  # failed, never resent alone
    assert committed(app, "SELECT status, last_error FROM outbox") == [
        ("failed", INTERRUPTED)]
    assert send_due(utcnow() + timedelta(days=1))["sent"] == 0
