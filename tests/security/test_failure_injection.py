"""Failure injection: an error at the first, the middle and the last item of every bulk
operation leaves either nothing changed (operations of one transaction) or a state from which
running the operation again finishes the rest, with nothing done twice.

The failures are real: a trigger created by the test makes the database refuse one chosen row,
as a full disk (OperationalError) or a violated constraint (IntegrityError) would
(tests/security/stored.py). Every outcome is read back through a connection of its own.
"""

from __future__ import annotations

import pytest

from app.engine.runtime import fire
from app.extensions import db
from app.models import Application
from tests.conftest import PASSWORD
from tests.security.stored import KINDS, Failures, committed, count, position

POSITIONS = ("first", "middle", "last")


def bearer(client, username: str) -> dict[str, str]:
    """The Authorization header of an API token for ``username``."""
    answer = client.post("/api/v1/tokens", json={"username": username, "password": PASSWORD})
    return {"Authorization": f"Bearer {answer.get_json()['token']}"}


def submitted(world, make_application, count_: int) -> list[Application]:
    """``count_`` entries of 武进区, submitted."""
    entries = []
    for n in range(count_):
        applicant = f"wj{n % 3 + 1}"
        entry = make_application(applicant, name=f"第{n + 1}队")
        fire(entry, "submit", world["users"][applicant])
        entries.append(entry)
    db.session.commit()
    return entries


def next_job() -> str:
    """Run the next job waiting in the queue as a worker would; its name."""
    from app.jobs import queue

    task = queue().huey.dequeue()
    queue().huey.execute(task)
    return str(task.name)


# --- bulk moves: one transaction per item -----------------------------------------------------

@pytest.mark.parametrize("where", POSITIONS)
def test_a_bulk_move_failing_at_one_item_moves_the_others_and_a_rerun_moves_the_rest(
        app, client, world, make_application, where):
    entries = submitted(world, make_application, 5)
    ids = [e.id for e in entries]
    broken = position(ids, where)
    failures = Failures(app)
    failures.refuse("audit_entries",
                    f"NEW.application_id = {broken} AND NEW.trigger = 'return_for_correction'")
    headers = bearer(client, "wj_admin")
    body = {"application_ids": ids, "trigger": "return_for_correction", "comment": "请补充材料",
            "dry_run": False}

    first = client.post("/api/v1/bulk-transitions", json=body, headers=headers)
    assert first.status_code == 200
    items = {item["application_id"]: item for item in first.get_json()["items"]}
    assert [i for i in ids if items[i]["ok"]] == [i for i in ids if i != broken]
    assert items[broken]["reasons"] == ["保存时数据库出错，该申报未改变，可稍后重试"]
    states = dict(committed(app, "SELECT id, state FROM applications"))
    assert {i: states[i] for i in ids} == {i: "district_review" if i == broken else "returned"
                                           for i in ids}

    failures.lift()
    second = client.post("/api/v1/bulk-transitions", json=body, headers=headers).get_json()
    assert [i["application_id"] for i in second["items"] if i["ok"]] == [broken]
    assert {state for i, state in committed(app, "SELECT id, state FROM applications")} == {
        "returned"}
    moves = committed(app, "SELECT application_id, count(*) FROM audit_entries WHERE trigger = "
                           "'return_for_correction' GROUP BY application_id")
    assert dict(moves) == dict.fromkeys(ids, 1)  # one audit row per moved entry
    assert count(app, "notifications", "event = 'returned'") == 5  # one message each


# --- issuing certificates: one transaction per batch, resumable -------------------------------

@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("where", POSITIONS)
def test_certificates_failing_at_one_entry_keep_earlier_batches_and_a_new_job_issues_the_rest(
        app, world, make_application, held_queue, monkeypatch, where, kind):
    from app.services import certificate_jobs

    monkeypatch.setattr(certificate_jobs, "ISSUE_BATCH", 2)  # 6 entries: 3 transactions
    entries = []
    for n in range(6):
        entry = make_application(f"wj{n % 3 + 1}", name=f"第{n + 1}支优秀团队")
        entry.state = "named"  # set-up only: the outcome of a past call
        entries.append(entry)
    db.session.commit()
    ids = [e.id for e in entries]
    broken = position(ids, where)
    failures = Failures(app, kind)
    failures.refuse("certificates", f"NEW.application_id = {broken}")
    city, call = world["users"]["city"], world["call"]

    first = certificate_jobs.start_issue_job(call, city).id
    db.session.commit()
    assert next_job() == "issue_certificates"  # the worker: it fails at the broken batch
    (status, error), = committed(app, f"SELECT status, error FROM jobs WHERE id = {first}")
    assert status == "failed" and "数据库" in error
    before = ids.index(broken) // 2 * 2  # the entries of the batches committed before
    issued = committed(app, "SELECT application_id, serial FROM certificates ORDER BY serial")
    assert [a for a, _s in issued] == ids[:before]
    assert [s for _a, s in issued] == [f"YXTD-2026-{n:04d}" for n in range(1, before + 1)]

    failures.lift()
    second = certificate_jobs.start_issue_job(call, city).id
    db.session.commit()
    assert next_job() == "issue_certificates"  # the rows; the PDFs are drawn by later jobs
    assert committed(app, f"SELECT status, total FROM jobs WHERE id = {second}") == [
        ("running", 6)]
    issued = committed(app, "SELECT application_id, serial FROM certificates ORDER BY serial")
    assert sorted(a for a, _s in issued) == ids  # one certificate per holder
    assert [s for _a, s in issued] == [f"YXTD-2026-{n:04d}" for n in range(1, 7)]  # no gap
    assert count(app, "notifications", "event = 'certificate_issued'") == 6
