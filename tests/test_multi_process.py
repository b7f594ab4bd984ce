"""Two web servers and two workers on one PostgreSQL and one Redis, as Pingshen runs on several
machines (docs/deploy.md, "Growing to several servers").

The way production starts: `flask db upgrade` on an empty schema in a subprocess and
`flask workflows sync`; then two gunicorn servers (two processes each) on loopback and two
`flask jobs worker` commands, with one SECRET_KEY, shared UPLOAD_FOLDER and CERTIFICATE_FOLDER
and one Redis queue. Over HTTP, as browsers (cookies, CSRF tokens), each person's requests
alternating between the servers as a load balancer without sticky sessions sends them:

- the city administrator starts the bulk issue of a call's certificates on one server and
  follows its progress to the end on the other, while
- applicants, all at once, log in on one server and go on on the other; each starts a draft
  with one form sent to both servers at the same moment (a double click), fills it in with its
  charter and submits it, again to both servers at once, and downloads the charter from the
  server that did not store it.

Then the database and the shared folders hold every acknowledged write exactly once: one draft
and one submission per applicant, one audit row per move, one attachment with its file; one
certificate per awarded entry, serials without a gap, codes unique, one PDF each and no other
file; the job done and nothing left in the queue. No answer is a 5xx, no log a traceback.

Needs PostgreSQL (TEST_DATABASE_URL) and Redis (REDIS_URL, default redis://127.0.0.1:6379/0),
as CI's second pass has; skipped otherwise. The queue gets a name of its own (JOB_QUEUE_NAME),
removed at the end, so a Redis shared with anything else is left as it was.
"""

from __future__ import annotations

import http.client
import os
import re
import secrets
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import timedelta
from http.cookies import SimpleCookie
from pathlib import Path
from typing import Any
from urllib.parse import urlencode, urlsplit

import pytest
from pypdf import PdfReader
from sqlalchemy import create_engine, func, select, text

from app import create_app
from app.extensions import db
from app.jobs import make_queue
from app.models import Application, Attachment, AuditEntry, Certificate, Job
from app.models.base import utcnow
from app.services.accounts import add_organisation, add_user
from app.services.applications import create_application
from app.services.attachments import attachment_path
from app.services.calls import open_call
from app.services.demo import SAMPLE_PDF, team_data
from tests.conftest import PASSWORD
from tests.security.test_races import race

ROOT = Path(__file__).resolve().parent.parent
APPLICANTS = 8  # each in a thread of its own, all at once
AWARDED = 60  # certificates in the bulk job: six chunks of ten for the two workers
YEAR = 2025  # the awarded call's year: its serials are YXTD-2025-0001 ...
SECONDS = 120  # longest wait for anything (servers up, the job done)
TOKEN = re.compile(r'name="csrf_token"[^>]*value="([^"]+)"')
VERSION = re.compile(r'name="expected_version"[^>]*value="(\d+)"')


# ---- The cluster: database, processes, and their end ---------------------------------------

@dataclass
class Cluster:
    """What the test drives and checks: the servers' base URLs, the seeded ids, the folders,
    the app to read the database with, and the logs."""

    servers: list[str]
    ids: dict[str, Any]
    folders: dict[str, str]
    app: Any
    logs: Path
    queue: Any


def _backends() -> tuple[str, str]:
    """PostgreSQL and Redis URLs, or skip saying what is missing."""
    database = os.environ.get("TEST_DATABASE_URL", "")
    if not database.startswith("postgresql"):
        pytest.skip("several servers share one PostgreSQL: set TEST_DATABASE_URL="
                    "postgresql+psycopg://... (CI's second pass does)")
    redis_url = os.environ.get("REDIS_URL", "redis://127.0.0.1:6379/0")
    import redis

    try:
        with redis.Redis.from_url(redis_url, socket_connect_timeout=2) as client:
            client.ping()
    except redis.RedisError as exc:
        pytest.skip(f"several workers share one Redis queue; none at {redis_url} ({exc})")
    return database, redis_url


@pytest.fixture
def cluster(tmp_path: Path) -> Iterator[Cluster]:
    """A migrated, seeded database; two gunicorn servers and two workers; all stopped after."""
    database, redis_url = _backends()
    folders = {key: str(tmp_path / name) for key, name in (
        ("UPLOAD_FOLDER", "uploads"), ("CERTIFICATE_FOLDER", "certificates"),
        ("EXPORT_FOLDER", "exports"), ("IMPORT_FOLDER", "imports"))}
    queue_name = f"pingshen-test-{secrets.token_hex(6)}"
    env = {**os.environ, **folders, "FLASK_APP": "wsgi.py", "DATABASE_URL": database,
           "PINGSHEN_INSTANCE": str(tmp_path / "instance"),
           "SECRET_KEY": secrets.token_urlsafe(32), "JOB_QUEUE_URL": redis_url,
           "JOB_QUEUE_NAME": queue_name, "PUBLIC_BASE_URL": "http://pingshen.test"}
    _empty_schema(database)
    upgrade = subprocess.run([sys.executable, "-m", "flask", "db", "upgrade"], cwd=ROOT,
                             env=env, capture_output=True, text=True, timeout=SECONDS)
    assert upgrade.returncode == 0, upgrade.stderr
    app = create_app({"SQLALCHEMY_DATABASE_URI": database, **folders,
                      "JOB_QUEUE_URL": "immediate", "SECURITY_LOG": "",
                      "PASSWORD_HASH_METHOD": "pbkdf2:sha256:1000"})  # a cheap hash to seed
    logs = tmp_path / "logs"
    logs.mkdir()
    queue = make_queue(redis_url, queue_name)
    started: list[subprocess.Popen[bytes]] = []
    try:
        servers = [_serve(n, env, tmp_path, logs, started) for n in range(2)]
        for n in range(2):
            started.append(_start([sys.executable, "-m", "flask", "jobs", "worker",
                                   "--workers", "1"], env, logs / f"worker{n}.log"))
        sync = app.test_cli_runner().invoke(args=["workflows", "sync"])  # as after an upgrade
        assert sync.exit_code == 0, sync.output
        with app.app_context():
            ids = _seed()  # while the processes start
        _wait_until_up(servers, logs, started)
        yield Cluster(servers, ids, folders, app, logs, queue)
    finally:
        _stop(started)
        queue.storage.flush_all()
        queue.storage.pool.disconnect()
        with app.app_context():
            db.session.remove()
            db.engine.dispose()
        _empty_schema(database)


def _empty_schema(database: str) -> None:
    """Drop everything in the test database's public schema."""
    engine = create_engine(database)
    with engine.begin() as connection:
        connection.execute(text("DROP SCHEMA public CASCADE; CREATE SCHEMA public"))
    engine.dispose()


def _seed() -> dict[str, Any]:
    """A city, two districts, applicants with units of their own, and two open calls: one to
    apply to, one whose entries are awarded and wait for their certificates."""
    add_organisation("X", "X市", "city", None)
    for district, name in (("WJ", "武进区"), ("TN", "天宁区")):
        add_organisation(district, name, "district", "X")
        add_organisation(f"{district}-S", f"{name}某街道", "street", district)
    city = add_user("city", "city_admin", "X", PASSWORD, "市管理员")
    applicants = []
    for n in range(APPLICANTS + 1):  # the last one holds the awarded entries
        district = ("WJ", "TN")[n % 2]
        add_organisation(f"{district}-U{n}", f"社区学校{n}", "unit", f"{district}-S")
        applicants.append(add_user(f"team{n}", "applicant", f"{district}-U{n}", PASSWORD))
    now = utcnow()
    apply_to = open_call("excellent_team", "2026年度优秀团队遴选", 2026, now - timedelta(days=1),
                         now + timedelta(days=30), {"WJ": 100, "TN": 100}, city)
    awarded = open_call("excellent_team", f"{YEAR}年度优秀团队遴选", YEAR,
                        now - timedelta(days=1), now + timedelta(days=30), {}, city)
    entries = []
    for n in range(AWARDED):
        entry = create_application(awarded, applicants[-1],
                                   team_data(f"第{n + 1}支优秀团队", "某中心", "张三"))
        entry.state, entry.submitted_at = "named", now  # set-up: a call decided earlier
        entries.append(entry)
    db.session.commit()
    return {"apply_to": apply_to.id, "awarded": awarded.id,
            "awarded_entries": sorted(e.id for e in entries),
            "applicants": [u.username for u in applicants[:-1]]}


def _serve(n: int, env: dict[str, str], tmp_path: Path, logs: Path,
           started: list[subprocess.Popen[bytes]]) -> str:
    """Start gunicorn on a loopback socket this process opened (so no port is raced for)."""
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(64)
    listener.set_inheritable(True)
    port = listener.getsockname()[1]
    run = tmp_path / f"run{n}"  # gunicorn's control socket, away from $HOME
    run.mkdir()
    try:
        started.append(_start(
            [sys.executable, "-m", "gunicorn", "--preload", "--workers", "2", "--timeout", "120",
             "--bind", f"fd://{listener.fileno()}", "wsgi:app"],
            {**env, "XDG_RUNTIME_DIR": str(run)}, logs / f"web{n}.log",
            pass_fds=(listener.fileno(),)))
    finally:
        listener.close()
    return f"http://127.0.0.1:{port}"


def _start(command: list[str], env: dict[str, str], log: Path,
           pass_fds: tuple[int, ...] = ()) -> subprocess.Popen[bytes]:
    """Start a process in a group of its own (its children with it), output to ``log``."""
    with log.open("wb") as output:
        return subprocess.Popen(command, cwd=ROOT, env=env, stdout=output,
                                stderr=subprocess.STDOUT, start_new_session=True,
                                pass_fds=pass_fds)


def _wait_until_up(servers: list[str], logs: Path,
                   started: list[subprocess.Popen[bytes]]) -> None:
    """Wait until both servers answer and both workers have warmed up."""
    deadline = time.monotonic() + SECONDS
    waiting = set(servers)
    while waiting or not all("ready" in (logs / f"worker{n}.log").read_text(errors="replace")
                             for n in range(2)):
        if time.monotonic() > deadline or any(p.poll() is not None for p in started):
            pytest.fail(f"the cluster did not come up:\n{_logs(logs)}")
        for server in list(waiting):
            try:
                if Browser().get(server, "/login").status == 200:
                    waiting.discard(server)
            except OSError:
                pass
        time.sleep(0.2)


def _stop(started: list[subprocess.Popen[bytes]]) -> None:
    """Stop each process group (gunicorn and the workers take SIGTERM); kill what stays."""
    for process in started:
        _signal_group(process, signal.SIGTERM)
    for process in started:
        try:
            process.wait(30)
        except subprocess.TimeoutExpired:
            pass
        _signal_group(process, signal.SIGKILL)  # a child left behind, or a hung master
        process.wait(10)


def _signal_group(process: subprocess.Popen[bytes], number: int) -> None:
    """Send ``number`` to the process's group, if any of it is still there."""
    try:
        os.killpg(process.pid, number)
    except ProcessLookupError:
        pass


def _logs(logs: Path) -> str:
    """Every log of the cluster, for a failure message."""
    return "\n".join(f"== {p.name}\n{p.read_text(errors='replace')[-4000:]}"
                     for p in sorted(logs.iterdir()))


# ---- A browser over plain HTTP ---------------------------------------------------------------

@dataclass
class Answer:
    """One response: status, redirect target, body."""

    status: int
    location: str
    body: bytes

    @property
    def text(self) -> str:
        """The body as text."""
        return self.body.decode("utf-8", errors="replace")


@dataclass
class Browser:
    """One person's browser: its cookies go to every server (one site behind a balancer), and
    the CSRF token of the last page it read goes with its next form. Any 5xx fails the test."""

    cookies: dict[str, str] = field(default_factory=dict)
    token: str = ""
    lock: threading.Lock = field(default_factory=threading.Lock)

    def get(self, server: str, path: str) -> Answer:
        """GET a page; keep its CSRF token."""
        answer = self._send(server, "GET", path, b"", {})
        if found := TOKEN.search(answer.text):
            self.token = found.group(1)
        return answer

    def post(self, server: str, path: str, fields: list[tuple[str, str]],
             files: dict[str, tuple[str, bytes]] | None = None) -> Answer:
        """POST a form (multipart when it carries files) with the CSRF token."""
        fields = [("csrf_token", self.token), *fields]
        if not files:
            return self._send(server, "POST", path, urlencode(fields).encode(),
                              {"Content-Type": "application/x-www-form-urlencoded"})
        boundary = secrets.token_hex(16)
        parts = [f'--{boundary}\r\nContent-Disposition: form-data; name="{name}"\r\n\r\n'
                 f"{value}\r\n".encode() for name, value in fields]
        parts += [f'--{boundary}\r\nContent-Disposition: form-data; name="{name}"; '
                  f'filename="{filename}"\r\nContent-Type: application/pdf\r\n\r\n'.encode()
                  + body + b"\r\n" for name, (filename, body) in files.items()]
        return self._send(server, "POST", path, b"".join(parts) + f"--{boundary}--\r\n".encode(),
                          {"Content-Type": f"multipart/form-data; boundary={boundary}"})

    def log_in(self, server: str, username: str) -> None:
        """Log in through the login form."""
        self.get(server, "/login")
        answer = self.post(server, "/login", [("username", username), ("password", PASSWORD)])
        assert answer.status == 302 and "/login" not in answer.location, answer.text[:500]

    def _send(self, server: str, method: str, path: str, body: bytes,
              headers: dict[str, str]) -> Answer:
        """One request with the cookies; store the cookies the answer sets or deletes."""
        address = urlsplit(server)
        connection = http.client.HTTPConnection(address.hostname, address.port, timeout=60)
        with self.lock:
            cookie = "; ".join(f"{name}={value}" for name, value in self.cookies.items())
        try:
            connection.request(method, path, body, {**headers, "Cookie": cookie,
                                                    "Accept-Language": "zh-CN"})
            response = connection.getresponse()
            answer = Answer(response.status, response.getheader("Location", ""),
                            response.read())
            set_cookies = response.msg.get_all("Set-Cookie") or []
        finally:
            connection.close()
        with self.lock:
            for header in set_cookies:
                for name, morsel in SimpleCookie(header).items():
                    if morsel["max-age"] == "0":
                        self.cookies.pop(name, None)
                    else:
                        self.cookies[name] = morsel.value
        assert answer.status < 500, f"{method} {server}{path}: {answer.status}\n{answer.text}"
        return answer


def at_once(*actions: Callable[[], Any]) -> list[Any]:
    """Run the actions in threads released together; their results in order."""
    def act(i: int, barrier: threading.Barrier) -> Any:
        barrier.wait()
        return actions[i]()

    return race(len(actions), act)


# ---- What the people do ----------------------------------------------------------------------

def apply_and_submit(username: str, here: str, there: str, call_id: int) -> int:
    """An applicant's whole entry, alternating between the servers; the entry's id."""
    browser = Browser()
    browser.log_in(here, username)
    home = browser.get(there, "/my/")  # the session the first server made, on the second
    assert home.status == 200, f"{username} is not logged in on {there}: {home.location}"
    start = re.search(rf'action="/my/calls/{call_id}/apply".*?name="start_key" value="([^"]+)"',
                      home.text, re.S)
    assert start is not None, home.text
    starts = at_once(*(lambda server=server: browser.post(
        server, f"/my/calls/{call_id}/apply", [("start_key", start.group(1))])
        for server in (here, there)))
    assert [a.status for a in starts] == [302, 302], [a.text[:300] for a in starts]
    assert starts[0].location == starts[1].location  # the double click opened one draft
    entry_id = int(re.search(r"/applications/(\d+)/edit", starts[0].location).group(1))

    edit = browser.get(here, f"/applications/{entry_id}/edit")
    version = VERSION.search(edit.text)
    assert version is not None, edit.text[:500]
    form = [*_team_form(username), ("expected_version", version.group(1)), ("action", "submit")]
    submits = at_once(*(lambda server=server: browser.post(
        server, f"/applications/{entry_id}/edit", form, {"charter": ("团队章程.pdf", SAMPLE_PDF)})
        for server in (there, here)))
    statuses = sorted(a.status for a in submits)
    assert statuses in ([302, 403], [302, 409]), [(a.status, a.text[:300]) for a in submits]
    stored_by = (there, here)[[a.status for a in submits].index(302)]

    other = here if stored_by == there else there
    detail = browser.get(other, f"/applications/{entry_id}")
    link = re.search(rf'href="(/applications/{entry_id}/attachments/\d+)"', detail.text)
    assert link is not None, detail.text[:500]
    download = browser.get(other, link.group(1))  # stored by one server, sent by the other
    assert download.status == 200 and download.body == SAMPLE_PDF
    return entry_id


def _team_form(username: str) -> list[tuple[str, str]]:
    """The edit form's fields, filled in as a person would."""
    team = team_data(f"{username}的团队", "某社区教育中心", "张三")
    fields = [(key, str(team[key])) for key in (
        "team_name", "centre", "founded_on", "member_count", "field", "weekly_hours", "leader",
        "phone", "email", "introduction", "achievements")]
    fields += [("honest", "y")] + [("activities", value) for value in team["activities"]]
    for n, member in enumerate(team["members"]):
        fields += [(f"members-{n}-{key}", str(value)) for key, value in member.items()]
    return fields


def follow_job(browser: Browser, server: str, url: str) -> dict[str, Any]:
    """Poll the job's progress on ``server`` until it has ended; its last state."""
    import json

    deadline, state = time.monotonic() + SECONDS, {}
    while time.monotonic() < deadline:
        state = json.loads(browser.get(server, url).text)
        if state["status"] in ("done", "failed"):
            return state  # type: ignore[no-any-return]
        time.sleep(0.3)
    pytest.fail(f"the certificate job did not end in {SECONDS} s: {state}")


# ---- The test ----------------------------------------------------------------------------

@pytest.mark.slow
def test_two_servers_and_two_workers_lose_nothing_and_duplicate_nothing(cluster):
    first, second = cluster.servers
    ids = cluster.ids

    city = Browser()
    city.log_in(first, "city")
    city.get(first, f"/admin/calls/{ids['awarded']}/certificates")
    issued = city.post(first, f"/admin/calls/{ids['awarded']}/certificates/issue", [])
    assert issued.status == 302, issued.text[:500]
    progress = city.get(second, f"/admin/calls/{ids['awarded']}/certificates")
    job_url = re.search(r'data-job-url="([^"]+)"', progress.text)
    assert job_url is not None, "the other server shows no job in progress"

    entries = at_once(*(lambda n=n, name=name: apply_and_submit(
        name, cluster.servers[n % 2], cluster.servers[1 - n % 2], ids["apply_to"])
        for n, name in enumerate(ids["applicants"])))
    job = follow_job(city, second, job_url.group(1))
    assert (job["status"], job["total"], job["done"], job["failed"]) == (
        "done", AWARDED, AWARDED, 0), job

    with cluster.app.app_context():
        _check_submissions(dict(zip(ids["applicants"], entries, strict=True)), ids)
        codes = _check_certificates(ids, cluster.folders["CERTIFICATE_FOLDER"])
        assert [(j.kind, j.status, j.resumed) for j in db.session.scalars(select(Job))] == [
            ("issue_certificates", "done", 0)]
        sample = db.session.scalar(select(Certificate).where(Certificate.code == codes[0]))
    pdf = city.get(first, f"/applications/{sample.application_id}/certificates/{sample.id}.pdf")
    assert pdf.status == 200 and pdf.body.startswith(b"%PDF")  # a worker drew it, a server sends
    _wait_for_empty_queue(cluster.queue)
    for log in sorted(cluster.logs.iterdir()):
        assert "Traceback" not in log.read_text(errors="replace"), _logs(cluster.logs)
    assert all("RedisStorage" in (cluster.logs / f"worker{n}.log").read_text()
               for n in range(2))


def _check_submissions(acknowledged: dict[str, int], ids: dict[str, Any]) -> None:
    """Each applicant: one entry (the one acknowledged), submitted once, its charter once."""
    assert len(set(acknowledged.values())) == APPLICANTS
    stored = db.session.execute(select(Application.id, Application.state).where(
        Application.call_id == ids["apply_to"]).order_by(Application.id)).all()
    assert stored == [(i, "district_review") for i in sorted(acknowledged.values())]
    for entry_id in acknowledged.values():
        moves = db.session.scalars(select(AuditEntry.trigger).where(
            AuditEntry.application_id == entry_id).order_by(AuditEntry.id)).all()
        assert moves == ["create", "submit"], (entry_id, moves)
        files = db.session.scalars(select(Attachment).where(
            Attachment.application_id == entry_id)).all()
        assert [f.field_key for f in files] == ["charter"], entry_id
        assert attachment_path(files[0]).read_bytes() == SAMPLE_PDF


def _check_certificates(ids: dict[str, Any], folder: str) -> list[str]:
    """One certificate per awarded entry, gap-free serials, unique codes, one PDF each and no
    other file in the shared folder; the codes."""
    certificates = db.session.scalars(select(Certificate).order_by(Certificate.serial)).all()
    assert sorted(c.application_id for c in certificates) == ids["awarded_entries"]
    assert [c.serial for c in certificates] == [f"YXTD-{YEAR}-{n:04d}"
                                                for n in range(1, AWARDED + 1)]
    codes = [c.code for c in certificates]
    assert len(set(codes)) == AWARDED
    assert sorted(os.listdir(folder)) == sorted(f"{code}.pdf" for code in codes)
    for code in codes:
        assert len(PdfReader(Path(folder) / f"{code}.pdf").pages) == 1
    assert db.session.scalar(select(func.count()).select_from(Certificate)) == AWARDED
    return codes


def _wait_for_empty_queue(queue: Any) -> None:
    """No task waits in the queue (a minute job may be queued for a moment on the minute)."""
    deadline = time.monotonic() + 15
    while queue.pending_count() and time.monotonic() < deadline:
        time.sleep(0.2)
    assert queue.pending_count() == 0
