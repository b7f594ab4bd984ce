"""Backups of everything Pingshen keeps — the database and the files — and restoring one.

A backup is one .tar file: the database (SQLite: an online copy through SQLite's backup API,
consistent while the app runs; PostgreSQL: ``pg_dump --format=custom``), the folders of uploads
and issued certificates, and ``manifest.json`` with the schema revision and the number of rows
of every table, so that a restore can prove it brought back what was saved.

Restoring replaces the database and those folders with the backup's (PostgreSQL through
``pg_restore --clean``), then counts the rows again. Stop the web and worker processes first.
"""

from __future__ import annotations

import io
import json
import os
import shutil
import sqlite3
import subprocess
import tarfile
import tempfile
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from flask import current_app
from sqlalchemy import func, inspect, select, table, text
from sqlalchemy.engine import URL

from app.engine.errors import PingshenError
from app.extensions import db

FORMAT = 1
FOLDERS = ("UPLOAD_FOLDER", "CERTIFICATE_FOLDER")  # what cannot be made again from the rows


class BackupError(PingshenError):
    """A backup or restore that could not be made; nothing was changed."""

    status = 500


@dataclass(frozen=True)
class Manifest:
    """What a backup holds."""

    created_at: str
    dialect: str
    revision: str | None
    rows: dict[str, int]
    files: dict[str, int]

    def as_json(self) -> str:
        """The manifest as stored in the archive."""
        return json.dumps({"format": FORMAT, **self.__dict__}, ensure_ascii=False, indent=1)


def make_backup(target_dir: Path) -> tuple[Path, Manifest]:
    """Write ``pingshen-<UTC time>.tar`` into ``target_dir``; return it and its manifest."""
    target_dir.mkdir(parents=True, exist_ok=True)
    stamp = datetime.now(UTC).strftime("%Y%m%d-%H%M%S")
    target = target_dir / f"pingshen-{stamp}.tar"
    with tempfile.TemporaryDirectory(prefix="pingshen-backup-") as work:
        database = Path(work) / _database_name()
        _dump_database(database)
        manifest = Manifest(created_at=datetime.now(UTC).isoformat(timespec="seconds"),
                            dialect=db.engine.dialect.name, revision=_revision(),
                            rows=row_counts(), files=_file_counts())
        partial = target.with_suffix(".tar.partial")
        with tarfile.open(partial, "w") as archive:
            archive.add(database, arcname=database.name)
            for key in FOLDERS:
                folder = Path(current_app.config[key])
                if folder.is_dir():
                    archive.add(folder, arcname=key.lower())
            info = tarfile.TarInfo("manifest.json")
            data = manifest.as_json().encode()
            info.size, info.mtime = len(data), int(datetime.now(UTC).timestamp())
            archive.addfile(info, io.BytesIO(data))
        os.replace(partial, target)  # a backup is whole or absent
    return target, manifest


def read_manifest(archive_path: Path) -> Manifest:
    """The manifest of a backup file (refused when it is not one)."""
    try:
        with tarfile.open(archive_path) as archive:
            member = archive.extractfile("manifest.json")
            raw = json.loads(member.read()) if member else None
    except (OSError, KeyError, tarfile.TarError, json.JSONDecodeError) as exc:
        raise BackupError(f"不是评审系统的备份文件：{archive_path}") from exc
    if not isinstance(raw, dict) or raw.pop("format", None) != FORMAT:
        raise BackupError(f"不是评审系统的备份文件：{archive_path}")
    return Manifest(**raw)


def restore_backup(archive_path: Path) -> Manifest:
    """Replace the database and the folders with the backup's; check every table's rows."""
    manifest = read_manifest(archive_path)
    if manifest.dialect != db.engine.dialect.name:
        raise BackupError(f"备份来自 {manifest.dialect} 数据库，不能恢复到 "
                          f"{db.engine.dialect.name}")
    with tempfile.TemporaryDirectory(prefix="pingshen-restore-") as work, \
            tarfile.open(archive_path) as archive:
        archive.extractall(work, filter="data")
        db.session.remove()
        _load_database(Path(work) / _database_name())
        for key in FOLDERS:
            folder = Path(current_app.config[key])
            saved = Path(work) / key.lower()
            if folder.exists():
                shutil.rmtree(folder)
            if saved.is_dir():
                shutil.copytree(saved, folder)
    found = row_counts()
    if _file_counts() != manifest.files:
        raise BackupError(f"恢复后的文件数与备份不一致：{_file_counts()} ≠ {manifest.files}")
    if found != manifest.rows:
        wrong = {name: (manifest.rows.get(name), found.get(name))
                 for name in set(found) | set(manifest.rows)
                 if found.get(name) != manifest.rows.get(name)}
        raise BackupError(f"恢复后的数据与备份不一致：{wrong}")
    return manifest


def row_counts() -> dict[str, int]:
    """Rows per table of the app's schema."""
    names = sorted(inspect(db.engine).get_table_names())
    return {name: db.session.scalar(select(func.count()).select_from(table(name))) or 0
            for name in names}


def _database_name() -> str:
    """The database's file name inside the archive."""
    return "database.sqlite3" if db.engine.dialect.name == "sqlite" else "database.pgdump"


def _dump_database(target: Path) -> None:
    """An online copy of the database into ``target``."""
    url = db.engine.url
    if url.get_backend_name() == "sqlite":
        db.session.commit()  # nothing of ours half-written in the copy
        source = sqlite3.connect(url.database or "")
        copy = sqlite3.connect(target)
        try:
            with copy:
                source.backup(copy)
        finally:
            copy.close()
            source.close()
        return
    _run(["pg_dump", "--format=custom", "--no-owner", "--file", str(target), _libpq(url)])


def _load_database(source: Path) -> None:
    """Put the dumped database in place of the current one."""
    url = db.engine.url
    db.engine.dispose()
    if url.get_backend_name() == "sqlite":
        saved = sqlite3.connect(source)
        live = sqlite3.connect(url.database or "")
        try:
            with live:
                saved.backup(live)
        finally:
            live.close()
            saved.close()
        return
    _run(["pg_restore", "--clean", "--if-exists", "--no-owner", "--single-transaction",
          "--dbname", _libpq(url), str(source)])


def _libpq(url: URL) -> str:
    """The SQLAlchemy URL as pg_dump and pg_restore read it (without the driver name)."""
    return url.set(drivername="postgresql").render_as_string(hide_password=False)


def _run(command: list[str]) -> None:
    """Run a PostgreSQL client tool; its error becomes a BackupError."""
    try:
        subprocess.run(command, check=True, capture_output=True, text=True)
    except FileNotFoundError as exc:
        raise BackupError(f"找不到 {command[0]}：请安装 PostgreSQL 客户端") from exc
    except subprocess.CalledProcessError as exc:
        raise BackupError(f"{command[0]} 失败：{exc.stderr.strip()[-500:]}") from exc


def _revision() -> str | None:
    """The migration the database is at (None for a schema made without migrations)."""
    if "alembic_version" not in inspect(db.engine).get_table_names():
        return None
    return db.session.scalar(text("SELECT version_num FROM alembic_version"))


def _file_counts() -> dict[str, int]:
    """Files in each backed-up folder."""
    counts = {}
    for key in FOLDERS:
        folder = Path(current_app.config[key])
        counts[key.lower()] = sum(1 for p in folder.rglob("*") if p.is_file()) \
            if folder.is_dir() else 0
    return counts


