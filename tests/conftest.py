"""Fixtures: an app on a real database (SQLite file, or PostgreSQL via TEST_DATABASE_URL)."""

from __future__ import annotations

import io
import os

# Jobs run at once in the process that enqueues them unless a test starts a real worker; set
# before the app's config is imported, so no test ever writes to the instance/ queue.
os.environ["JOB_QUEUE_URL"] = "immediate"
# Under pytest-xdist (`make test`), each worker tests on a PostgreSQL database of its own.
from tests.worker_database import worker_environment

os.environ.update(worker_environment())
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import select, text

from app import create_app
from app.engine.runtime import fire
from app.extensions import db
from app.models import Application, Call, ReviewAssignment, User
from app.models.base import utcnow
from app.services.accounts import add_organisation, add_user
from app.services.applications import create_application
from app.services.attachments import store_attachment
from app.services.calls import open_call
from app.services.demo import SAMPLE_PDF, contest_data, team_data

PASSWORD = "correct-horse-1"


def _database_url(tmp_path: Path) -> str:
    """PostgreSQL when TEST_DATABASE_URL is set, else a fresh SQLite file per test."""
    return os.environ.get("TEST_DATABASE_URL") or f"sqlite:///{tmp_path / 'test.db'}"


class FreshContextClient(FlaskClient):
    """A client whose requests each run in their own app context, as in production.

    The `app` fixture keeps an app context pushed for the test; without this, every request
    would share its database session and its `g` (the logged-in user, the CSRF token).
    """

    def open(self, *args: Any, **kwargs: Any) -> Any:
        """Run the request in a fresh application context."""
        with self.application.app_context():
            return super().open(*args, **kwargs)


@pytest.fixture(scope="session", autouse=True)
def compiled_translations() -> None:
    """Compile the catalogues (Chinese UI, English server messages) if `make` has not (or they
    changed since). Each parallel worker may do it at once: a catalogue is written beside its
    place and moved there, so no worker ever reads one half written."""
    from babel.messages.mofile import write_mo
    from babel.messages.pofile import read_po

    folder = Path(__file__).resolve().parent.parent / "app" / "translations"
    for po in (folder / "zh" / "LC_MESSAGES" / "messages.po",
               folder / "en" / "LC_MESSAGES" / "server.po"):
        mo = po.with_suffix(".mo")
        if not mo.exists() or mo.stat().st_mtime < po.stat().st_mtime:
            written = mo.with_suffix(f".mo.{os.getpid()}")
            with po.open("rb") as source, written.open("wb") as target:
                write_mo(target, read_po(source))
            written.replace(mo)


def configured_app(folder: Path) -> Flask:
    """An app configured for tests, its files under ``folder`` (no tables yet)."""
    app = create_app({
        "TESTING": True,
        "SQLALCHEMY_DATABASE_URI": _database_url(folder),
        "UPLOAD_FOLDER": str(folder / "uploads"),
        "CERTIFICATE_FOLDER": str(folder / "certificates"),
        "IMPORT_FOLDER": str(folder / "imports"),
        "EXPORT_FOLDER": str(folder / "exports"),
        "PUBLIC_BASE_URL": "http://pingshen.test",
        "SECRET_KEY": "test-secret",
        "LOGIN_MAX_FAILURES": 5,
        "SECURITY_LOG": "",  # tests read the events through caplog
        # Tests create many users: a cheap hash keeps set-up fast (production uses scrypt).
        "PASSWORD_HASH_METHOD": "pbkdf2:sha256:1000",
    })
    app.test_client_class = FreshContextClient
    return app


@contextmanager
def empty_tables(app: Flask) -> Iterator[None]:
    """Inside an app context: empty tables created directly from the models (tests only),
    dropped (PostgreSQL) and let go of afterwards."""
    with app.app_context():
        if db.engine.dialect.name == "postgresql":
            db.session.execute(text("DROP SCHEMA public CASCADE; CREATE SCHEMA public"))
            db.session.commit()
        db.create_all()
        yield
        db.session.remove()
        if db.engine.dialect.name == "postgresql":
            db.drop_all()
        db.engine.dispose()


@pytest.fixture
def app(tmp_path: Path) -> Iterator[Flask]:
    """An app with empty tables created directly from the models (tests only)."""
    app = configured_app(tmp_path)
    with empty_tables(app):
        yield app


@pytest.fixture
def client(app: Flask) -> FlaskClient:
    """A test client (CSRF is on, as in production; see the `csrf` helpers)."""
    return app.test_client()


@pytest.fixture
def held_queue(app: Flask, tmp_path: Path) -> Callable[[], int]:
    """A real queue (a SQLite file) that no worker reads: jobs wait in it, as they do for a
    busy worker, until the test calls the returned function, which runs them as a worker
    would and says how many it ran."""
    from app.jobs import EXTENSION, JobQueue, queue

    app.config["JOB_QUEUE_URL"] = f"sqlite:///{tmp_path / 'jobs.db'}"
    app.extensions[EXTENSION] = JobQueue(app)

    def work() -> int:
        """Run every waiting job; the number run."""
        huey, ran = queue().huey, 0
        while (task := huey.dequeue()) is not None:
            huey.execute(task)
            ran += 1
        return ran

    return work


@pytest.fixture
def world(app: Flask) -> dict[str, Any]:
    """A city with two districts, their units, one user per role and an open call."""
    return build_world()


def build_world() -> dict[str, Any]:
    """Create the `world` fixture's city, people and call (committed); its users and call."""
    add_organisation("X", "X市", "city", None)
    add_organisation("X-OU", "X市开放大学", "unit", "X")
    for district, name in (("WJ", "武进区"), ("TN", "天宁区")):
        add_organisation(district, name, "district", "X")
        add_organisation(f"{district}-S", f"{name}某街道", "street", district)
        for n in (1, 2, 3):
            add_organisation(f"{district}-U{n}", f"{name}单位{n}", "unit", f"{district}-S")
    users = {
        "city": add_user("city", "city_admin", "X", PASSWORD, "市管理员"),
        "wj_admin": add_user("wj_admin", "district_admin", "WJ", PASSWORD),
        "tn_admin": add_user("tn_admin", "district_admin", "TN", PASSWORD),
        "expert1": add_user("expert1", "expert", "X-OU", PASSWORD, "专家一"),
        "expert2": add_user("expert2", "expert", "X-OU", PASSWORD, "专家二"),
    }
    for district in ("WJ", "TN"):
        for n in (1, 2, 3):
            name = f"{district.lower()}{n}"
            users[name] = add_user(name, "applicant", f"{district}-U{n}", PASSWORD)
    now = utcnow()
    call = open_call("excellent_team", "2026年度X市社区教育优秀团队遴选", 2026,
                     now - timedelta(days=1), now + timedelta(days=30),
                     {"WJ": 2, "TN": 1}, users["city"])
    db.session.commit()
    return {"users": users, "call": call}


@pytest.fixture
def make_application(world: dict[str, Any]) -> Callable[..., Application]:
    """Build a complete draft for an applicant (charter attached), ready to submit."""

    def make(applicant: str = "wj1", name: str = "湖塘太极拳队", **data: Any) -> Application:
        user: User = world["users"][applicant]
        call: Call = world["call"]
        application = create_application(call, user, {**team_data(name, "某中心", "张三"), **data})
        store_attachment(application, "charter", "章程.pdf", io.BytesIO(SAMPLE_PDF), user)
        db.session.commit()
        return application

    return make


@pytest.fixture
def contest(world: dict[str, Any]) -> dict[str, Any]:
    """A teacher-contest call (two rounds: blind online 30 %, live final 70 %) and seven judges.

    `contest["enter"](applicant, course)` makes an entry and takes it to the preliminary round.
    """
    users = world["users"]
    now = utcnow()
    call = open_call("teacher_contest", "2026年X市社区教育教师能力大赛", 2026,
                     now - timedelta(days=1), now + timedelta(days=30),
                     {"WJ": 3, "TN": 3}, users["city"])
    judges = [add_user(f"judge{n}", "expert", "X-OU", PASSWORD, f"评委{n}")
              for n in range(1, 8)]
    db.session.commit()

    def enter(applicant: str, course: str, **data: Any) -> Application:
        user: User = users[applicant]
        entry = create_application(call, user, {**contest_data(f"{applicant}老师", user.org.name,
                                                               course), **data})
        store_attachment(entry, "lesson_plan", f"{applicant}的教案.pdf", io.BytesIO(SAMPLE_PDF),
                         user)
        fire(entry, "submit", user)
        admin = users["wj_admin"] if applicant.startswith("wj") else users["tn_admin"]
        fire(entry, "recommend", admin, data={"rank": 1, "opinion": "推荐"})
        fire(entry, "qualify", users["city"])
        db.session.commit()
        return entry

    return {"call": call, "judges": judges, "enter": enter}


def live_final(contest: dict[str, Any], judges: list[User], entries: list[Application],
               city: User) -> Any:
    """Seat the judges as the final's panel (the first chairs), assign the entries, draw lots.

    Score an entry only after `open_entry(panel, entry, city)`, as on site.
    """
    from app.services.panels import assign_panel, create_panel, draw_order

    panel = create_panel(contest["call"], "city_final", "决赛评委组", judges[0], judges, city)
    assign_panel(panel, entries, city)
    draw_order(panel, city)
    unconfirmed = select(ReviewAssignment).where(ReviewAssignment.round == "city_final",
                                                 ReviewAssignment.conflict_checked_at.is_(None))
    for sheet in db.session.scalars(unconfirmed):
        confirmed(sheet)
    return panel


def login(client: FlaskClient, username: str, password: str = PASSWORD) -> Any:
    """Log in through the real form, CSRF token included."""
    page = client.get("/login")
    token = csrf_from(page.get_data(as_text=True))
    return client.post("/login", data={"username": username, "password": password,
                                       "csrf_token": token})


def csrf_from(html: str) -> str:
    """Read the CSRF token out of a rendered page."""
    import re

    match = re.search(r'name="csrf_token"[^>]*value="([^"]+)"', html)
    assert match, "page has no CSRF token"
    return match.group(1)


def pdf_upload(name: str = "file.pdf") -> tuple[io.BytesIO, str]:
    """A small real PDF for multipart uploads."""
    return io.BytesIO(SAMPLE_PDF), name


def confirmed(sheet: Any) -> Any:
    """An assignment whose expert has confirmed having no conflict of interest."""
    from app.services.reviews import declare_conflict

    declare_conflict(sheet, sheet.expert, conflict=False)
    return sheet


@pytest.fixture
def live_server(app: Flask) -> Iterator[str]:
    """The app served over HTTP on a free local port (for the real browser); yields its URL."""
    import threading

    from werkzeug.serving import make_server

    app.config["SERVER_NAME"] = None
    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_port}"
    finally:
        server.shutdown()
        thread.join(10)


def chromium_path() -> str:
    """Debian's chromium, which Playwright drives (it downloads no browser of its own)."""
    import shutil

    path = os.environ.get("CHROMIUM") or shutil.which("chromium")
    if path is None:
        pytest.fail("the browser tests need Debian's chromium: apt-get install chromium "
                    "(or set CHROMIUM to its path)")
    return path


@pytest.fixture
def browser(live_server: str) -> Iterator[Any]:
    """A real headless Chromium page, driven by Playwright, with the live server's base URL."""
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=chromium_path(),
                                              args=["--no-sandbox"])
        context = chromium.new_context(base_url=live_server, locale="zh-CN")
        page = context.new_page()
        page.set_default_timeout(20_000)
        try:
            yield page
        finally:
            context.close()
            chromium.close()


def browser_login(page: Any, username: str, password: str = PASSWORD) -> None:
    """Log in through the login form, as a person would."""
    page.goto("/login")
    page.fill("input[name=username]", username)
    page.fill("input[name=password]", password)
    page.click("form:has(input[name=username]) button[type=submit]")
    page.wait_for_url(lambda url: "/login" not in url)


NOTICE_FROM = datetime(2026, 6, 1, 9, 30, tzinfo=UTC)  # Monday 1 June 2026, 17:30 in Beijing
TEAM_SCORES = {"organisation": 18, "resources": 12, "activities": 30, "impact": 25}


@pytest.fixture
def in_notice(world: dict[str, Any], make_application: Callable[..., Application]
              ) -> Application:
    """wj1's team 湖塘太极拳队, scored and in public notice since NOTICE_FROM."""
    from app.services.reviews import assign_expert, save_review

    users = world["users"]
    entry = make_application("wj1", name="湖塘太极拳队")
    fire(entry, "submit", users["wj1"])
    fire(entry, "recommend", users["wj_admin"], data={"rank": 1, "opinion": "推荐"})
    save_review(confirmed(assign_expert(entry, users["expert1"], users["city"])),
                users["expert1"], TEAM_SCORES, "", submit=True)
    fire(entry, "publish_notice", users["city"], now=NOTICE_FROM)
    db.session.commit()
    return entry
