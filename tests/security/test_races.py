"""Concurrency with real threads: one winner per race, one entry per idempotency key, quotas hold.

Each contender is a thread with its own application context (so its own database session and
connection) or its own test client; a barrier releases them together once each has loaded what
it needs. SQLite serialises writers, so there these tests check the engine's optimistic checks
and the order of its locks; PostgreSQL (CI's second pass, TEST_DATABASE_URL) runs them with
truly concurrent transactions, and the row-lock tests run there only.
"""

from __future__ import annotations

import io
import os
import threading
from collections import Counter
from collections.abc import Callable
from datetime import timedelta
from typing import Any

import pytest
from flask import Flask
from sqlalchemy import func, select

from app.engine.errors import Conflict, GuardsFailed
from app.engine.runtime import fire
from app.extensions import db
from app.models import Application, AuditEntry, Call, User
from app.models.base import utcnow
from app.services.accounts import add_user, issue_token
from app.services.applications import create_application
from app.services.attachments import store_attachment
from app.services.calls import open_call
from app.services.demo import SAMPLE_PDF, contest_data, team_data
from tests.api.conftest import Api
from tests.conftest import PASSWORD

POSTGRES = os.environ.get("TEST_DATABASE_URL", "").startswith("postgresql")
postgres_only = pytest.mark.skipif(
    not POSTGRES, reason="row locks need PostgreSQL (set TEST_DATABASE_URL, as CI's second pass "
                         "does); SQLite lets one writer in at a time")
# Races of one transition, each on a fresh entry. SQLite lets one writer in at a time, so there
# every race runs the same way and ten show what fifty would.
RACES = 50 if POSTGRES else 10
THREADS = 10  # contenders per race (the connection pool holds 15 at once)
RECOMMEND = {"rank": 1, "opinion": "推荐"}


def race(contenders: int, contender: Callable[[int, threading.Barrier], Any]) -> list[Any]:
    """Run ``contender(i, barrier)`` in threads that wait at the barrier once they have loaded
    what they need; their results in order. Any unexpected exception fails the test."""
    barrier = threading.Barrier(contenders, timeout=60)
    results: list[Any] = [None] * contenders
    failures: list[BaseException] = []

    def run(i: int) -> None:
        try:
            results[i] = contender(i, barrier)
        except BaseException as exc:  # noqa: BLE001 - reported below, with its type
            barrier.abort()
            failures.append(exc)

    threads = [threading.Thread(target=run, args=(i,)) for i in range(contenders)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(120)
    assert not any(thread.is_alive() for thread in threads), "a contender hangs"
    assert not failures, repr(failures)
    return results


def fire_together(app: Flask, entry_ids: list[int], trigger: str, actor_id: int,
                  data: dict[str, Any] | None = None) -> list[str]:
    """Fire ``trigger`` on each of ``entry_ids`` (repeat an id to fire on it several times),
    each in its own thread and session, all at once; "moved", "conflict" or "refused" each."""

    def contender(i: int, barrier: threading.Barrier) -> str:
        with app.app_context():
            entry = db.session.get(Application, entry_ids[i])
            actor = db.session.get(User, actor_id)
            assert entry is not None and actor is not None
            _ = entry.state, entry.version, entry.call, actor.org  # loaded before the start
            barrier.wait()
            try:
                fire(entry, trigger, actor, data=data)
                db.session.commit()
                return "moved"
            except Conflict:
                db.session.rollback()
                return "conflict"
            except GuardsFailed:
                db.session.rollback()
                return "refused"

    return race(len(entry_ids), contender)


def submitted_entry(call: Call, applicant: User, name: str) -> Application:
    """An excellent-team entry with its charter, submitted to the district."""
    entry = create_application(call, applicant, team_data(name, "某中心", "张三"))
    store_attachment(entry, "charter", "章程.pdf", io.BytesIO(SAMPLE_PDF), applicant)
    fire(entry, "submit", applicant)
    return entry


def moves(entry_id: int, trigger: str) -> int:
    """How many audit rows record ``trigger`` on the entry (read afresh)."""
    db.session.expire_all()
    return db.session.scalar(select(func.count()).select_from(AuditEntry).where(
        AuditEntry.application_id == entry_id, AuditEntry.trigger == trigger)) or 0


# 1. Races of one transition.

def test_edits_racing_a_submission_get_a_conflict_never_a_server_error(app, world,
                                                                        make_application):
    """Five edits and five submissions of one draft at once, ten times: at most one submission
    moves it (none when an edit saved first: they all loaded the older version); each edit is
    saved or refused (409, or 403 once it is no longer a draft), and what is stored is what a
    successful edit sent."""
    entry_ids = [make_application("wj1", name=f"编辑队{n}").id for n in range(10)]
    token = issue_token(world["users"]["wj1"])
    db.session.commit()
    callers = [Api(app).caller(token) for _ in range(THREADS)]
    statuses: Counter[tuple[str, int]] = Counter()
    for entry_id in entry_ids:
        path = f"/api/v1/applications/{entry_id}"

        def contender(i: int, barrier: threading.Barrier, path: str = path) -> tuple[str, int]:
            barrier.wait()
            if i % 2:
                response = callers[i].post(f"{path}/transitions", json={"trigger": "submit"})
                return "submit", response.status_code
            response = callers[i].patch(path, json={"data": {"leader": f"负责人{i}"}})
            return f"负责人{i}", response.status_code

        answers = race(THREADS, contender)
        statuses.update((what if what == "submit" else "edit", status)
                        for what, status in answers)
        submitted = [status for what, status in answers if what == "submit"]
        assert set(submitted) <= {200, 409} and submitted.count(200) <= 1, answers
        assert {status for what, status in answers if what != "submit"} <= {200, 403, 409}
        saved = {what for what, status in answers if what != "submit" and status == 200}
        db.session.expire_all()
        stored = db.session.get(Application, entry_id)
        assert stored.state == ("district_review" if 200 in submitted else "draft")
        assert moves(entry_id, "submit") == submitted.count(200)
        assert stored.data["leader"] in (saved or {"张三"})
    assert statuses[("submit", 200)] >= 1 and statuses[("edit", 409)] >= 1, statuses




def test_one_entry_per_person_holds_when_two_tabs_submit_at_once(app, world):
    """The teacher contest takes one entry per person (guard one_entry_per): a teacher with
    several drafts who submits them all at once gets exactly one in."""
    users, rounds, drafts = world["users"], 10, 5
    call = open_call("teacher_contest", "一人一项测试", 2026, utcnow() - timedelta(days=1),
                     utcnow() + timedelta(days=30), {"WJ": 99}, users["city"])
    for n in range(rounds):
        teacher = add_user(f"tab{n}", "applicant", "WJ-U1", PASSWORD)
        entry_ids = []
        for k in range(drafts):
            entry = create_application(call, teacher, contest_data(
                f"教师{n}", teacher.org.name, f"课程{k}"))
            store_attachment(entry, "lesson_plan", "教案.pdf", io.BytesIO(SAMPLE_PDF), teacher)
            entry_ids.append(entry.id)
        db.session.commit()
        outcomes = fire_together(app, entry_ids, "submit", teacher.id)
        assert Counter(outcomes) == {"moved": 1, "refused": drafts - 1}, outcomes
