"""Time the overview pages and the entries list at 1,000 and 10,000 entries, and count their SQL.

Usage: .venv/bin/python bench/dashboards.py [N ...]   (default: 1000 10000)

For each N: one excellent_team call with N submitted entries from units in ten districts (set up
directly with bulk inserts, not timed) spread over the programme's states — a fifth of them in
public notice since different days, so the "coming up" list has work to do —, three audit rows
and, for entries past the district, three score sheets each (2.4 sheets per entry on average).
Then, through the test client as a logged-in user, each page is requested 3 times to warm up and
20 times timed: the median and the slowest are reported with the SQL statements one request ran.
SQLite file in a temporary folder, or PostgreSQL when BENCH_DATABASE_URL is set (a throwaway
database: its public schema is dropped).

Prints a table per N, then all figures as one JSON object on the last line.
"""

from __future__ import annotations

import json
import os
import statistics
import sys
import tempfile
import time
from datetime import timedelta
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from sqlalchemy import insert, select, text  # noqa: E402

from app import create_app  # noqa: E402
from app.extensions import db  # noqa: E402
from app.models import Application, AuditEntry, ReviewAssignment  # noqa: E402
from app.models.base import utcnow  # noqa: E402
from app.services.accounts import add_organisation, add_user  # noqa: E402
from app.services.applications import create_application  # noqa: E402
from app.services.calls import open_call  # noqa: E402
from app.services.demo import team_data  # noqa: E402
from tests.statements import recorded  # noqa: E402

PASSWORD = "bench-password-1"
STATES = ["district_review", "returned", "city_review", "city_review", "notice", "named",
          "not_selected", "not_recommended", "district_review", "named"]
SCORES = {"organisation": 18, "resources": 12, "activities": 30, "impact": 25}
PAGES = {  # name → (user, url with {call})
    "city overview": ("city", "/admin/calls/{call}/overview"),
    "district overview": ("d0_admin", "/district/calls/{call}"),
    "year calendar": ("city", "/admin/calendar"),
    "entries list": ("city", "/admin/calls/{call}"),
    "entries search": ("city", "/admin/calls/{call}?q=第3区第4&sort=-submitted"),
    "entries by state": ("city", "/admin/calls/{call}?state=notice&page=2"),
}


def main(sizes: list[int]) -> None:
    """Measure every page at each size and print the figures."""
    figures: dict[str, Any] = {}
    for count in sizes:
        with tempfile.TemporaryDirectory(prefix="pingshen-bench-") as folder:
            app = _app(Path(folder))
            with app.app_context():  # requests push their own context: measure outside it
                call_id = _seed(count)
                engine = db.engine
                figures["database"] = engine.dialect.name
            figures[str(count)] = _measure(app, engine, call_id)
    for count in sizes:
        print(f"\n{count} entries ({figures['database']})")
        print(f"{'page':20}{'median ms':>11}{'max ms':>9}{'statements':>12}")
        for name, row in figures[str(count)].items():
            print(f"{name:20}{row['median_ms']:>11}{row['max_ms']:>9}{row['statements']:>12}")
    print(json.dumps(figures, ensure_ascii=False))


def _app(tmp: Path) -> Any:
    """The app on the benchmark's database."""
    url = os.environ.get("BENCH_DATABASE_URL") or f"sqlite:///{tmp / 'bench.db'}"
    return create_app({"SQLALCHEMY_DATABASE_URI": url, "UPLOAD_FOLDER": str(tmp / "uploads"),
                       "JOB_QUEUE_URL": "immediate", "WTF_CSRF_ENABLED": False,
                       "PASSWORD_HASH_METHOD": "pbkdf2:sha256:1000"})


def _seed(count: int) -> int:
    """One call with ``count`` entries over the states, their log and their sheets."""
    if db.engine.dialect.name == "postgresql":
        db.session.execute(text("DROP SCHEMA public CASCADE; CREATE SCHEMA public"))
        db.session.commit()
    db.create_all()
    add_organisation("X", "X市", "city", None)
    add_organisation("X-OU", "X市开放大学", "unit", "X")
    city = add_user("city", "city_admin", "X", PASSWORD, "市管理员")
    experts = [add_user(f"e{n}", "expert", "X-OU", PASSWORD, f"专家{n}") for n in range(30)]
    applicants = []
    for d in range(10):
        add_organisation(f"D{d}", f"第{d + 1}区", "district", "X")
        add_user(f"d{d}_admin", "district_admin", f"D{d}", PASSWORD)
        for u in range(10):
            add_organisation(f"D{d}-U{u}", f"第{d + 1}区第{u + 1}社区学校", "unit", f"D{d}")
            applicants.append(add_user(f"a{d}{u}", "applicant", f"D{d}-U{u}", PASSWORD))
    now = utcnow()
    call = open_call("excellent_team", "2026年度X市社区教育优秀团队遴选", 2026,
                     now - timedelta(days=60), now + timedelta(days=30),
                     {f"D{d}": 40 for d in range(10)}, city)
    first = create_application(call, applicants[0], team_data("样例团队", "某中心", "张三"))
    db.session.flush()
    districts = {u.id: u.org.district_id for u in applicants}
    rows = []
    for i in range(count):
        user = applicants[i % len(applicants)]
        state = STATES[i % len(STATES)]
        rows.append({
            "call_id": call.id, "applicant_id": user.id, "org_id": user.org_id,
            "district_id": districts[user.id], "programme_version_id": first.programme_version_id,
            "title": f"第{i}号团队", "state": state,
            "data": {**first.data, "team_name": f"第{i}号团队"},
            "submitted_at": now - timedelta(days=40, minutes=i),
            "state_since": now - timedelta(days=i % 9, hours=i % 24)})
    call.closes_at = now - timedelta(days=30)  # set-up: the call closed a month ago
    db.session.execute(insert(Application), rows)
    ids = list(db.session.execute(select(Application.id, Application.state)))
    audit = []
    sheets = []
    for n, (entry_id, state) in enumerate(ids):
        for step, (source, dest) in enumerate(((None, "draft"), ("draft", "district_review"),
                                               ("district_review", state))):
            audit.append({"application_id": entry_id, "trigger": f"step{step}",
                          "from_state": source, "to_state": dest, "definition_version": 1,
                          "at": now - timedelta(days=40 - step * 5, minutes=n)})
        if state in ("city_review", "notice", "named", "not_selected"):
            for k in range(3):
                done = bool((n + k) % 4)
                sheets.append({"application_id": entry_id, "expert_id": experts[(n + k) % 30].id,
                               "round": "city_review", "rubric_key": "excellent_team_rubric",
                               "status": "submitted" if done else "assigned",
                               "scores": SCORES if done else {},
                               "total": sum(SCORES.values()) if done else None,
                               "submitted_at": now if done else None,
                               "conflict_checked_at": now, "assigned_by_id": city.id})
    db.session.execute(insert(AuditEntry), audit)
    db.session.execute(insert(ReviewAssignment), sheets)
    db.session.commit()
    return call.id


def _measure(app: Any, engine: Any, call_id: int) -> dict[str, dict[str, Any]]:
    """Median and slowest of 20 requests per page, and the statements of one."""
    results = {}
    clients: dict[str, Any] = {}
    for name, (username, url) in PAGES.items():
        if username not in clients:
            clients[username] = app.test_client()
            response = clients[username].post("/login", data={"username": username,
                                                              "password": PASSWORD})
            assert response.status_code == 302, response.status_code
        client, path = clients[username], url.format(call=call_id)
        for _ in range(3):
            status = client.get(path).status_code
            assert status == 200, (path, status)
        with recorded(engine) as statements:
            client.get(path)
        counted = len(statements)
        times = []
        for _ in range(20):
            start = time.perf_counter()
            client.get(path)
            times.append((time.perf_counter() - start) * 1000)
        results[name] = {"median_ms": round(statistics.median(times), 1),
                         "max_ms": round(max(times), 1), "statements": counted}
    return results


if __name__ == "__main__":
    main([int(n) for n in sys.argv[1:]] or [1000, 10000])
