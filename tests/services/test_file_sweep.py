"""`flask files sweep`: files no row refers to go (after a grace period); the others stay."""

from __future__ import annotations

import io
import os
import time
from datetime import timedelta
from pathlib import Path

from sqlalchemy import select

from app.extensions import db
from app.models import Attachment, Job
from app.models.base import utcnow
from app.services.attachments import attachment_path
from app.services.certificate_jobs import PRINT, print_file
from app.services.certificates import issue_certificate, pdf_path
from app.services.demo import SAMPLE_PDF
from app.services.dossier_jobs import KIND, dossier_file
from app.services.export_jobs import applications_file
from app.services.file_sweep import sweep_files
from app.services.objections import evidence_folder, submit_objection
from app.services.programmes import programme_of

DAY = 24 * 3600


def _aged(path: Path, seconds: float = 2 * DAY, data: bytes = b"x" * 100) -> Path:
    """Write ``path`` (if missing) and make it ``seconds`` old."""
    path.parent.mkdir(parents=True, exist_ok=True)
    if not path.exists():
        path.write_bytes(data)
    moment = time.time() - seconds
    os.utime(path, (moment, moment))
    return path


def _stored_world(app, world, in_notice) -> dict[str, Path]:
    """One file of every tracked kind, each with its row, all two days old."""
    users = world["users"]
    objection = submit_objection(in_notice, "李明", "13800001111", "材料与事实不符，请核查。",
                                 ("证据.pdf", io.BytesIO(SAMPLE_PDF)), "127.0.0.1")
    in_notice.state = "named"  # set-up only: an awarded entry, so that it has a certificate
    certificate = issue_certificate(in_notice, programme_of(in_notice), utcnow())
    jobs = {kind: Job(kind=kind, call_id=in_notice.call_id, created_by_id=users["city"].id,
                      status="done") for kind in (PRINT, KIND, "applications_export")}
    db.session.add_all(jobs.values())
    db.session.commit()
    return {name: _aged(path) for name, path in {
        "attachment": attachment_path(in_notice.attachments[0]),
        "evidence": evidence_folder() / str(objection.evidence_stored),
        "certificate": pdf_path(certificate),
        "print run": print_file(jobs[PRINT]),
        "dossiers": dossier_file(jobs[KIND]),
        "workbook": applications_file(jobs["applications_export"]),
    }.items()}


def _orphans(app) -> dict[str, Path]:
    """Files nothing refers to, two days old, of every kind the folders hold."""
    uploads, certificates, exports = (Path(app.config[key]) for key in (
        "UPLOAD_FOLDER", "CERTIFICATE_FOLDER", "EXPORT_FOLDER"))
    return {name: _aged(path, data=b"y" * 1000) for name, path in {
        "upload of a failed request": uploads / "ab" / ("ab" + "0" * 30),
        "left-over .part": uploads / "cd" / ("cd" + "1" * 30 + ".part"),
        "evidence of a rolled-back objection": uploads / "objections" / ("e" * 32 + ".pdf"),
        "certificate of no row": certificates / "not-a-code.pdf",
        "half-written certificate": certificates / "abc.1234abcd.tmp",
        "print run of a deleted job": certificates / "print-runs" / "9999.pdf",
        "dossiers of a deleted job": exports / "dossiers" / "9999.zip",
        "left-over zip part": exports / "dossiers" / "9999.zip.123.part",
        "workbook of a deleted job": exports / "applications" / "9999.xlsx",
    }.items()}


def test_orphans_are_swept_and_every_referenced_file_stays(app, world, in_notice):
    kept = _stored_world(app, world, in_notice)
    orphans = _orphans(app)
    young = _aged(Path(app.config["UPLOAD_FOLDER"]) / "ef" / ("ef" + "2" * 30), seconds=60)

    dry = sweep_files(dry_run=True)
    assert sorted(o.path for o in dry.orphans) == sorted(orphans.values())
    assert dry.removed_bytes == 1000 * len(orphans)
    assert all(path.exists() for path in orphans.values())  # a dry run removes nothing

    report = sweep_files()
    assert sorted(o.path for o in report.orphans) == sorted(orphans.values())
    assert report.kept_young == 1 and young.exists()  # an upload in flight is never removed
    assert report.checked == len(kept) + len(orphans) + 1
    assert [name for name, path in orphans.items() if path.exists()] == []
    assert [name for name, path in kept.items() if not path.exists()] == []
    assert sweep_files().orphans == []  # nothing left to sweep

    os.utime(young, (time.time() - 2 * 3600,) * 2)
    assert [o.path for o in sweep_files(timedelta(hours=1)).orphans] == [young]


def test_the_command_reports_and_honours_dry_run_and_grace(app, world, make_application):
    make_application("wj1")
    uploads = Path(app.config["UPLOAD_FOLDER"])
    orphan = _aged(uploads / "ab" / ("ab" + "3" * 30), seconds=3 * 3600, data=b"z" * 2048)
    runner = app.test_cli_runner()

    listed = runner.invoke(args=["files", "sweep", "--dry-run"])
    assert listed.exit_code == 0, listed.output
    assert "would remove 0 orphan files (0 bytes)" in listed.output  # younger than 24 h
    assert orphan.exists()

    listed = runner.invoke(args=["files", "sweep", "--dry-run", "--older-than", "2"])
    assert f"{orphan}  2048" in listed.output
    assert "would remove 1 orphan files (2048 bytes)" in listed.output and orphan.exists()

    swept = runner.invoke(args=["files", "sweep", "--older-than", "2"])
    assert swept.exit_code == 0, swept.output
    assert "removed 1 orphan files (2048 bytes)" in swept.output and not orphan.exists()
    (kept,) = [p for p in uploads.rglob("*") if p.is_file()]  # the entry's own upload
    assert kept == attachment_path(db.session.scalars(select(Attachment)).one())

    refused = runner.invoke(args=["files", "sweep", "--older-than", "0.1"])
    assert refused.exit_code != 0  # a grace period under an hour could catch an upload
