"""State deadlines fire by themselves: the excellent-team notice ends after 5 working days and
the team is named by the system, audited without an actor; nothing moves before the deadline,
and a refused move stays to be tried again."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from click.testing import CliRunner
from sqlalchemy import func, select

from app.engine.calendar import LOCAL
from app.engine.runtime import fire
from app.extensions import db
from app.models import AuditEntry, Certificate
from app.services.timers import SYSTEM_COMMENT, deadline_of, run_timers


def test_the_notice_ends_by_itself_after_five_working_days(world, in_notice):
    entry = in_notice
    due, trigger = deadline_of(entry)
    assert (due, trigger) == (datetime(2026, 6, 9, tzinfo=LOCAL), "name_team")

    assert run_timers(due - timedelta(seconds=1)) == []  # not yet
    db.session.refresh(entry)
    assert entry.state == "notice"

    outcomes = run_timers(due + timedelta(minutes=1))
    assert [(o.application_id, o.trigger, o.moved) for o in outcomes] == [
        (entry.id, "name_team", True)]
    db.session.refresh(entry)
    assert entry.state == "named"
    move = db.session.scalars(select(AuditEntry).order_by(AuditEntry.id.desc())).first()
    assert (move.actor_id, move.trigger, move.comment) == (None, "name_team", SYSTEM_COMMENT)
    assert db.session.scalar(select(Certificate)).holder == "湖塘太极拳队"  # its action ran
    assert run_timers(due + timedelta(days=1)) == []  # final now: nothing more to do


def test_a_manual_move_before_the_deadline_leaves_nothing_for_the_tick(world, in_notice):
    entry = in_notice
    fire(entry, "objection_upheld", world["users"]["city"], comment="异议成立：材料不实")
    db.session.commit()
    assert deadline_of(entry) is None
    assert run_timers(datetime(2026, 7, 1, tzinfo=UTC)) == []


def test_a_tick_that_finds_the_entry_moved_by_another_tick_passes_over_it(
        app, world, in_notice, monkeypatch):
    """Every worker runs the tick, on every machine: one moves the entry, and another that
    chose it before that commit finds it moved. No refusal is reported, one audit row."""
    from app.services import timers

    due, _ = deadline_of(in_notice)
    chosen = timers.entries_in_states_with("deadline")  # the second tick's choice, made first
    with app.app_context():  # the first tick, in a session of its own
        assert [o.moved for o in run_timers(due + timedelta(minutes=1))] == [True]
    monkeypatch.setattr(timers, "entries_in_states_with", lambda feature: chosen)
    assert run_timers(due + timedelta(minutes=1)) == []
    assert db.session.scalar(select(func.count()).select_from(AuditEntry).where(
        AuditEntry.trigger == "name_team")) == 1


def test_the_tick_command_reports_what_it_moved(app, world, in_notice):
    entry = in_notice
    runner = CliRunner()
    early = runner.invoke(app.cli, ["workflows", "tick", "--now", "2026-06-08T23:59+08:00"])
    assert early.exit_code == 0 and "0 moved, 0 refused" in early.output
    result = runner.invoke(app.cli, ["workflows", "tick", "--now", "2026-06-09T00:01+08:00"])
    assert result.exit_code == 0, result.output
    assert f"entry {entry.id} 湖塘太极拳队: name_team" in result.output
    assert "1 moved, 0 refused" in result.output
    bad = runner.invoke(app.cli, ["workflows", "tick", "--now", "2026-06-09T00:01"])
    assert bad.exit_code == 1 and "time zone" in bad.output


def test_the_entry_page_says_when_the_stage_ends(in_notice, client):
    from tests.conftest import login

    entry = in_notice
    login(client, "city")
    page = client.get(f"/applications/{entry.id}").get_data(as_text=True)
    assert "本阶段截止" in page and "2026-06-09 00:00" in page
    assert "届时系统将自动执行：公示无异议，命名" in page
