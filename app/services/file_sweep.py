"""Sweeping orphan files: stored files that no row refers to any more.

Uploads are written to a ``.part`` file, synced and renamed before their row commits; a request
that fails after the rename (or a worker killed mid-file) leaves a file behind that nothing
refers to. The sweep removes such files, and leftover ``.part`` / ``.tmp`` files, from the
folders whose files are tracked by rows:

- ``UPLOAD_FOLDER``: attachments (``<2 hex>/<stored name>``) and objection evidence
  (``objections/<stored name>``) — every file in the folder;
- ``CERTIFICATE_FOLDER``: certificate PDFs (``<code>.pdf``) and print runs
  (``print-runs/<job id>.pdf``);
- ``EXPORT_FOLDER``: the dossier ZIPs and application workbooks of export jobs
  (``dossiers/<job id>.zip``, ``applications/<job id>.xlsx``).

Only files older than a grace period are removed, so a file whose row is about to commit (an
upload in flight, a PDF being drawn) is never touched. The folder is listed before the rows are
read: a file that is listed has its row committed by the time the rows are read, or is young.
"""

from __future__ import annotations

import os
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path
from stat import S_ISREG

from flask import current_app
from sqlalchemy import select

from app.extensions import db
from app.models import Attachment, Certificate, Job, Objection
from app.services.certificate_jobs import PRINT
from app.services.dossier_jobs import APPLICATIONS, KIND

GRACE = timedelta(hours=24)
# Folders (by config key), the subfolders swept in each ("" = the folder itself), and whether
# their subfolders are swept too.
SWEPT = {"UPLOAD_FOLDER": (("", True),),
         "CERTIFICATE_FOLDER": (("", False), ("print-runs", True)),
         "EXPORT_FOLDER": (("dossiers", True), ("applications", True))}


@dataclass
class Orphan:
    """A file no row refers to."""

    path: Path
    size: int


@dataclass
class SweepReport:
    """What a sweep found (and, unless a dry run, removed)."""

    dry_run: bool
    orphans: list[Orphan] = field(default_factory=list)
    kept_young: int = 0  # unreferenced, but within the grace period
    checked: int = 0  # files looked at

    @property
    def removed_bytes(self) -> int:
        """The size of the orphans (removed, or to be removed in a dry run)."""
        return sum(orphan.size for orphan in self.orphans)


def sweep_files(older_than: timedelta = GRACE, *, dry_run: bool = False) -> SweepReport:
    """Remove (or with ``dry_run`` only list) the files no row refers to, older than
    ``older_than``."""
    report = SweepReport(dry_run)
    limit = time.time() - older_than.total_seconds()
    listed = [(key, path, stat) for key, root, recursive in _roots()
              for path, stat in _files(root, recursive)]
    referenced = _referenced()
    for key, path, stat in listed:
        report.checked += 1
        relative = path.relative_to(Path(current_app.config[key])).as_posix()
        if relative in referenced[key]:
            continue
        if stat.st_mtime > limit:
            report.kept_young += 1
            continue
        report.orphans.append(Orphan(path, stat.st_size))
        if not dry_run:
            path.unlink(missing_ok=True)
    return report


def _roots() -> Iterator[tuple[str, Path, bool]]:
    """The swept folders: the config key of the folder each is in, its path, and whether
    its subfolders are swept too."""
    for key, subfolders in SWEPT.items():
        for subfolder, recursive in subfolders:
            yield key, Path(current_app.config[key]) / subfolder, recursive


def _files(root: Path, recursive: bool) -> Iterator[tuple[Path, os.stat_result]]:
    """The regular files in ``root`` (and its subfolders when ``recursive``), with their
    status; symbolic links are never followed nor removed."""
    if not root.is_dir():
        return
    for path in root.rglob("*") if recursive else root.iterdir():
        try:
            stat = path.lstat()
        except FileNotFoundError:  # removed meanwhile (a rename into place, a delete)
            continue
        if S_ISREG(stat.st_mode):
            yield path, stat


def _referenced() -> dict[str, set[str]]:
    """Every stored file the rows refer to, as a path relative to its folder."""
    uploads = {f"{name[:2]}/{name}" for name in db.session.scalars(
        select(Attachment.stored_name))}
    uploads |= {f"objections/{name}" for name in db.session.scalars(
        select(Objection.evidence_stored).where(Objection.evidence_stored.is_not(None)))}
    certificates = {f"{code}.pdf" for code in db.session.scalars(select(Certificate.code))}
    jobs = db.session.execute(select(Job.id, Job.kind).where(
        Job.kind.in_((PRINT, KIND, APPLICATIONS)))).all()
    certificates |= {f"print-runs/{id_}.pdf" for id_, kind in jobs if kind == PRINT}
    exports = {f"dossiers/{id_}.zip" for id_, kind in jobs if kind == KIND}
    exports |= {f"applications/{id_}.xlsx" for id_, kind in jobs if kind == APPLICATIONS}
    return {"UPLOAD_FOLDER": uploads, "CERTIFICATE_FOLDER": certificates,
            "EXPORT_FOLDER": exports}
