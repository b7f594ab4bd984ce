"""Time and memory of the call's dossier ZIP and of the applications workbook.

Usage: .venv/bin/python bench/dossiers.py [ENTRIES_ZIP] [ENTRIES_XLSX]   (defaults 300, 10000)

Dossiers: one excellent_team call with ENTRIES_ZIP submitted entries in six districts, each with
the full demo form (a two-row table, long texts) and two PDF attachments (the small sample and a
~200 KB file), set up directly (not timed) in a SQLite file in a temporary folder, or PostgreSQL
when BENCH_DATABASE_URL is set (a throwaway database: its public schema is dropped). The job
that the exports page starts is then run in this process, as a worker runs it, and timed: a
申报书 PDF per entry (the city's copy), the attachments, the index.

Workbook: ENTRIES_XLSX more entries in a second call, exported with every field as the city
downloads it (the request's work, without HTTP).

Peak memory is the process's resident size sampled every 20 ms during each step, with the
baseline before it; the workbook is exported a second time under tracemalloc for the peak of
the Python heap alone, which should not grow with the call (compare ENTRIES_XLSX 1000 and
10000).
Prints a table, then the figures as one JSON object on the last line.
"""

from __future__ import annotations

import io
import json
import os
import secrets
import sys
import tempfile
import threading
import time
import tracemalloc
import zipfile
from datetime import timedelta
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from flask import current_app  # noqa: E402
from sqlalchemy import insert, select, text  # noqa: E402

from app import create_app  # noqa: E402
from app.extensions import db  # noqa: E402
from app.models import Application, Attachment, Call, Job, User  # noqa: E402
from app.models.base import utcnow  # noqa: E402
from app.services.accounts import add_organisation, add_user  # noqa: E402
from app.services.application_export import applications_xlsx  # noqa: E402
from app.services.applications import create_application, visible_applications  # noqa: E402
from app.services.calls import open_call  # noqa: E402
from app.services.demo import SAMPLE_PDF, team_data  # noqa: E402
from app.services.dossier_jobs import KIND, dossier_file, run_dossier_job  # noqa: E402

BIG_PDF = SAMPLE_PDF + b"%" + b"0" * 200_000 + b"\n"  # still opens; ~200 KB


def main(zip_entries: int = 300, xlsx_entries: int = 10_000) -> None:
    """Seed, run both measurements, print them."""
    with tempfile.TemporaryDirectory(prefix="pingshen-bench-") as folder:
        tmp = Path(folder)
        app = create_app({
            "SQLALCHEMY_DATABASE_URI": os.environ.get("BENCH_DATABASE_URL")
            or f"sqlite:///{tmp / 'bench.db'}",
            "UPLOAD_FOLDER": str(tmp / "uploads"), "EXPORT_FOLDER": str(tmp / "exports"),
            "CERTIFICATE_FOLDER": str(tmp / "certificates"), "JOB_QUEUE_URL": "immediate"})
        with app.app_context():
            city, small, large = _seed(zip_entries, xlsx_entries)
            workbook = _workbook(large, city)  # first: the ZIP's peak would hide its own
            dossiers = _dossiers(small, city)
    figures = {"zip_entries": zip_entries, **dossiers, "xlsx_entries": xlsx_entries, **workbook,
               "database": app.config["SQLALCHEMY_DATABASE_URI"].split(":", 1)[0]}
    print(f"{'':28}{'seconds':>9}{'per entry':>11}{'peak RSS':>10}{'growth':>9}{'size':>10}")
    print(f"{f'dossier ZIP ({zip_entries})':28}{dossiers['zip_seconds']:>9}"
          f"{dossiers['zip_ms_per_entry']:>8} ms{dossiers['zip_peak_rss_mb']:>7} MB"
          f"{dossiers['zip_rss_growth_mb']:>6} MB{dossiers['zip_mb']:>7} MB")
    print(f"{f'applications xlsx ({xlsx_entries})':28}{workbook['xlsx_seconds']:>9}"
          f"{workbook['xlsx_ms_per_entry']:>8} ms{workbook['xlsx_peak_rss_mb']:>7} MB"
          f"{workbook['xlsx_rss_growth_mb']:>6} MB{workbook['xlsx_mb']:>7} MB"
          f"  (Python heap peak {workbook['xlsx_heap_peak_mb']} MB)")
    print(json.dumps(figures))


def _seed(zip_entries: int, xlsx_entries: int) -> tuple[User, Call, Call]:
    """Two calls of submitted entries; the first with two attachments per entry."""
    if db.engine.dialect.name == "postgresql":
        db.session.execute(text("DROP SCHEMA public CASCADE; CREATE SCHEMA public"))
        db.session.commit()
    db.create_all()
    add_organisation("X", "X市", "city", None)
    city = add_user("city", "city_admin", "X", "bench-password-1", "市管理员")
    applicants = []
    for d in range(6):
        add_organisation(f"D{d}", f"第{d + 1}区", "district", "X")
        for u in range(10):
            add_organisation(f"D{d}-U{u}", f"第{d + 1}区第{u + 1}社区学校", "unit", f"D{d}")
            applicants.append(add_user(f"a{d}{u}", "applicant", f"D{d}-U{u}",
                                       "bench-password-1"))
    calls = [open_call("excellent_team", title, 2026, utcnow() - timedelta(days=1),
                       utcnow() + timedelta(days=30), {}, city)
             for title in ("2026年度优秀团队遴选（申报书）", "2026年度优秀团队遴选（全省）")]
    first = create_application(calls[0], applicants[0], team_data("样例团队", "某中心", "张三"))
    db.session.flush()
    for call, count in zip(calls, (zip_entries, xlsx_entries), strict=True):
        rows = [{"call_id": call.id, "applicant_id": user.id, "org_id": user.org_id,
                 "district_id": user.org.parent_id, "state": "district_review",
                 "programme_version_id": first.programme_version_id,
                 "title": f"第{i}号学习团队", "submitted_at": utcnow(),
                 "data": {**first.data, "team_name": f"第{i}号学习团队"}}
                for i, user in ((i, applicants[i % len(applicants)]) for i in range(count))]
        db.session.execute(insert(Application), rows)
    db.session.flush()  # ``first`` stays a draft: no export lists it
    _attachments(calls[0], city)
    db.session.commit()
    return city, calls[0], calls[1]


def _attachments(call: Call, city: User) -> None:
    """Two stored PDFs per entry of ``call`` (written as the upload service writes them)."""
    folder = Path(current_app.config["UPLOAD_FOLDER"])
    rows = []
    for entry_id in db.session.scalars(select(Application.id).where(
            Application.call_id == call.id, Application.submitted_at.is_not(None))):
        for key, name, body in (("charter", "团队章程.pdf", SAMPLE_PDF),
                                ("application_scan", "盖章申报表.pdf", BIG_PDF)):
            stored = secrets.token_hex(16)
            (folder / stored[:2]).mkdir(parents=True, exist_ok=True)
            (folder / stored[:2] / stored).write_bytes(body)
            rows.append({"application_id": entry_id, "field_key": key, "original_name": name,
                         "stored_name": stored, "content_type": "application/pdf",
                         "size": len(body), "sha256": "0" * 64, "uploaded_by_id": city.id})
    db.session.execute(insert(Attachment), rows)


def _dossiers(call: Call, city: User) -> dict[str, Any]:
    """Run the dossier job of ``call`` in this process and time it."""
    record = Job(kind=KIND, call_id=call.id, created_by_id=city.id,
                 options={"district_id": None})  # as start_dossier_job queues it
    db.session.add(record)
    db.session.commit()
    job_id = record.id
    with _Peak() as peak:
        started = time.perf_counter()
        run_dossier_job(job_id)
        seconds = time.perf_counter() - started
    record = db.session.get(Job, job_id)
    assert record is not None and record.status == "done", (record and record.error)
    path = dossier_file(record)
    names = zipfile.ZipFile(path).namelist()
    assert len(names) == 3 * record.total + 1, len(names)
    return {"zip_seconds": round(seconds, 1),
            "zip_ms_per_entry": round(seconds * 1000 / record.total),
            "zip_peak_rss_mb": peak.peak_mb, "zip_rss_growth_mb": peak.growth_mb,
            "zip_mb": round(path.stat().st_size / 2**20, 1)}


def _workbook(call: Call, city: User) -> dict[str, Any]:
    """Export ``call``'s entries with every field, as the city downloads them."""
    query = (visible_applications(city).where(Application.call_id == call.id).order_by(None)
             .order_by(Application.district_id, Application.submitted_at, Application.id))
    with _Peak() as peak:
        started = time.perf_counter()
        data = applications_xlsx(call, city, query)
        seconds = time.perf_counter() - started
    count = len(list(_rows(data)))
    tracemalloc.start()  # again, for the Python heap alone (the seeding's pages stay resident)
    applications_xlsx(call, city, query)
    heap = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    return {"xlsx_seconds": round(seconds, 1), "xlsx_heap_peak_mb": round(heap / 2**20, 1),
            "xlsx_ms_per_entry": round(seconds * 1000 / max(count, 1), 2),
            "xlsx_peak_rss_mb": peak.peak_mb, "xlsx_rss_growth_mb": peak.growth_mb,
            "xlsx_mb": round(len(data) / 2**20, 1)}


def _rows(data: bytes) -> Any:
    """The data rows of the main sheet (read back to check the count)."""
    from openpyxl import load_workbook

    workbook = load_workbook(io.BytesIO(data), read_only=True)
    return list(workbook["申报信息"].iter_rows(min_row=2, values_only=True))


class _Peak:
    """The process's peak resident size while the block runs, sampled every 20 ms."""

    def __enter__(self) -> _Peak:
        self.base = self.peak = _rss()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._sample, daemon=True)
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()

    def _sample(self) -> None:
        """Keep the largest resident size seen."""
        while not self._stop.is_set():
            self.peak = max(self.peak, _rss())
            self._stop.wait(0.02)

    @property
    def peak_mb(self) -> int:
        """The peak in MB."""
        return round(self.peak / 2**20)

    @property
    def growth_mb(self) -> int:
        """How far above the baseline the peak went, in MB."""
        return round((self.peak - self.base) / 2**20)


def _rss() -> int:
    """This process's resident size in bytes."""
    return int(Path("/proc/self/statm").read_text().split()[1]) * os.sysconf("SC_PAGE_SIZE")


if __name__ == "__main__":
    main(*(int(arg) for arg in sys.argv[1:3]))
