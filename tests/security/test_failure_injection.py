"""Failure injection: an error at the first, the middle and the last item of every bulk
operation leaves either nothing changed (operations of one transaction) or a state from which
running the operation again finishes the rest, with nothing done twice.

The failures are real: a trigger created by the test makes the database refuse one chosen row,
as a full disk (OperationalError) or a violated constraint (IntegrityError) would
(tests/security/stored.py). Every outcome is read back through a connection of its own.
"""

from __future__ import annotations

import json
import re
import zipfile
from pathlib import Path

import pytest

from app.engine.runtime import fire
from app.extensions import db
from app.models import Application
from tests.conftest import PASSWORD, csrf_from, login
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


# --- operations of one transaction: all or nothing --------------------------------------------

def under_review(world, make_application) -> list[Application]:
    """Three entries recommended by their districts, in the city's review round."""
    users, entries = world["users"], []
    for applicant, admin in (("wj1", "wj_admin"), ("wj2", "wj_admin"), ("tn1", "tn_admin")):
        entry = make_application(applicant, name=f"{applicant}的团队")
        fire(entry, "submit", users[applicant])
        fire(entry, "recommend", users[admin], data={"rank": 1, "opinion": "推荐"})
        entries.append(entry)
    db.session.commit()
    return entries


def as_city(app, client):
    """The client logged in as the city; server errors answer 500 as in production."""
    app.config["PROPAGATE_EXCEPTIONS"] = False
    login(client, "city")
    return client


def nothing_assigned(app) -> None:
    """No score sheet, no message about one, no e-mail."""
    assert count(app, "review_assignments") == 0
    assert count(app, "notifications", "event = 'assigned'") == 0


def one_sheet_per_pair(app) -> list[tuple[int, int]]:
    """The committed (entry, expert) pairs, each asserted to be there once."""
    rows = committed(app, "SELECT application_id, expert_id, count(*) FROM review_assignments "
                          "GROUP BY application_id, expert_id ORDER BY 1, 2")
    assert {n for _a, _e, n in rows} == {1}
    return [(a, e) for a, e, _n in rows]


@pytest.mark.parametrize("where", POSITIONS)
def test_automatic_assignment_failing_at_one_pair_assigns_nothing(app, client, world,
                                                                 make_application, where):
    call = world["call"]
    under_review(world, make_application)
    city = as_city(app, client)
    preview = city.get(f"/admin/calls/{call.id}/auto-assign?per_entry=2").get_data(as_text=True)
    pairs = re.findall(r'name="pair" value="(\d+:\d+)"', preview)
    assert len(pairs) == 6  # three entries, two experts each
    entry, expert = position(pairs, where).split(":")
    failures = Failures(app)
    failures.refuse("review_assignments",
                    f"NEW.application_id = {entry} AND NEW.expert_id = {expert}")
    form = {"csrf_token": csrf_from(preview), "per_entry": "2", "match_tags": "prefer",
            "pair": pairs}

    refused = city.post(f"/admin/calls/{call.id}/auto-assign", data=form)
    assert refused.status_code == 500  # the error page itself still renders:
    assert "服务器内部错误，请稍后再试" in refused.get_data(as_text=True)
    nothing_assigned(app)

    failures.lift()
    assert city.post(f"/admin/calls/{call.id}/auto-assign", data=form).status_code == 302
    made = one_sheet_per_pair(app)
    assert [f"{a}:{e}" for a, e in made] == sorted(pairs, key=lambda p: tuple(
        map(int, p.split(":"))))
    assert count(app, "notifications", "event = 'assigned'") == 2  # one per expert
    again = city.post(f"/admin/calls/{call.id}/auto-assign", data=form)  # a second click
    assert again.status_code == 200 and one_sheet_per_pair(app) == made


@pytest.mark.parametrize("where", POSITIONS)
def test_assigning_a_panel_failing_at_one_sheet_assigns_nothing(app, client, world,
                                                               make_application, where):
    from app.services.panels import create_panel

    users = world["users"]
    entries = under_review(world, make_application)
    experts = [users["expert1"], users["expert2"]]
    panel = create_panel(world["call"], "city_review", "第一组", None, experts, users["city"])
    db.session.commit()
    pairs = [(e.id, x.id) for e in entries for x in experts]
    entry, expert = position(pairs, where)
    failures = Failures(app)
    failures.refuse("review_assignments",
                    f"NEW.application_id = {entry} AND NEW.expert_id = {expert}")
    city = as_city(app, client)
    page = city.get(f"/admin/calls/{world['call'].id}/rounds/city_review")
    form = {"csrf_token": csrf_from(page.get_data(as_text=True))}

    assert city.post(f"/admin/panels/{panel.id}/assign", data=form).status_code == 500
    nothing_assigned(app)

    failures.lift()
    assert city.post(f"/admin/panels/{panel.id}/assign", data=form).status_code == 302
    assert one_sheet_per_pair(app) == sorted(pairs)
    assert city.post(f"/admin/panels/{panel.id}/assign", data=form).status_code == 302
    assert one_sheet_per_pair(app) == sorted(pairs)  # assigned again: nothing twice


@pytest.mark.parametrize("where", POSITIONS)
def test_inviting_experts_failing_at_one_invites_nobody(app, client, world, where):
    from app.services.accounts import add_user

    call = world["call"]
    experts = [world["users"]["expert1"], world["users"]["expert2"]] + [
        add_user(f"invited{n}", "expert", "X-OU", PASSWORD, f"专家{n}") for n in range(3)]
    db.session.commit()
    ids = [e.id for e in experts]
    failures = Failures(app)
    failures.refuse("call_invitations", f"NEW.expert_id = {position(ids, where)}")
    city = as_city(app, client)
    page = city.get(f"/admin/calls/{call.id}/experts").get_data(as_text=True)
    form = {"csrf_token": csrf_from(page), "experts": [str(i) for i in ids]}

    assert city.post(f"/admin/calls/{call.id}/experts", data=form).status_code == 500
    assert count(app, "call_invitations") == 0

    failures.lift()
    for _ in range(2):  # the second time, nobody is invited twice
        assert city.post(f"/admin/calls/{call.id}/experts", data=form).status_code == 302
        rows = committed(app, "SELECT expert_id, count(*) FROM call_invitations "
                              "GROUP BY expert_id")
        assert dict(rows) == dict.fromkeys(ids, 1)


@pytest.mark.parametrize("valid_only", [False, True], ids=["whole-file", "valid-rows"])
@pytest.mark.parametrize("where", POSITIONS)
def test_a_people_import_failing_at_one_row_imports_nothing(app, world, tmp_path, where,
                                                           valid_only):
    from tests.people_files import GOOD, workbook

    people = ["xb_admin", "sanjing", "wang", "zhao"]  # the order the import adds them in
    sheets = {**GOOD, "用户": GOOD["用户"] + [["boss", "丙", "专家组", "XB", "", "", ""]]} \
        if valid_only else GOOD  # with an invalid row, only the valid ones may be chosen
    path = tmp_path / "people.xlsx"
    path.write_bytes(workbook(sheets))
    failures = Failures(app)
    failures.refuse("users", f"NEW.username = '{position(people, where)}'")
    stored = (count(app, "organisations"), count(app, "users"))
    command = ["users", "import", str(path)] + (["--valid-only"] if valid_only else [])
    runner = app.test_cli_runner()

    failed = runner.invoke(args=command)
    assert failed.exit_code != 0
    assert (count(app, "organisations"), count(app, "users")) == stored  # nor the districts

    failures.lift()
    done = runner.invoke(args=command)
    assert done.exit_code == 0, done.output
    assert "导入完成：新增 7 行，更新 0 行" in done.output
    assert (count(app, "organisations"), count(app, "users")) == (stored[0] + 3, stored[1] + 4)
    again = runner.invoke(args=command)
    assert "新增 0 行，更新 0 行；未变 7 行" in again.output  # nothing twice
    assert (count(app, "organisations"), count(app, "users")) == (stored[0] + 3, stored[1] + 4)


# --- export jobs: a file made whole or not at all ---------------------------------------------

@pytest.mark.parametrize("where", POSITIONS)
def test_a_dossier_zip_failing_at_one_entry_leaves_no_file_and_a_new_job_makes_it_whole(
        app, world, make_application, monkeypatch, where):
    from app.services import dossier_jobs

    monkeypatch.setattr(dossier_jobs, "CHUNK", 1)  # progress recorded after every entry
    entries = submitted(world, make_application, 3)
    city, call = world["users"]["city"], world["call"]
    failures = Failures(app)
    done = position([1, 2, 3], where)  # the commit that records this entry fails
    failures.refuse("jobs", f"NEW.kind = 'call_dossiers' AND NEW.done = {done}", on="UPDATE")
    folder = Path(app.config["EXPORT_FOLDER"]) / "dossiers"

    first = dossier_jobs.start_dossier_job(call, city).id
    db.session.commit()  # the job runs after the commit (the tests' queue runs it at once)
    (status, error), = committed(app, f"SELECT status, error FROM jobs WHERE id = {first}")
    assert (status, error) == ("failed", "生成申报书合集时出错，详见服务器日志")
    assert list(folder.iterdir()) == []  # no ZIP, no half-written part

    failures.lift()
    second = dossier_jobs.start_dossier_job(call, city).id
    db.session.commit()
    assert committed(app, f"SELECT status, done FROM jobs WHERE id = {second}") == [("done", 3)]
    assert [p.name for p in folder.iterdir()] == [f"{second}.zip"]
    with zipfile.ZipFile(folder / f"{second}.zip") as archive:
        names = archive.namelist()
    dossiers = [n for n in names if n.endswith("/申报书.pdf")]
    assert len(dossiers) == len(set(dossiers)) == 3  # every entry once
    assert sorted(n.split("/")[1].split("-")[0] for n in dossiers) == sorted(
        str(e.id) for e in entries)


def test_a_draw_by_lot_that_cannot_be_stored_draws_nothing_and_is_drawn_once_later(
        app, client, world, contest):
    """A draw writes one row (the panel's order): there is no first, middle or last."""
    from app.services.panels import assign_panel, create_panel
    from tests.services.test_panels import _finalists

    users, judges = world["users"], contest["judges"]
    entries = _finalists(world, contest)
    panel = create_panel(contest["call"], "city_final", "决赛组", judges[3], judges[3:],
                         users["city"])
    assign_panel(panel, entries, users["city"])
    db.session.commit()
    failures = Failures(app)
    failures.refuse("panels", "NEW.drawn_at IS NOT NULL", on="UPDATE")
    chair = as_city(app, client)
    form = {"csrf_token": csrf_from(chair.get(f"/reviews/panels/{panel.id}").get_data(
        as_text=True))}
    draw = f"/reviews/panels/{panel.id}/draw"

    assert chair.post(draw, data=form).status_code == 500
    assert committed(app, f"SELECT drawn_at, drawn_by_id FROM panels WHERE id = {panel.id}") \
        == [(None, None)]

    failures.lift()
    assert chair.post(draw, data=form).status_code == 302
    (order,), = committed(app, f"SELECT draw_order FROM panels WHERE id = {panel.id}")
    assert chair.post(draw, data=form).status_code in (302, 409)  # drawn already: refused
    assert committed(app, f"SELECT draw_order FROM panels WHERE id = {panel.id}") == [(order,)]
    drawn = json.loads(order) if isinstance(order, str) else order
    assert sorted(drawn) == sorted(e.id for e in entries)
