"""Reminders with a fake clock: each is sent once, at its time, to whoever must act; escalation
follows the set delay; nothing for sheets already submitted or entries that moved on."""

from __future__ import annotations

import io
import threading
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner
from flask import Flask
from sqlalchemy import func, select

from app.engine.loader import load_catalogue
from app.engine.runtime import fire
from app.extensions import db
from app.models import Application, Notification, ReminderLog, User
from app.models.base import utcnow
from app.services.applications import create_application
from app.services.attachments import store_attachment
from app.services.calls import open_call
from app.services.demo import SAMPLE_PDF, team_data
from app.services.objections import submit_objection
from app.services.programmes import CATALOGUE
from app.services.reminders import run_reminders
from app.services.reviews import assign_expert, save_review
from app.services.rounds import set_deadline
from app.services.timers import deadline_of, run_timers
from tests.conftest import TEAM_SCORES, confirmed

DEADLINE = datetime(2026, 7, 10, 9, 0, tzinfo=UTC)  # 17:00 in Beijing
DAY = timedelta(days=1)


def messages(user: User, kind: str | None = None) -> list[Notification]:
    """A user's messages (of one kind), oldest first, as stored."""
    db.session.expire_all()
    query = select(Notification).where(Notification.user_id == user.id)
    if kind:
        query = query.where(Notification.event == kind)
    return list(db.session.scalars(query.order_by(Notification.id)))


def sent(now: datetime) -> list[tuple[str, int]]:
    """Run the reminders at ``now``; what went out, as (kind, offset in days)."""
    return [(r.kind, r.offset_days) for r in run_reminders(now)]


@pytest.fixture
def in_review(world: dict[str, Any], make_application: Any) -> dict[str, Any]:
    """Two entries in city review: expert1 has both sheets open, expert2 submitted one; the
    round is due at DEADLINE."""
    users = world["users"]
    entries = [make_application("wj1", name="甲队"), make_application("tn1", name="乙队")]
    for entry, admin in zip(entries, ("wj_admin", "tn_admin"), strict=True):
        fire(entry, "submit", entry.applicant)
        fire(entry, "recommend", users[admin], data={"rank": 1, "opinion": "推荐"})
        assign_expert(entry, users["expert1"], users["city"])
    save_review(confirmed(assign_expert(entries[0], users["expert2"], users["city"])),
                users["expert2"], TEAM_SCORES, "", submit=True)
    set_deadline(world["call"], "city_review", DEADLINE, users["city"])
    db.session.commit()
    return {"entries": entries}


def test_experts_are_reminded_before_and_after_and_the_city_after_the_delay(world, in_review):
    users = world["users"]
    assert sent(DEADLINE - 3 * DAY - timedelta(minutes=1)) == []  # not before the offset
    assert sent(DEADLINE - 3 * DAY) == [("review_due", -3)]
    assert sent(DEADLINE - 3 * DAY + timedelta(minutes=1)) == []  # never twice
    assert sent(DEADLINE - 2 * DAY) == []
    assert sent(DEADLINE - DAY + timedelta(hours=1)) == [("review_due", -1)]
    assert sent(DEADLINE - timedelta(minutes=1)) == []
    assert sent(DEADLINE) == [("review_overdue", 0)]
    assert sent(DEADLINE + DAY) == []
    assert sent(DEADLINE + 2 * DAY) == [("review_escalation", 2)]
    assert sent(DEADLINE + 30 * DAY) == []

    due, overdue = messages(users["expert1"], "review_due"), messages(users["expert1"],
                                                                      "review_overdue")
    assert len(due) == 2 and len(overdue) == 1
    assert "还有 2 份评分未提交" in due[0].body and "2026-07-10 17:00" in due[0].body
    assert "甲队" not in due[0].body + overdue[0].body  # reviews may be blind: no entries named
    assert messages(users["expert2"], "review_due") == []  # submitted: nothing to remind
    (escalation,) = messages(users["city"], "review_escalation")
    assert "专家一（expert1）：2 份" in escalation.body
    assert f"/admin/calls/{world['call'].id}/rounds/city_review" in escalation.link
    for other in ("wj1", "tn1", "wj_admin", "tn_admin", "expert2"):
        assert messages(users[other], "review_escalation") == [], other


def test_a_deadline_set_late_gets_only_the_nearest_reminder(world, in_review):
    assert sent(DEADLINE - timedelta(hours=12)) == [("review_due", -1)]
    assert sent(DEADLINE - timedelta(hours=11)) == []  # the 3-day one is never sent after it


def test_submitted_sheets_and_entries_that_moved_on_get_no_reminder(world, in_review):
    users = world["users"]
    first, second = in_review["entries"]
    save_review(confirmed(sheet_of(first, users["expert1"])), users["expert1"], TEAM_SCORES, "",
                submit=True)
    db.session.commit()
    assert sent(DEADLINE - 3 * DAY) == [("review_due", -3)]
    assert "还有 1 份评分未提交" in messages(users["expert1"], "review_due")[0].body
    fire(second, "city_return", users["city"], comment="请补充材料")  # it leaves the round
    db.session.commit()
    assert sent(DEADLINE + 3 * DAY) == []  # nothing open in the round: no overdue, no escalation


def sheet_of(entry: Application, expert: User) -> Any:
    """The expert's sheet of an entry."""
    from app.models import ReviewAssignment

    return db.session.scalar(select(ReviewAssignment).filter_by(application_id=entry.id,
                                                                  expert_id=expert.id))


def test_a_moved_deadline_gets_reminders_of_its_own(world, in_review):
    assert sent(DEADLINE - DAY) == [("review_due", -1)]
    later = DEADLINE + 7 * DAY
    set_deadline(world["call"], "city_review", later, world["users"]["city"])
    db.session.commit()
    assert sent(DEADLINE + timedelta(hours=1)) == []  # the old deadline no longer counts
    assert sent(later - 3 * DAY) == [("review_due", -3)]
    assert db.session.scalar(select(func.count()).select_from(ReminderLog)) == 2


def test_two_ticks_at_the_same_moment_send_each_reminder_once(app: Flask, world, in_review):
    errors: list[BaseException] = []

    def tick() -> None:
        with app.app_context():
            try:
                run_reminders(DEADLINE - 3 * DAY)
            except BaseException as exc:  # pragma: no cover - reported below
                errors.append(exc)
            finally:
                db.session.remove()

    threads = [threading.Thread(target=tick) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    assert errors == []
    assert len(messages(world["users"]["expert1"], "review_due")) == 1


# --- stage deadlines ----------------------------------------------------------------------------

REMINDER_DEMO = """\
key: reminder_demo
title: 提醒测试项目
version: 1
code: TXCS
form: excellent_team_application
states:
  - {name: draft, label: 草稿, editable: true}
  - name: district_review
    label: 区级审核
    deadline: {days: 5, fire: forward}
  - name: returned
    label: 退回补正
    editable: true
    deadline: {days: 5, fire: lapse}
  - {name: city_review, label: 市级审核}
  - {name: done, label: 已完成, final: true, outcome: passed}
  - {name: lapsed, label: 逾期未补正, final: true, outcome: closed}
transitions:
  - {trigger: submit, label: 提交, source: draft, dest: district_review, roles: [applicant],
     guards: [form_complete]}
  - {trigger: send_back, label: 退回补正, source: district_review, dest: returned,
     roles: [district_admin]}
  - {trigger: forward, label: 报送市级, source: district_review, dest: city_review,
     roles: [district_admin]}
  - {trigger: resubmit, label: 补正后提交, source: returned, dest: district_review,
     roles: [applicant]}
  - trigger: lapse
    label: 逾期关闭
    source: returned
    dest: lapsed
    roles: [city_admin]
    guards: [{has_attachment: {field: charter, min: 2}}]   # refused: the system cannot close it
  - {trigger: finish, label: 完成, source: city_review, dest: done, roles: [city_admin]}
"""


@pytest.fixture
def demo_call(app: Flask, world: dict[str, Any], tmp_path: Path) -> Any:
    """A call of a small programme whose district check and correction have deadlines."""
    folder = tmp_path / "workflows"
    folder.mkdir()
    (folder / "reminder_demo.yaml").write_text(REMINDER_DEMO, encoding="utf-8")
    app.extensions[CATALOGUE].update(load_catalogue(folder, app.config["FORMS_DIR"]))
    call = open_call("reminder_demo", "2026年提醒测试批次", 2026, utcnow() - DAY,
                     utcnow() + 30 * DAY, {}, world["users"]["city"])
    db.session.commit()
    return call


def submitted_entry(call: Any, user: User) -> Application:
    """A complete entry of the demo call, submitted to the district."""
    entry = create_application(call, user, team_data("甲队", "某中心", "张三"))
    store_attachment(entry, "charter", "章程.pdf", io.BytesIO(SAMPLE_PDF), user)
    fire(entry, "submit", user)
    db.session.commit()
    return entry


def test_the_applicant_is_reminded_and_the_district_told_when_a_correction_is_overdue(
        world, demo_call):
    users = world["users"]
    entry = submitted_entry(demo_call, users["wj1"])
    fire(entry, "send_back", users["wj_admin"], comment="请补正")
    db.session.commit()
    due, _trigger = deadline_of(entry)
    assert sent(due - 3 * DAY - timedelta(seconds=1)) == []
    assert sent(due - 3 * DAY) == [("stage_due", -3)]
    assert sent(due - 3 * DAY) == []
    assert sent(due - DAY) == [("stage_due", -1)]
    assert [o.moved for o in run_timers(due)] == [False]  # the system's step is refused
    assert sent(due) == [("stage_overdue", 0)]
    assert sent(due + DAY) == []
    assert sent(due + 2 * DAY) == [("stage_escalation", 2)]
    assert sent(due + 9 * DAY) == []

    reminders = messages(users["wj1"], "stage_due")
    assert len(reminders) == 2 and "退回补正" in reminders[0].body
    assert "逾期关闭" in reminders[0].body  # what the system will do at the deadline
    assert len(messages(users["wj1"], "stage_overdue")) == 1
    (escalation,) = messages(users["wj_admin"], "stage_escalation")
    assert "甲队" in escalation.body and "武进区单位1" in escalation.subject
    for other in ("tn_admin", "city", "wj2"):
        assert messages(users[other], "stage_escalation") == [], other
    assert messages(users["wj_admin"], "stage_due") == []  # the applicant must act, not them


def test_the_district_is_reminded_of_its_own_step_and_nothing_follows_once_it_moved(
        world, demo_call):
    users = world["users"]
    entry = submitted_entry(demo_call, users["tn1"])
    due, _trigger = deadline_of(entry)
    assert sent(due - DAY) == [("stage_due", -1)]
    assert [n.event for n in messages(users["tn_admin"])] == ["submitted", "stage_due"]
    assert messages(users["wj_admin"]) == [] and messages(users["tn1"], "stage_due") == []
    fire(entry, "forward", users["tn_admin"])
    db.session.commit()
    assert sent(due + 5 * DAY) == []  # moved on: no overdue, no escalation


def test_a_public_notice_is_not_reminded_but_one_held_by_an_objection_is(world, in_notice):
    users = world["users"]
    due, _trigger = deadline_of(in_notice)
    assert sent(due - DAY) == []  # a notice ends by itself
    submit_objection(in_notice, "王某", "13900000000", "该团队成立时间不足一年，材料不实。",
                     None, "198.51.100.7")
    db.session.commit()
    assert [o.moved for o in run_timers(due + timedelta(minutes=1))] == [False]
    assert sent(due + timedelta(minutes=1)) == [("stage_overdue", 0)]
    assert sent(due + 2 * DAY) == [("stage_escalation", 2)]
    assert [n.event for n in messages(users["city"])] == ["stage_overdue", "stage_escalation"]
    assert messages(users["wj1"], "stage_overdue") == []


def test_the_tick_command_sends_the_reminders_due(app, world, in_review):
    runner = CliRunner()
    result = runner.invoke(app.cli, ["workflows", "tick", "--now", "2026-07-09T18:00+08:00"])
    assert result.exit_code == 0, result.output
    assert "reminder review_due (-1 days)" in result.output
    assert "1 reminder(s) sent" in result.output
    assert "MAIL_SERVER is not set" in result.output
