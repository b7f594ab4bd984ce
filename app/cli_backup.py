"""`flask backup` and `flask restore`: the database and the files in one archive; `flask check`:
what must always hold in them."""

from __future__ import annotations

from pathlib import Path

import click
from flask.cli import with_appcontext

from app.config import INSTANCE
from app.engine.errors import PingshenError


@click.command("backup")
@click.option("--to", "folder", type=click.Path(file_okay=False, path_type=Path),
              default=INSTANCE / "backups", show_default=True,
              help="Folder the backup file is written to.")
@with_appcontext
def backup(folder: Path) -> None:
    """Back up the database and the uploaded and issued files into one .tar file (safe while
    the app runs)."""
    from app.services.backup import make_backup

    try:
        path, manifest = make_backup(folder)
    except PingshenError as exc:
        raise click.ClickException(exc.message) from exc
    click.echo(f"{path}  ({sum(manifest.rows.values())} rows in {len(manifest.rows)} tables, "
               f"{sum(manifest.files.values())} files, schema {manifest.revision or '-'})")


@click.command("restore")
@click.argument("archive", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--yes", is_flag=True, help="Replace the current data without asking.")
@with_appcontext
def restore(archive: Path, yes: bool) -> None:
    """Replace the database and the files with a backup's, then check every table's rows.
    Stop the web server and the workers first."""
    from app.services.backup import read_manifest, restore_backup

    try:
        manifest = read_manifest(archive)
        if not yes:
            click.confirm(f"Replace ALL current data with the backup of {manifest.created_at} "
                          f"({sum(manifest.rows.values())} rows)?", abort=True)
        restore_backup(archive)
    except PingshenError as exc:
        raise click.ClickException(exc.message) from exc
    click.echo(f"restored {archive.name}: {sum(manifest.rows.values())} rows in "
               f"{len(manifest.rows)} tables and {sum(manifest.files.values())} files, "
               "each table checked")
    _report_integrity()


@click.command("check")
@with_appcontext
def check() -> None:
    """Check what must always hold in the data (states against the audit log, uploaded files
    on disk, the database's own checks); exit status 1 when something is broken."""
    _report_integrity()


def _report_integrity() -> None:
    """Print the integrity problems, or that there are none; fail when there are some."""
    from app.services.integrity import integrity_problems

    problems = integrity_problems()
    for problem in problems:
        click.echo(problem, err=True)
    if problems:
        raise click.ClickException(f"{len(problems)} integrity problem(s)")
    click.echo("integrity: every entry's state follows its audit log, every uploaded file is "
               "on disk, the database checks pass")
