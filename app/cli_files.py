"""`flask files sweep`: remove stored files that no row refers to."""

from __future__ import annotations

from datetime import timedelta

import click
from flask.cli import AppGroup

files = AppGroup("files", help="Stored files (uploads, certificates, exports).")


@files.command("sweep")
@click.option("--dry-run", is_flag=True, help="List the orphan files, remove nothing.")
@click.option("--older-than", "hours", type=click.FloatRange(min=1), default=24.0,
              show_default=True,
              help="Only files older than this many hours (an upload in flight is younger).")
@click.option("--verbose", "-v", is_flag=True, help="Print every orphan file.")
def sweep(dry_run: bool, hours: float, verbose: bool) -> None:
    """Remove uploaded, certificate and export files (and leftover .part files) that no row
    refers to."""
    from app.services.file_sweep import sweep_files

    report = sweep_files(timedelta(hours=hours), dry_run=dry_run)
    for orphan in report.orphans if verbose or dry_run else []:
        click.echo(f"{orphan.path}  {orphan.size}")
    verb = "would remove" if dry_run else "removed"
    click.echo(f"{verb} {len(report.orphans)} orphan files ({report.removed_bytes} bytes); "
               f"{report.checked} files checked, {report.kept_young} unreferenced files "
               f"younger than {hours:g} h kept")
