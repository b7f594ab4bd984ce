"""Backup and restore drill: everything saved comes back, checked table by table."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import select

from app.engine.runtime import fire
from app.extensions import db
from app.models import Application, AuditEntry
from app.services.attachments import attachment_path
from app.services.backup import BackupError, make_backup, read_manifest, restore_backup


def _history() -> list[tuple[str, str]]:
    rows = db.session.execute(select(AuditEntry.trigger, AuditEntry.to_state)
                              .order_by(AuditEntry.id))
    return [(trigger, state) for trigger, state in rows]


def test_a_restore_brings_back_rows_and_files_as_they_were(world, make_application, tmp_path):
    users = world["users"]
    entry = make_application("wj1", name="湖塘太极拳队")
    fire(entry, "submit", users["wj1"])
    db.session.commit()
    upload = attachment_path(entry.attachments[0])
    saved_bytes, saved_history = upload.read_bytes(), _history()

    archive, manifest = make_backup(tmp_path / "backups")
    assert archive.name.startswith("pingshen-") and archive.suffix == ".tar"
    assert manifest.rows["applications"] == 1 and manifest.rows["users"] == len(users)
    assert manifest.files["upload_folder"] == 1
    assert read_manifest(archive) == manifest

    # after the backup: the entry moves on, another one is made, the upload is lost
    fire(entry, "return_for_correction", users["wj_admin"], comment="请补充材料")
    make_application("tn1", name="天宁合唱团")
    upload.unlink()
    db.session.commit()

    restore_backup(archive)

    db.session.remove()
    [restored] = db.session.scalars(select(Application)).all()
    assert (restored.title, restored.state) == ("湖塘太极拳队", "district_review")
    assert _history() == saved_history
    assert attachment_path(restored.attachments[0]).read_bytes() == saved_bytes


def test_the_commands_back_up_and_restore(app, world, make_application, tmp_path):
    make_application("wj1")
    runner = app.test_cli_runner()
    made = runner.invoke(args=["backup", "--to", str(tmp_path / "b")])
    assert made.exit_code == 0, made.output
    archive = next((tmp_path / "b").glob("pingshen-*.tar"))
    assert str(archive) in made.output
    make_application("wj2")
    refused = runner.invoke(args=["restore", str(archive)], input="n\n")
    assert refused.exit_code == 1 and db.session.scalar(
        select(db.func.count()).select_from(Application)) == 2
    done = runner.invoke(args=["restore", str(archive), "--yes"])
    assert done.exit_code == 0, done.output
    assert "each table checked" in done.output
    db.session.remove()
    assert db.session.scalar(select(db.func.count()).select_from(Application)) == 1


def test_a_file_that_is_no_backup_is_refused(app, tmp_path: Path):
    other = tmp_path / "notes.tar"
    other.write_bytes(b"not a tar at all")
    with pytest.raises(BackupError, match="不是评审系统的备份文件"):
        restore_backup(other)
    result = app.test_cli_runner().invoke(args=["restore", str(other), "--yes"])
    assert result.exit_code == 1 and "不是评审系统的备份文件" in result.output
