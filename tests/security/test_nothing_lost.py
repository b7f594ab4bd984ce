"""Nothing lost: what the server acknowledged (2xx, 302) is committed — read back right after
the response through a connection of its own, never the app's session — and an upload is on
disk, whole, before its row commits; a failed upload leaves no row and no temporary file.
"""

from __future__ import annotations

import hashlib
import io
import json
import re
import resource
import signal
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest

from app.services.demo import SAMPLE_PDF, team_data
from app.services.file_sweep import sweep_files
from tests.conftest import PASSWORD, csrf_from, login
from tests.security.stored import Failures, committed, count

SCORES = {"organisation": 18, "resources": 12.5, "activities": 30, "impact": 25}


class Caller:
    """An API client holding one user's token."""

    def __init__(self, client: Any, username: str) -> None:
        token = client.post("/api/v1/tokens", json={"username": username,
                                                    "password": PASSWORD}).get_json()["token"]
        self.client, self.headers = client, {"Authorization": f"Bearer {token}"}

    def __getattr__(self, method: str) -> Any:
        call = getattr(self.client, method)
        return lambda url, **kw: call(url, headers=self.headers, **kw)


def stored_data(app, application_id: int) -> dict[str, Any]:
    """An application's form data as committed (JSON text on SQLite, a document on PG)."""
    (value,), = committed(app, "SELECT data FROM applications WHERE id = :id", id=application_id)
    return json.loads(value) if isinstance(value, str) else value


def files(app) -> list[Path]:
    """Every file in the upload folder."""
    return sorted(p for p in Path(app.config["UPLOAD_FOLDER"]).rglob("*") if p.is_file())


def test_every_acknowledged_step_reads_back_from_a_fresh_connection(app, client, world):
    call = world["call"]
    wj1, district, city, expert = (Caller(client, name) for name in (
        "wj1", "wj_admin", "city", "expert1"))

    created = wj1.post("/api/v1/applications", json={
        "call_id": call.id, "data": team_data("湖塘太极拳队", "湖塘中心", "张三")})
    assert created.status_code == 201
    entry = created.get_json()["id"]
    assert committed(app, "SELECT title, state FROM applications WHERE id = :id", id=entry) == [
        ("湖塘太极拳队", "draft")]

    assert wj1.patch(f"/api/v1/applications/{entry}",
                     json={"data": {"weekly_hours": "4.5"}}).status_code == 200
    assert stored_data(app, entry)["weekly_hours"] == 4.5

    body = SAMPLE_PDF + b"%" + b"x" * 200_000  # a PDF of some size, its end padded
    uploaded = wj1.post(f"/api/v1/applications/{entry}/attachments",
                        content_type="multipart/form-data",
                        data={"charter": (io.BytesIO(body), "章程.pdf")})
    assert uploaded.status_code == 201
    (stored_name, size, digest), = committed(
        app, "SELECT stored_name, size, sha256 FROM attachments WHERE application_id = :id",
        id=entry)
    (path,) = files(app)  # the file is in place, whole, and nothing else (no .part)
    assert path.name == stored_name and size == len(body) == path.stat().st_size
    assert digest == hashlib.sha256(path.read_bytes()).hexdigest() == hashlib.sha256(
        body).hexdigest()

    assert wj1.post(f"/api/v1/applications/{entry}/transitions",
                    json={"trigger": "submit"}).status_code == 200
    assert committed(app, "SELECT state FROM applications WHERE id = :id", id=entry) == [
        ("district_review",)]
    assert district.post(f"/api/v1/applications/{entry}/transitions", json={
        "trigger": "recommend", "data": {"rank": 1, "opinion": "推荐"}}).status_code == 200
    assert committed(app, "SELECT state FROM applications WHERE id = :id", id=entry) == [
        ("city_review",)]
    assert committed(app, "SELECT trigger FROM audit_entries WHERE application_id = :id "
                          "ORDER BY id", id=entry) == [("create",), ("submit",), ("recommend",)]

    assigned = city.post(f"/api/v1/applications/{entry}/assignments", json={"expert": "expert1"})
    assert assigned.status_code == 201
    sheet = assigned.get_json()["id"]
    assert count(app, "review_assignments", f"id = {sheet}") == 1
    assert expert.post(f"/api/v1/reviews/{sheet}/conflict",
                       json={"conflict": False}).status_code == 200
    assert count(app, "review_assignments",
                 f"id = {sheet} AND conflict_checked_at IS NOT NULL") == 1
    assert expert.put(f"/api/v1/reviews/{sheet}",
                      json={"scores": {"organisation": 18}}).status_code == 200
    assert committed(app, "SELECT status, total FROM review_assignments WHERE id = :id",
                     id=sheet) == [("draft", 18)]
    assert expert.put(f"/api/v1/reviews/{sheet}",
                      json={"scores": SCORES, "submit": True}).status_code == 200
    assert committed(app, "SELECT status, total FROM review_assignments WHERE id = :id",
                     id=sheet) == [("submitted", 85.5)]


def test_a_score_saved_on_the_web_page_reads_back_at_once(app, client, world, make_application):
    from app.engine.runtime import fire
    from app.extensions import db
    from app.services.reviews import assign_expert
    from tests.conftest import confirmed

    users = world["users"]
    entry = make_application("wj1")
    fire(entry, "submit", users["wj1"])
    fire(entry, "recommend", users["wj_admin"], data={"rank": 1, "opinion": "推荐"})
    sheet = confirmed(assign_expert(entry, users["expert1"], users["city"])).id
    db.session.commit()
    login(client, "expert1")
    page = client.get(f"/reviews/{sheet}").get_data(as_text=True)
    form = dict(re.findall(r'<input[^>]*type="hidden"[^>]*name="([^"]+)"[^>]*value="([^"]*)"',
                           page))
    form |= {f"criterion_{key}": str(value) for key, value in SCORES.items()}
    form |= {"csrf_token": csrf_from(page), "comment": "材料扎实", "action": "save"}
    assert client.post(f"/reviews/{sheet}", data=form).status_code == 302
    assert committed(app, "SELECT status, comment FROM review_assignments WHERE id = :id",
                     id=sheet) == [("draft", "材料扎实")]
    form["action"] = "submit"
    assert client.post(f"/reviews/{sheet}", data=form).status_code == 302
    assert committed(app, "SELECT status, total FROM review_assignments WHERE id = :id",
                     id=sheet) == [("submitted", 85.5)]


@contextmanager
def disk_full_after(limit: int) -> Iterator[None]:
    """Make every file this process writes stop at ``limit`` bytes (the kernel answers EFBIG,
    as a full disk answers ENOSPC): a real failure inside the real write."""
    soft, hard = resource.getrlimit(resource.RLIMIT_FSIZE)
    previous = signal.signal(signal.SIGXFSZ, signal.SIG_IGN)  # an error, not a killed process
    resource.setrlimit(resource.RLIMIT_FSIZE, (limit, hard))
    try:
        yield
    finally:
        resource.setrlimit(resource.RLIMIT_FSIZE, (soft, hard))
        signal.signal(signal.SIGXFSZ, previous)


def upload(caller: Caller, entry: int, body: bytes) -> Any:
    """Upload ``body`` as the entry's charter (the request built in memory: the test client
    would spool a big one to a file it never closes)."""
    boundary = "pingshen-test-boundary"
    payload = (f"--{boundary}\r\nContent-Disposition: form-data; name=\"charter\"; "
               f"filename=\"charter.pdf\"\r\nContent-Type: application/pdf\r\n\r\n"
               ).encode() + body + f"\r\n--{boundary}--\r\n".encode()
    return caller.post(f"/api/v1/applications/{entry}/attachments", data=payload,
                       content_type=f"multipart/form-data; boundary={boundary}")


@pytest.fixture
def draft(app, client, world, make_application) -> tuple[Caller, int, Path]:
    """wj1's draft with its charter uploaded, wj1's caller, and the charter's file."""
    entry = make_application("wj1")
    app.config["PROPAGATE_EXCEPTIONS"] = False  # a server error answers 500, as in production
    (path,) = files(app)
    return Caller(client, "wj1"), entry.id, path


def test_an_upload_cut_short_by_a_full_disk_leaves_no_part_file_and_no_row(app, draft, caplog):
    from sqlalchemy import text

    from app.extensions import db

    caller, entry, kept = draft
    # Under 500 kB, so that neither the test client nor the server spools the request to a
    # file of its own: the first file to reach the limit is the upload's .part file.
    body = SAMPLE_PDF + b"%" + b"x" * (400 * 1024)
    if db.engine.dialect.name == "sqlite":  # SQLite's log starts empty, far below the limit
        db.session.execute(text("PRAGMA wal_checkpoint(TRUNCATE)"))
        db.session.commit()
    with disk_full_after(256 * 1024):  # the .part file cannot grow past 256 kB
        failed = upload(caller, entry, body)
    assert failed.status_code == 500
    assert "File too large" in caplog.text and "out.write(chunk)" in caplog.text  # the .part
    assert files(app) == [kept]  # no .part left, the earlier charter untouched
    assert count(app, "attachments") == 1
    assert upload(caller, entry, body).status_code == 201  # room again: it goes through
    assert count(app, "attachments") == 1 and files(app) != [kept]  # replaced, whole
    (path,) = files(app)
    assert path.stat().st_size == len(body)


def test_an_upload_whose_row_cannot_commit_leaves_only_a_file_the_sweep_removes(app, draft):
    caller, entry, kept = draft
    failures = Failures(app)
    failures.refuse("attachments", f"NEW.application_id = {entry}")
    assert upload(caller, entry, SAMPLE_PDF).status_code == 500
    assert committed(app, "SELECT stored_name FROM attachments") == [(kept.name,)]
    (orphan,) = [p for p in files(app) if p != kept]  # renamed into place before the row
    assert not orphan.name.endswith(".part")
    swept = sweep_files(timedelta(0))  # the grace period over
    assert [o.path for o in swept.orphans] == [orphan] and files(app) == [kept]


@pytest.mark.parametrize("body, message", [
    (SAMPLE_PDF + b"%" + b"x" * (20 * 1024 * 1024), "文件超过大小限制（20 MB）"),
    (b"MZ\x90\x00 an executable, not a PDF", "文件内容与扩展名 .pdf 不符"),
    (b"", "文件为空"),
])
def test_a_refused_upload_leaves_no_file_and_no_row(app, draft, body, message):
    caller, entry, kept = draft
    refused = upload(caller, entry, body)
    assert refused.status_code == 422 and refused.get_json()["message"] == message
    assert files(app) == [kept] and count(app, "attachments") == 1
