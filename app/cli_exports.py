"""`flask export applications|summary|notice|dossiers CALL_ID`: a call's exports as files.

The command line reads as the city, or with ``--district CODE`` as that district's
administrator: each file holds what that administrator downloads on the web (see
app/services/export_jobs.py console_reader). Files are written where ``-o`` says, by default
in the current folder under the name the web gives them.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import click
from flask.cli import AppGroup

from app.cli import _fail
from app.engine.errors import PingshenError
from app.extensions import db
from app.models import Call, User
from app.services.application_export import applications_xlsx
from app.services.applications import call_entries
from app.services.dossier_jobs import dossier_entry_ids, write_dossiers
from app.services.export_jobs import (
    console_reader,
    district_by_code,
    export_name,
    reader_district,
)
from app.services.summary_export import district_summary_xlsx, notice_xlsx

export = AppGroup("export", help="Write a call's exports to files.")
PROGRESS_EVERY = 50  # entries between two progress lines of the dossiers

district_option = click.option("--district", "district_code", default=None, metavar="CODE",
                               help="As this district's administrator (default: the city).")
output_option = click.option("-o", "--output", type=click.Path(dir_okay=False), default=None,
                             help="The file to write (default: the web's file name, here).")


def _reading(call_id: int, district_code: str | None) -> tuple[Call, User]:
    """The call and the reader the export is made for (exit 1 when either is unknown)."""
    call = db.session.get(Call, call_id)
    if call is None:
        _fail(f"批次不存在：{call_id}")
    try:
        district = district_by_code(district_code) if district_code else None
    except PingshenError as exc:
        _fail(exc.message)
    return call, console_reader(district)


def _target(output: str | None, call: Call, reader: User, what: str, extension: str) -> Path:
    """Where to write: ``-o``, or the web's file name in the current folder."""
    return Path(output or export_name(call, what, extension, reader_district(reader)))


def _write(make: Callable[[], bytes], target: Path) -> None:
    """Write the bytes ``make`` builds to ``target`` (exit 1 with the reason on a refusal)."""
    try:
        data = make()
    except PingshenError as exc:
        _fail(exc.message)
    target.write_bytes(data)
    click.echo(f"已写入 / wrote {target} ({len(data)} bytes)")


@export.command("applications")
@click.argument("call_id", type=int)
@district_option
@output_option
def export_applications(call_id: int, district_code: str | None, output: str | None) -> None:
    """The call's submitted entries with every form field (申报信息表)."""
    call, reader = _reading(call_id, district_code)
    _write(lambda: applications_xlsx(call, reader, call_entries(call, reader)),
           _target(output, call, reader, "申报信息", "xlsx"))


@export.command("summary")
@click.argument("call_id", type=int)
@district_option
@output_option
def export_summary(call_id: int, district_code: str | None, output: str | None) -> None:
    """The district summary table (汇总表)."""
    call, reader = _reading(call_id, district_code)
    _write(lambda: district_summary_xlsx(call, reader),
           _target(output, call, reader, "汇总表", "xlsx"))


@export.command("notice")
@click.argument("call_id", type=int)
@district_option
@output_option
def export_notice(call_id: int, district_code: str | None, output: str | None) -> None:
    """The public-notice list (公示名单; public, so the same for every district)."""
    call, reader = _reading(call_id, district_code)
    _write(lambda: notice_xlsx(call, reader), Path(output or f"{call.title}-公示名单.xlsx"))


@export.command("dossiers")
@click.argument("call_id", type=int)
@district_option
@output_option
def export_dossiers(call_id: int, district_code: str | None, output: str | None) -> None:
    """The ZIP of dossiers (申报书合集), built here and now, with a line per 50 entries."""
    call, reader = _reading(call_id, district_code)
    if not dossier_entry_ids(call, reader):
        _fail("本批次还没有已提交的申报")
    target = _target(output, call, reader, "申报书", "zip")
    shown = {"done": 0, "failed": 0}

    def progress(done: int, failed: int, total: int) -> None:
        """A line each time another PROGRESS_EVERY entries are done, and at the end."""
        if done // PROGRESS_EVERY > shown["done"] // PROGRESS_EVERY or (done == total and done):
            click.echo(f"{done}/{total}")
        shown.update(done=done, failed=failed)

    count = write_dossiers(target, call, reader, progress)
    click.echo(f"已写入 / wrote {target}: {count} entries"
               + (f", {shown['failed']} 申报书 could not be drawn (see 目录.xlsx)"
                  if shown["failed"] else ""))
