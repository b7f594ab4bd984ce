"""Issue N certificates end to end on the real background worker, and measure the floor.

Usage: .venv/bin/python bench/certificates.py [N] [WORKERS]   (defaults 1000 and 2)

Issue (the figure that counts): one excellent_team call with N named entries (set up directly,
not timed) in a SQLite file in a temporary folder, or PostgreSQL when BENCH_DATABASE_URL is set
(a throwaway database: its public schema is dropped). `flask jobs worker --workers WORKERS` runs
on a SQLite queue file, as `make run` starts it; once it is up, the bulk job is started as the
certificate page does and timed until the job is done: N certificate rows with serials and codes,
N PDFs written. Peak memory is the largest sum of the resident sizes of the worker's processes,
sampled every 20 ms.

Floor: WORKERS processes stamp the same text (holder, unit, wording, award, serial, code, issuer,
date, QR code) with reportlab onto a background PDF pre-rendered once, merge it with pypdf and
write N files — about the fastest a certificate can be made here.

Prints a table, then the figures as one JSON object on the last line; copy both to
bench/RESULTS.md.
"""

from __future__ import annotations

import io
import json
import multiprocessing
import os
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from datetime import timedelta
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from sqlalchemy import insert, select, text  # noqa: E402

from app import create_app  # noqa: E402
from app.certificates.render import FONT_DIR, render_certificate  # noqa: E402
from app.extensions import db  # noqa: E402
from app.jobs import EXTENSION, JobQueue  # noqa: E402
from app.models import Application, Job, User  # noqa: E402
from app.models.base import utcnow  # noqa: E402
from app.services.accounts import add_organisation, add_user  # noqa: E402
from app.services.applications import create_application  # noqa: E402
from app.services.calls import open_call  # noqa: E402
from app.services.certificate_jobs import start_issue_job  # noqa: E402
from app.services.certificates import facts_of  # noqa: E402
from app.services.demo import team_data  # noqa: E402

SURNAMES = "王李张刘陈杨黄赵吴周徐孙马朱胡郭何高林罗"
GIVEN = ["喆", "晓燕", "建国", "秀英", "志强", "丽华", "海涛", "桂芳", "明", "静"]


def main(count: int = 1000, workers: int = 2) -> None:
    """Run both measurements and print them."""
    with tempfile.TemporaryDirectory(prefix="pingshen-bench-") as folder:
        tmp = Path(folder)
        app = _app(tmp)
        with app.app_context():
            _seed(app, count)
            issued = _issue(app, tmp, workers)
        floor = _floor(tmp, count, workers, app)
    figures = {
        "certificates": count, "workers": workers,
        "certs_per_s": round(count / issued["seconds"], 1),
        "floor_certs_per_s": round(count / floor["seconds"], 1),
        "ratio": round(floor["seconds"] / issued["seconds"], 2),
        "peak_rss_mb": issued["peak_rss_mb"], "peak_rss_sum_mb": issued["peak_rss_sum_mb"],
        "median_pdf_kb": issued["median_pdf_kb"],
        "floor_median_pdf_kb": floor["median_pdf_kb"],
        "seconds": round(issued["seconds"], 1), "floor_seconds": round(floor["seconds"], 1),
        "database": issued["database"],
    }
    print(f"{'':22}{'seconds':>9}{'certs/s':>9}{'median PDF':>12}{'peak RSS':>10}")
    print(f"{'issue (rows + PDFs)':22}{figures['seconds']:>9}{figures['certs_per_s']:>9}"
          f"{figures['median_pdf_kb']:>9} KB{figures['peak_rss_mb']:>7} MB")
    print(f"{'floor (stamping)':22}{figures['floor_seconds']:>9}"
          f"{figures['floor_certs_per_s']:>9}{figures['floor_median_pdf_kb']:>9} KB")
    print(f"ratio {figures['ratio']} of the floor's rate ({workers} worker processes, "
          f"{figures['database']})")
    print(json.dumps(figures))


def _app(tmp: Path) -> Any:
    """The app on the benchmark's database, folders and SQLite queue file."""
    url = os.environ.get("BENCH_DATABASE_URL") or f"sqlite:///{tmp / 'bench.db'}"
    app = create_app({"SQLALCHEMY_DATABASE_URI": url,
                      "UPLOAD_FOLDER": str(tmp / "uploads"),
                      "CERTIFICATE_FOLDER": str(tmp / "certificates"),
                      "PUBLIC_BASE_URL": "https://pingshen.example.gov.cn",
                      "JOB_QUEUE_URL": f"sqlite:///{tmp / 'jobs.db'}"})
    app.extensions[EXTENSION] = JobQueue(app)
    return app


def _seed(app: Any, count: int) -> None:
    """One call, ``count`` named entries of units in six districts (not timed)."""
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
    call = open_call("excellent_team", "2026年度X市社区教育优秀团队遴选", 2026,
                     utcnow() - timedelta(days=1), utcnow() + timedelta(days=30), {}, city)
    first = create_application(call, applicants[0], team_data("样例团队", "某中心", "张三"))
    db.session.flush()
    rows = [{"call_id": call.id, "applicant_id": user.id, "org_id": user.org_id,
             "district_id": user.org.parent_id, "programme_version_id":
             first.programme_version_id, "title": f"{_name(i)}教学团队", "state": "named",
             "data": {**first.data, "team_name": f"{_name(i)}教学团队", "leader": _name(i)}}
            for i, user in ((i, applicants[i % len(applicants)]) for i in range(1, count))]
    db.session.execute(insert(Application), rows)
    first.state = "named"  # set-up: the outcome of the call, certificates not issued yet
    db.session.commit()
    app.config["BENCH_CITY_ID"] = city.id


def _name(i: int) -> str:
    """A varied Chinese personal name."""
    return SURNAMES[i % len(SURNAMES)] + GIVEN[(i // len(SURNAMES)) % len(GIVEN)]


def _issue(app: Any, tmp: Path, workers: int) -> dict[str, Any]:
    """Start the worker, then time the bulk job from start to done."""
    env = {**os.environ, "FLASK_APP": "wsgi.py", "PINGSHEN_INSTANCE": str(tmp),
           "DATABASE_URL": app.config["SQLALCHEMY_DATABASE_URI"],
           "JOB_QUEUE_URL": app.config["JOB_QUEUE_URL"],
           "CERTIFICATE_FOLDER": app.config["CERTIFICATE_FOLDER"],
           "UPLOAD_FOLDER": app.config["UPLOAD_FOLDER"], "SECRET_KEY": "bench"}
    log = (tmp / "worker.log").open("wb")
    worker = subprocess.Popen([sys.executable, "-m", "flask", "jobs", "worker", "--workers",
                               str(workers)], cwd=ROOT, env=env, stdout=log,
                              stderr=subprocess.STDOUT, start_new_session=True)
    try:
        _wait_until_up(worker, tmp / "worker.log", workers)
        peak = _RssSampler(worker.pid)
        peak.start()
        started = time.perf_counter()
        city = db.session.get(User, app.config["BENCH_CITY_ID"])
        job_id = start_issue_job(db.session.scalar(select(Application).limit(1)).call,
                                 city).id
        db.session.commit()
        while True:
            db.session.rollback()
            job = db.session.get(Job, job_id)
            assert job is not None
            if job.status in ("done", "failed"):
                break
            time.sleep(0.05)
        seconds = time.perf_counter() - started
        peak.stop()
        if job.status != "done" or job.done != job.total:
            raise SystemExit(f"job ended {job.status} {job.done}/{job.total}: {job.error}")
    finally:
        os.killpg(worker.pid, signal.SIGINT)
        worker.wait(30)
        log.close()
    sizes = [p.stat().st_size for p in Path(app.config["CERTIFICATE_FOLDER"]).glob("*.pdf")]
    assert len(sizes) == job.total, (len(sizes), job.total)
    return {"seconds": seconds, "peak_rss_mb": round(peak.peak / 2**20),
            "peak_rss_sum_mb": round(peak.peak_rss / 2**20),
            "median_pdf_kb": round(statistics.median(sizes) / 1024, 1),
            "database": db.engine.dialect.name}


def _wait_until_up(worker: subprocess.Popen[bytes], log: Path, workers: int) -> None:
    """Wait until the worker has forked its processes and they have warmed up."""
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if worker.poll() is not None:
            raise SystemExit(f"worker exited: {log.read_text(errors='replace')}")
        if len(_tree(worker.pid)) > workers and "ready" in log.read_text(errors="replace"):
            return
        time.sleep(0.1)
    raise SystemExit(f"worker did not start: {log.read_text(errors='replace')}")


def _tree(pid: int) -> list[int]:
    """``pid`` and its descendants."""
    children: dict[int, list[int]] = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                parent = int((entry / "stat").read_text().rsplit(")", 1)[1].split()[1])
            except (OSError, IndexError, ValueError):
                continue
            children.setdefault(parent, []).append(int(entry.name))
    found, todo = [], [pid]
    while todo:
        current = todo.pop()
        found.append(current)
        todo += children.get(current, [])
    return found


class _RssSampler(threading.Thread):
    """Track the peak memory of a process tree: the summed PSS (proportional set size: a page
    shared by the forked workers with their parent counts once, split between them) and, for
    comparison, the summed RSS (which counts each shared page once per process)."""

    def __init__(self, pid: int) -> None:
        super().__init__(daemon=True)
        self.pid, self.peak, self.peak_rss, self._stop_event = pid, 0, 0, threading.Event()

    def run(self) -> None:
        """Sample every 20 ms until stopped (the process list is refreshed every second)."""
        pids, listed = _tree(self.pid), time.monotonic()
        while not self._stop_event.is_set():
            if time.monotonic() - listed > 1:
                pids, listed = _tree(self.pid), time.monotonic()
            pss = rss = 0
            for pid in pids:
                try:
                    rollup = Path(f"/proc/{pid}/smaps_rollup").read_text()
                except OSError:
                    continue
                for line in rollup.splitlines():
                    if line.startswith("Pss:"):
                        pss += int(line.split()[1]) * 1024
                    elif line.startswith("Rss:"):
                        rss += int(line.split()[1]) * 1024
            self.peak, self.peak_rss = max(self.peak, pss), max(self.peak_rss, rss)
            self._stop_event.wait(0.02)

    def stop(self) -> None:
        """Stop sampling."""
        self._stop_event.set()
        self.join()


# ---- The floor: reportlab + pypdf stamping onto a pre-rendered background -------------------

_FLOOR: dict[str, Any] = {}


def _floor(tmp: Path, count: int, workers: int, app: Any) -> dict[str, Any]:
    """Stamp ``count`` certificates with ``workers`` processes; return time and sizes."""
    with app.app_context():
        sample = db.session.scalars(select(Application).limit(1)).one()
        from app.models import Certificate

        certificate = db.session.scalars(select(Certificate).where(
            Certificate.application_id == sample.id)).one()
        facts = facts_of(certificate, "https://pingshen.example.gov.cn/verify/x")
    blank = facts.__class__(**{**facts.__dict__, "holder": " ", "organisation": "",
                               "text": (" ",), "award": " ", "serial": " ", "code": " "})
    background = render_certificate(blank)  # the frame, title, seals: everything fixed
    out = tmp / "floor"
    out.mkdir()
    jobs = [(i, str(out / f"{i}.pdf")) for i in range(count)]
    context = multiprocessing.get_context("fork")
    _FLOOR.update(background=background, facts=facts)
    with context.Pool(workers, initializer=_floor_init) as pool:
        pool.map(_floor_noop, range(workers))  # processes up, fonts registered
        started = time.perf_counter()
        pool.map(_stamp, jobs, chunksize=10)
        seconds = time.perf_counter() - started
    sizes = [p.stat().st_size for p in out.glob("*.pdf")]
    assert len(sizes) == count
    return {"seconds": seconds, "median_pdf_kb": round(statistics.median(sizes) / 1024, 1)}


def _floor_init() -> None:
    """Register the same bundled font with reportlab, once per process."""
    from reportlab.pdfbase import pdfmetrics
    from reportlab.pdfbase.ttfonts import TTFont

    pdfmetrics.registerFont(TTFont("NotoSerifSC", str(FONT_DIR / "NotoSerifSC-Regular.ttf")))


def _floor_noop(_: int) -> None:
    """Wait for a pool process to start."""


def _stamp(item: tuple[int, str]) -> None:
    """Draw the variable text and QR code of one certificate onto the background, write it."""
    from pypdf import PdfReader, PdfWriter
    from reportlab.graphics import renderPDF
    from reportlab.graphics.barcode.qr import QrCodeWidget
    from reportlab.graphics.shapes import Drawing
    from reportlab.lib.pagesizes import A4, landscape
    from reportlab.lib.units import mm
    from reportlab.pdfgen import canvas

    i, path = item
    facts = _FLOOR["facts"]
    overlay = io.BytesIO()
    page = canvas.Canvas(overlay, pagesize=landscape(A4))
    page.setFont("NotoSerifSC", 22)
    page.drawString(45 * mm, 125 * mm, _name(i) + "教学团队：")
    page.setFont("NotoSerifSC", 14)
    page.drawString(50 * mm, 112 * mm, f"（{facts.organisation}）")
    for n, line in enumerate(facts.text):
        page.drawString(55 * mm, (100 - 10 * n) * mm, line)
    page.drawString(35 * mm, 30 * mm, f"证书编号：{facts.serial[:-4]}{i:04d}")
    page.drawString(35 * mm, 24 * mm, f"验证码：{facts.code[:10]}")
    page.drawString(190 * mm, 30 * mm, "二〇二六年六月八日")
    widget = QrCodeWidget(facts.verify_url + str(i))
    x0, y0, x1, y1 = widget.getBounds()
    drawing = Drawing(28 * mm, 28 * mm, transform=[28 * mm / (x1 - x0), 0, 0,
                                                   28 * mm / (y1 - y0), 0, 0])
    drawing.add(widget)
    renderPDF.draw(drawing, page, 35 * mm, 38 * mm)
    page.showPage()
    page.save()
    writer = PdfWriter(clone_from=PdfReader(io.BytesIO(_FLOOR["background"])))
    writer.pages[0].merge_page(PdfReader(io.BytesIO(overlay.getvalue())).pages[0])
    with open(path, "wb") as target:
        writer.write(target)


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else 1000,
         int(sys.argv[2]) if len(sys.argv) > 2 else 2)
