"""Time the review pipeline of a bureau-sized call: ranking, round status, closing, exports, pages.

Usage: .venv/bin/python bench/review_rounds.py [RUNS]   (default 3)
Case (fixed seed): one excellent_team call, 6 districts of 50 units, 300 entries each submitted
and recommended through the engine, 20 experts, 5 submitted sheets per entry (1,500) in the single
round `city_review`. SQLite file in a temporary folder, or PostgreSQL when BENCH_DATABASE_URL is
set (a throwaway database: its public schema is dropped). Each repeatable step runs once to warm
up, then RUNS times in a fresh app context (a new session, as a request has); the median is shown.
Peak memory is one more run under tracemalloc (Python allocations only, not SQLite's own).
Prints a table, then a last line of JSON; copy them to bench/RESULTS.md.
"""

from __future__ import annotations

import io
import json
import os
import random
import statistics
import sys
import tempfile
import time
import tracemalloc
from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from flask import Flask  # noqa: E402
from flask.testing import FlaskClient  # noqa: E402
from sqlalchemy import select, text  # noqa: E402

from app import create_app  # noqa: E402
from app.engine.runtime import fire  # noqa: E402
from app.extensions import db  # noqa: E402
from app.models import Call, ReviewAssignment, ReviewResult, User  # noqa: E402
from app.models.base import utcnow  # noqa: E402
from app.services.accounts import add_organisation, add_user  # noqa: E402
from app.services.applications import create_application  # noqa: E402
from app.services.attachments import store_attachment  # noqa: E402
from app.services.calls import open_call  # noqa: E402
from app.services.demo import SAMPLE_PDF, team_data  # noqa: E402
from app.services.exports import ranking_xlsx, review_sheets_xlsx  # noqa: E402
from app.services.ranking import rank_call  # noqa: E402
from app.services.rounds import close_round, round_status, verify_result  # noqa: E402
from tests.conftest import PASSWORD, login  # noqa: E402

SEED = 42
ROUND = "city_review"
RUBRIC = "excellent_team_rubric"
CRITERIA = {"organisation": 20, "resources": 15, "activities": 35, "impact": 30}
DISTRICTS, UNITS_PER_DISTRICT, EXPERTS, PER_ENTRY = 6, 50, 20, 5


@dataclass(frozen=True)
class Measure:
    """One step: median and first wall time, peak traced memory, and an output size if any."""

    name: str
    median_ms: float
    first_ms: float
    peak_mb: float
    size_kb: float | None = None


def make_app(folder: Path) -> Flask:
    """An app on the benchmark database, with tables created from the models (as in tests)."""
    url = os.environ.get("BENCH_DATABASE_URL") or f"sqlite:///{folder / 'bench.db'}"
    app = create_app({
        "TESTING": True, "SQLALCHEMY_DATABASE_URI": url, "SECRET_KEY": "bench-secret",
        "UPLOAD_FOLDER": str(folder / "uploads"),
        "CERTIFICATE_FOLDER": str(folder / "certificates"),
        "PUBLIC_BASE_URL": "http://pingshen.test",
        "PASSWORD_HASH_METHOD": "pbkdf2:sha256:1000",  # 327 users: a cheap hash keeps set-up fast
    })
    with app.app_context():
        if db.engine.dialect.name == "postgresql":
            db.session.execute(text("DROP SCHEMA public CASCADE; CREATE SCHEMA public"))
            db.session.commit()
        db.create_all()
    return app


def seed_people() -> tuple[User, list[User], list[tuple[User, User]]]:
    """The city admin, the experts, and (applicant, district admin) for every unit."""
    add_organisation("X", "X市", "city", None)
    add_organisation("X-OU", "X市开放大学", "unit", "X")
    city = add_user("city", "city_admin", "X", PASSWORD, "市管理员")
    experts = [add_user(f"expert{n:02d}", "expert", "X-OU", PASSWORD, f"专家{n:02d}")
               for n in range(1, EXPERTS + 1)]
    applicants = []
    for d in range(1, DISTRICTS + 1):
        add_organisation(f"D{d}", f"第{d}区", "district", "X")
        add_organisation(f"D{d}-S", f"第{d}区某街道", "street", f"D{d}")
        admin = add_user(f"d{d}_admin", "district_admin", f"D{d}", PASSWORD)
        for u in range(1, UNITS_PER_DISTRICT + 1):
            add_organisation(f"D{d}-U{u}", f"第{d}区社区学校{u}", "unit", f"D{d}-S")
            applicants.append((add_user(f"d{d}u{u}", "applicant", f"D{d}-U{u}", PASSWORD),
                               admin))
    return city, experts, applicants


def seed_entries(call: Call, applicants: list[tuple[User, User]]) -> list[int]:
    """Each unit's entry, submitted and recommended through the engine; returns their ids."""
    ids = []
    for n, (applicant, admin) in enumerate(applicants):
        entry = create_application(call, applicant, team_data(f"学习团队{n + 1:03d}",
                                                              applicant.org.name, "张三"))
        store_attachment(entry, "charter", "章程.pdf", io.BytesIO(SAMPLE_PDF), applicant)
        fire(entry, "submit", applicant)
        fire(entry, "recommend", admin,
             data={"rank": n % UNITS_PER_DISTRICT + 1, "opinion": "推荐"})
        ids.append(entry.id)
    return ids


def sheet_scores(rnd: random.Random, quality: int, bias: int) -> dict[str, str]:
    """Points per criterion in half points: the entry's quality (%), the expert's bias, noise."""
    scores = {}
    for key, top in CRITERIA.items():
        halves = top * 2 * quality // 100 + bias + rnd.randint(-3, 3)
        scores[key] = str(Decimal(min(top * 2, max(0, halves))) / 2)
    return scores


def seed_sheets(entries: list[int], experts: list[User], city: User) -> None:
    """Five submitted sheets per entry from experts drawn with a fixed seed; a few vetoes."""
    rnd = random.Random(SEED)
    bias = {e.id: rnd.randint(-2, 2) for e in experts}
    now = utcnow()
    for n, entry in enumerate(entries):
        quality = rnd.randint(55, 95)
        for k, expert in enumerate(rnd.sample(experts, PER_ENTRY)):
            scores = sheet_scores(rnd, quality, bias[expert.id])
            db.session.add(ReviewAssignment(
                application_id=entry, expert_id=expert.id, round=ROUND, rubric_key=RUBRIC,
                status="submitted", scores=scores,
                total=sum((Decimal(v) for v in scores.values()), Decimal(0)),
                vetoes=["falsified"] if n % 97 == 0 and k == 0 else [],
                comment="材料详实，活动扎实，建议入选。", assigned_by_id=city.id,
                assigned_at=now - timedelta(days=10), conflict_checked_at=now - timedelta(days=9),
                submitted_at=now - timedelta(days=8, minutes=-n - k)))


def build(app: Flask) -> tuple[int, int, float]:
    """Seed the case; return the call's id, the city admin's id and the seeding time in s."""
    start = time.perf_counter()
    with app.app_context():
        city, experts, applicants = seed_people()
        now = utcnow()
        call = open_call("excellent_team", "2026年度X市社区教育优秀团队遴选", 2026,
                         now - timedelta(days=30), now + timedelta(days=30),
                         {f"D{d}": UNITS_PER_DISTRICT for d in range(1, DISTRICTS + 1)}, city)
        seed_sheets(seed_entries(call, applicants), experts, city)
        db.session.commit()
        ids = call.id, city.id
    return *ids, time.perf_counter() - start


def measure(app: Flask, name: str, step: Callable[[], Any], runs: int) -> Measure:
    """Warm up, time `runs` runs, then one traced run; each run in its own app context."""
    times, out = [], None
    for _ in range(runs + 1):
        with app.app_context():
            start = time.perf_counter()
            out = step()
            times.append((time.perf_counter() - start) * 1000)
    with app.app_context():
        tracemalloc.start()
        step()
        peak = tracemalloc.get_traced_memory()[1]
        tracemalloc.stop()
    size = len(out) / 1024 if isinstance(out, bytes) else None
    return Measure(name, statistics.median(times[1:]), times[0], peak / 2**20, size)


def measure_close(app: Flask, call_id: int, city_id: int, runs: int) -> list[Measure]:
    """Close the round `runs` times rolled back, once traced and rolled back, then for good."""
    def close(keep: bool) -> float:
        """Close the round in a fresh session; commit it or roll it back; return the ms."""
        with app.app_context():
            call, city = db.session.get_one(Call, call_id), db.session.get_one(User, city_id)
            start = time.perf_counter()
            close_round(call, ROUND, city)
            if keep:
                db.session.commit()
            else:
                db.session.rollback()
            return (time.perf_counter() - start) * 1000

    times = [close(keep=False) for _ in range(runs)]
    tracemalloc.start()
    close(keep=False)
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    peak_mb, kept = peak / 2**20, close(keep=True)
    return [Measure("close_round (flush, rolled back)", statistics.median(times), times[0],
                    peak_mb),
            Measure("close_round + commit (kept, once)", kept, kept, peak_mb)]


def page(client: FlaskClient, url: str) -> Callable[[], bytes]:
    """A step that loads a page as the logged-in city admin and checks it rendered."""
    def load() -> bytes:
        """GET the page; a redirect or an error would make the numbers meaningless."""
        response = client.get(url)
        assert response.status_code == 200, (url, response.status_code)
        return response.get_data()
    return load


def on_call(call_id: int, action: Callable[[Call], Any]) -> Callable[[], Any]:
    """A step that loads the call in the current session and applies `action` to it."""
    return lambda: action(db.session.get_one(Call, call_id))


def run(app: Flask, call_id: int, city_id: int, runs: int) -> list[Measure]:
    """Every step of the brief, in the order a bureau meets them."""
    client = app.test_client()
    login(client, "city")  # outside an app context: each request gets its own, as in production
    round_url, ranking_url = (f"/admin/calls/{call_id}/rounds/{ROUND}",
                              f"/admin/calls/{call_id}/ranking")
    steps: list[tuple[str, Callable[[], Any]]] = [
        ("rank_call (round open, live)", on_call(call_id, rank_call)),
        ("round_status", on_call(call_id, lambda c: round_status(c, ROUND))),
        ("GET round page (open)", page(client, round_url)),
        ("GET ranking page (open)", page(client, ranking_url)),
    ]
    done = [measure(app, name, step, runs) for name, step in steps]
    done += measure_close(app, call_id, city_id, runs)
    with app.app_context():
        result_id = db.session.scalar(select(ReviewResult.id).filter_by(call_id=call_id,
                                                                         round=ROUND))
    steps = [
        ("rank_call (round closed, stored)", on_call(call_id, rank_call)),
        ("verify_result", lambda: _verified(result_id)),
        ("review_sheets_xlsx", on_call(call_id, review_sheets_xlsx)),
        ("ranking_xlsx", on_call(call_id, ranking_xlsx)),
        ("GET round page (closed)", page(client, round_url)),
        ("GET ranking page (closed)", page(client, ranking_url)),
    ]
    return done + [measure(app, name, step, runs) for name, step in steps]


def _verified(result_id: int | None) -> None:
    """Verify the stored result and insist it matches."""
    assert verify_result(db.session.get_one(ReviewResult, result_id)).ok


def report(measures: list[Measure], seed_s: float, runs: int, dialect: str) -> None:
    """Print the table and a JSON line."""
    print(f"review rounds on {dialect}: {DISTRICTS * UNITS_PER_DISTRICT} entries x {PER_ENTRY} "
          f"sheets, {EXPERTS} experts; seeded in {seed_s:.1f} s; median of {runs} after a warm-up")
    print(f"{'step':42} {'median ms':>10} {'first ms':>9} {'peak MB':>8} {'size KB':>8}")
    for m in measures:
        size = f"{m.size_kb:8.1f}" if m.size_kb is not None else f"{'':8}"
        print(f"{m.name:42} {m.median_ms:10.1f} {m.first_ms:9.1f} {m.peak_mb:8.1f} {size}")
    print(json.dumps({"dialect": dialect, "seed_s": round(seed_s, 1), "steps": [
        {"step": m.name, "median_ms": round(m.median_ms, 1), "first_ms": round(m.first_ms, 1),
         "peak_mb": round(m.peak_mb, 1),
         **({"size_kb": round(m.size_kb, 1)} if m.size_kb is not None else {})}
        for m in measures]}, ensure_ascii=False))


def main(runs: int = 3) -> None:
    """Seed the case in a temporary folder, run every step and print the numbers."""
    with tempfile.TemporaryDirectory(prefix="pingshen-bench-") as folder:
        app = make_app(Path(folder))
        call_id, city_id, seed_s = build(app)
        measures = run(app, call_id, city_id, runs)
        with app.app_context():
            dialect = db.engine.dialect.name
            db.engine.dispose()
    report(measures, seed_s, runs, dialect)


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else 3)
