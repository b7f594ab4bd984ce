"""`flask backup` and `flask restore`: the database and the files in one archive."""

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
