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
from sqlalchemy import func, select, text
from sqlalchemy.exc import OperationalError

from app.engine.errors import Conflict, GuardsFailed
from app.engine.runtime import fire
from app.extensions import db
from app.jobs import queue
from app.models import Application, AuditEntry, Call, Job, User
from app.models.base import utcnow
from app.services.accounts import add_user, issue_token
from app.services.applications import create_application
from app.services.attachments import store_attachment
from app.services.calls import open_call
from app.services.certificate_jobs import resume_jobs
from app.services.demo import SAMPLE_PDF, contest_data, team_data
from tests.api.conftest import Api
from tests.conftest import PASSWORD, csrf_from, login

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


# 1. Fifty races of the same transition: exactly one winner each.

def test_fifty_races_of_submit_through_the_engine_have_one_winner_each(
        app, world, make_application):
    user = world["users"]["wj1"]
    entry_ids = [make_application("wj1", name=f"队{n}").id for n in range(RACES)]
    tally: Counter[str] = Counter()
    for entry_id in entry_ids:
        outcomes = fire_together(app, [entry_id] * THREADS, "submit", user.id)
        assert sorted(outcomes) == ["conflict"] * (THREADS - 1) + ["moved"], outcomes
        tally.update(outcomes)
    assert tally == {"moved": RACES, "conflict": RACES * (THREADS - 1)}
    for entry_id in entry_ids:
        assert moves(entry_id, "submit") == 1
        assert db.session.get(Application, entry_id).state == "district_review"


def test_fifty_races_of_recommend_over_http_have_one_winner_each(app, world):
    users, call = world["users"], world["call"]
    for quota in call.quotas:  # the quota is not what these races are about
        quota.quota = 1000
    entry_ids = [submitted_entry(call, users[f"wj{1 + n % 3}"], f"队{n}").id
                 for n in range(RACES)]
    token = issue_token(users["wj_admin"])
    db.session.commit()
    api = Api(app)
    callers = [api.caller(token) for _ in range(THREADS)]
    statuses: Counter[int] = Counter()
    for entry_id in entry_ids:
        path = f"/api/v1/applications/{entry_id}/transitions"

        def contender(i: int, barrier: threading.Barrier, path: str = path) -> int:
            barrier.wait()
            response = callers[i].post(path, json={"trigger": "recommend", "data": RECOMMEND})
            if response.status_code == 409:
                assert response.get_json()["error"] == "conflict"
            return response.status_code

        answers = race(THREADS, contender)
        assert sorted(answers) == [200] + [409] * (THREADS - 1), answers
        statuses.update(answers)
    assert statuses == {200: RACES, 409: RACES * (THREADS - 1)}
    for entry_id in entry_ids:
        assert moves(entry_id, "recommend") == 1
        assert db.session.get(Application, entry_id).state == "city_review"


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


# 2. Idempotent creation: ten identical submissions at once create one application.

def test_ten_identical_api_submissions_at_once_create_one_application(app, world):
    users, call = world["users"], world["call"]
    token = issue_token(users["wj1"])
    db.session.commit()
    api = Api(app)
    callers = [api.caller(token) for _ in range(THREADS)]
    body = {"call_id": call.id, "data": team_data("湖塘太极拳队", "某中心", "张三")}
    rounds = 10
    for n in range(rounds):
        key = f"6f1c2a9e-0000-4000-8000-{n:012d}"

        def contender(i: int, barrier: threading.Barrier, key: str = key) -> tuple[int, int]:
            barrier.wait()
            response = callers[i].post("/api/v1/applications", json=body,
                                       headers={"Idempotency-Key": key})
            return response.status_code, response.get_json()["id"]

        answers = race(THREADS, contender)
        assert {status for status, _ in answers} == {201}
        assert len({entry_id for _, entry_id in answers}) == 1, answers
        assert moves(answers[0][1], "create") == 1
    db.session.expire_all()
    assert db.session.scalar(select(func.count()).select_from(Application)) == rounds


def test_without_a_key_ten_submissions_at_once_create_ten(app, world):
    users, call = world["users"], world["call"]
    token = issue_token(users["wj1"])
    db.session.commit()
    callers = [Api(app).caller(token) for _ in range(THREADS)]
    body = {"call_id": call.id, "data": team_data("湖塘太极拳队", "某中心", "张三")}

    def contender(i: int, barrier: threading.Barrier) -> int:
        barrier.wait()
        return callers[i].post("/api/v1/applications", json=body).get_json()["id"]

    assert len(set(race(THREADS, contender))) == THREADS  # what the key prevents


def test_an_idempotency_key_is_the_applicants_own_and_for_one_call(app, world):
    users, call = world["users"], world["call"]
    later = open_call("excellent_team", "另一批次", 2026, utcnow() - timedelta(days=1),
                      utcnow() + timedelta(days=30), {"WJ": 2}, users["city"])
    db.session.commit()
    api = Api(app)
    wj1, wj2 = api.login("wj1"), api.login("wj2")
    key = {"Idempotency-Key": "same-key"}
    first = wj1.post("/api/v1/applications", json={"call_id": call.id}, headers=key)
    again = wj1.post("/api/v1/applications", json={"call_id": call.id}, headers=key)
    assert first.status_code == again.status_code == 201
    assert first.get_json()["id"] == again.get_json()["id"]
    theirs = wj2.post("/api/v1/applications", json={"call_id": call.id}, headers=key)
    assert theirs.status_code == 201 and theirs.get_json()["id"] != first.get_json()["id"]
    elsewhere = wj1.post("/api/v1/applications", json={"call_id": later.id}, headers=key)
    assert elsewhere.status_code == 422
    assert set(elsewhere.get_json()["details"]) == {"idempotency_key"}
    for bad in ("", "x" * 65, "空格 不行"):
        refused = wj1.post("/api/v1/applications", json={"call_id": call.id},
                           headers={"Idempotency-Key": bad})
        assert refused.status_code == 422, bad
        assert set(refused.get_json()["details"]) == {"Idempotency-Key"}
    db.session.expire_all()
    mine = db.session.scalars(select(Application).where(
        Application.applicant_id == users["wj1"].id)).all()
    assert [(a.call_id, a.idempotency_key) for a in mine] == [(call.id, "same-key")]


def test_a_double_click_on_apply_starts_one_draft(app, client, world):
    apply = f"/my/calls/{world['call'].id}/apply"
    login(client, "wj1")
    home = client.get("/my/").get_data(as_text=True)
    form = {"csrf_token": csrf_from(home), "start_key": _start_key(home)}
    cookie = client.get_cookie("session")
    assert cookie is not None
    clicks = []
    for _ in range(THREADS):
        twin = app.test_client()
        twin.set_cookie("session", cookie.value)
        clicks.append(twin)

    def contender(i: int, barrier: threading.Barrier) -> tuple[int, str]:
        barrier.wait()
        response = clicks[i].post(apply, data=form)
        return response.status_code, response.headers.get("Location", "")

    answers = race(THREADS, contender)
    assert {status for status, _ in answers} == {302}
    assert len({where for _, where in answers}) == 1, answers
    resent = client.post(apply, data=form)  # the form sent again later
    assert resent.headers["Location"] == answers[0][1]
    db.session.expire_all()
    drafts = db.session.scalars(select(Application)).all()
    assert len(drafts) == 1 and answers[0][1].endswith(f"/applications/{drafts[0].id}/edit")
    fresh = client.get("/my/").get_data(as_text=True)  # a new page, a new key
    assert _start_key(fresh) != form["start_key"]
    client.post(apply,
                data={"csrf_token": csrf_from(fresh), "start_key": _start_key(fresh)})
    db.session.expire_all()
    assert db.session.scalar(select(func.count()).select_from(Application)) == 2


def _start_key(html: str) -> str:
    """The one-time key in the applicant home page's apply form."""
    import re

    match = re.search(r'name="start_key" value="([^"]+)"', html)
    assert match, "the apply form has no start key"
    return match.group(1)


def test_submit_fired_ten_times_at_once_over_http_moves_once(app, world, make_application):
    entry = make_application("wj1")
    token = issue_token(world["users"]["wj1"])
    db.session.commit()
    callers = [Api(app).caller(token) for _ in range(THREADS)]
    path = f"/api/v1/applications/{entry.id}/transitions"

    def contender(i: int, barrier: threading.Barrier) -> int:
        barrier.wait()
        return callers[i].post(path, json={"trigger": "submit"}).status_code

    assert sorted(race(THREADS, contender)) == [200] + [409] * (THREADS - 1)
    assert moves(entry.id, "submit") == 1


# 3. Concurrent use of a quota never exceeds it.

QUOTA = 2
QUOTA_ROUNDS = 5


def test_ten_recommendations_at_once_within_a_quota_of_two(app, world):
    users = world["users"]
    for n in range(QUOTA_ROUNDS):
        call = open_call("excellent_team", f"名额测试{n}", 2026, utcnow() - timedelta(days=1),
                         utcnow() + timedelta(days=30), {"WJ": QUOTA}, users["city"])
        entry_ids = [submitted_entry(call, users[f"wj{1 + k % 3}"], f"队{k}").id
                     for k in range(THREADS)]
        db.session.commit()
        outcomes = fire_together(app, entry_ids, "recommend", users["wj_admin"].id, RECOMMEND)
        assert Counter(outcomes) == {"moved": QUOTA, "refused": THREADS - QUOTA}, outcomes
        db.session.expire_all()
        assert db.session.scalar(select(func.count()).select_from(Application).where(
            Application.call_id == call.id, Application.state == "city_review")) == QUOTA


def test_per_category_quota_holds_when_both_categories_recommend_at_once(app, world):
    users = world["users"]
    categories = ("技能课程说课展示", "通识课程说课展示")
    teachers = [add_user(f"teacher{n}", "applicant", f"WJ-U{1 + n % 3}", PASSWORD)
                for n in range(THREADS * QUOTA_ROUNDS)]
    for n in range(QUOTA_ROUNDS):
        call = open_call("teacher_contest", f"分类名额测试{n}", 2026,
                         utcnow() - timedelta(days=1), utcnow() + timedelta(days=30),
                         {"WJ": QUOTA}, users["city"])
        entry_ids = []
        for k in range(THREADS):
            teacher = teachers[n * THREADS + k]
            entry = create_application(call, teacher, contest_data(
                f"教师{k}", teacher.org.name, f"课程{k}", category=categories[k % 2]))
            store_attachment(entry, "lesson_plan", "教案.pdf", io.BytesIO(SAMPLE_PDF), teacher)
            fire(entry, "submit", teacher)
            entry_ids.append(entry.id)
        db.session.commit()
        outcomes = fire_together(app, entry_ids, "recommend", users["wj_admin"].id, RECOMMEND)
        assert Counter(outcomes) == {"moved": 2 * QUOTA, "refused": THREADS - 2 * QUOTA}
        db.session.expire_all()
        passed = Counter(entry.data["category"] for entry in db.session.scalars(
            select(Application).where(Application.call_id == call.id,
                                      Application.state == "eligibility")))
        assert passed == dict.fromkeys(categories, QUOTA)


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


@postgres_only
def test_a_recommendation_waits_for_the_quota_row_another_holds(app, world):
    """The guard's lock, seen directly: while one recommendation is uncommitted, a second one
    in the same district cannot count the quota (it would count too few)."""
    users, call = world["users"], world["call"]
    first, second = (submitted_entry(call, users["wj1"], name).id for name in ("甲队", "乙队"))
    db.session.commit()
    admin_id = users["wj_admin"].id
    with app.app_context():  # holds the lock: recommended, not yet committed
        fire(db.session.get(Application, first), "recommend",
             db.session.get(User, admin_id), data=RECOMMEND)
        with app.app_context():
            db.session.execute(text("SET LOCAL lock_timeout = '300ms'"))
            with pytest.raises(OperationalError, match="lock timeout"):
                fire(db.session.get(Application, second), "recommend",
                     db.session.get(User, admin_id), data=RECOMMEND)
            db.session.rollback()
        db.session.commit()
    outcomes = fire_together(app, [second], "recommend", admin_id, RECOMMEND)
    assert outcomes == ["moved"]  # once the first committed, the second goes through


# 4. The minute sweeps run on every worker, on every machine: they take up work once.

def test_ten_sweeps_at_once_take_up_a_stalled_job_once(app, world, held_queue):
    """Every worker command runs the minute sweep for stalled jobs, so with workers on several
    machines sweeps meet: the job a stopped worker left is queued again once, not once per
    sweep (two copies would draw its certificates twice over)."""
    stalled = Job(kind="issue_certificates", call_id=world["call"].id, status="running",
                  created_by_id=world["users"]["city"].id, base_url="http://pingshen.test",
                  heartbeat_at=utcnow() - timedelta(hours=1))
    db.session.add(stalled)
    db.session.commit()

    def sweep(_i: int, barrier: threading.Barrier) -> list[int]:
        with app.app_context():
            barrier.wait()
            return resume_jobs()

    taken = race(THREADS, sweep)
    assert sorted(taken) == [[]] * (THREADS - 1) + [[stalled.id]]
    assert queue().pending() == 1
    db.session.expire_all()
    assert db.session.get(Job, stalled.id).resumed == 1
