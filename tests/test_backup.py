"""Backup and restore drill: everything saved comes back, checked table by table."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import select, update

from app.engine.runtime import fire
from app.extensions import db
from app.models import Application, Attachment, AuditEntry
from app.services.attachments import attachment_path
from app.services.backup import BackupError, make_backup, read_manifest, restore_backup
from app.services.integrity import integrity_problems


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


def test_after_a_restore_the_invariants_hold_and_a_broken_one_is_named(app, world,
                                                                      make_application, tmp_path):
    """The drill: a backup of entries in several states with their files,
    restored; `flask check` finds nothing. Then each invariant is broken by hand and named."""
    users = world["users"]
    first = make_application("wj1", name="湖塘太极拳队")
    second = make_application("tn1", name="天宁合唱团")
    fire(first, "submit", users["wj1"])
    fire(second, "submit", users["tn1"])
    fire(second, "return_for_correction", users["tn_admin"], comment="请补充材料")
    db.session.commit()
    second_id, returned_to = second.id, second.state
    archive, _ = make_backup(tmp_path / "backups")
    restore_backup(archive)
    db.session.remove()
    runner = app.test_cli_runner()
    clean = runner.invoke(args=["check"])
    assert clean.exit_code == 0, clean.output
    assert integrity_problems() == []

    attachment = db.session.scalars(select(Attachment).order_by(Attachment.id)).first()
    attachment_path(attachment).unlink()
    db.session.execute(update(Application).where(Application.id == second_id)
                       .values(state="city_review"))
    db.session.commit()
    broken = runner.invoke(args=["check"])
    assert broken.exit_code == 1
    assert f"附件 #{attachment.id}（{attachment.original_name}）的文件不存在" in broken.output
    assert (f"申报 #{second_id} 的状态为 city_review，但审计日志最后记录的是 "
            f"{returned_to}") in broken.output
    assert "2 integrity problem(s)" in broken.output
