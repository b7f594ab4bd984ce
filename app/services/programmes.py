"""The programme catalogue (from files) and the versions pinned in the database."""

from __future__ import annotations

import json
from typing import Any

from flask import current_app
from sqlalchemy import and_, event, or_, select
from sqlalchemy.orm import Session

from app.engine.definitions import Programme
from app.engine.errors import DefinitionChanged, NotFound
from app.extensions import db
from app.i18n import zh
from app.models import Application, ProgrammeVersion

CATALOGUE = "pingshen.catalogue"
PINNED = "pingshen.pinned"


def catalogue() -> dict[str, Programme]:
    """The programmes as the definition files describe them now."""
    return current_app.extensions[CATALOGUE]  # type: ignore[no-any-return]


def current_programme(key: str) -> Programme:
    """The current definition of a programme, or NotFound."""
    programme = catalogue().get(key)
    if programme is None:
        raise NotFound(zh("没有这个项目：%(key)s", key=key), {"programme": key})
    return programme


def record_version(programme: Programme) -> ProgrammeVersion:
    """Store this version's definition the first time it is used; refuse a changed copy.

    A file edited without raising `version` would change applications in flight, so
    the same version with different content is an error naming the file.
    """
    row = db.session.scalar(select(ProgrammeVersion).filter_by(
        key=programme.key, version=programme.version))
    if row is None:
        row = ProgrammeVersion(key=programme.key, version=programme.version,
                               title=programme.title, checksum=programme.checksum,
                               definition=json_safe(programme.raw),
                               sources=programme.source_files)
        db.session.add(row)
        db.session.flush()
    elif row.checksum != programme.checksum:
        raise DefinitionChanged(changed_message(programme, row),
                                {"programme": programme.key, "version": programme.version})
    return row


def check_recorded_versions() -> list[str]:
    """Return a problem for each programme whose file changed without a new version."""
    problems = []
    for programme in catalogue().values():
        row = db.session.scalar(select(ProgrammeVersion).filter_by(
            key=programme.key, version=programme.version))
        if row is not None and row.checksum != programme.checksum:
            problems.append(changed_message(programme, row))
    return problems


def changed_message(programme: Programme, row: ProgrammeVersion) -> str:
    """Name the files that differ from the recorded version, and what to do about it."""
    changed = [name for name, text in programme.source_files.items()
               if row.sources.get(name) != text] or list(programme.source_files)
    return (f"{', '.join(changed)}: version {programme.version} of {programme.key!r} is "
            "already recorded with different content; raise 'version' in the workflow file "
            "to publish the change")


def programme_of(application: Application) -> Programme:
    """The definition an application is pinned to."""
    return pinned_programme(application.programme_version_id)


def pinned_programme(version_id: int) -> Programme:
    """Load (once per app) the stored definition of a programme version; rows never change.

    The cache is keyed by the row's id *and* checksum: under SQLite a version recorded in a
    transaction that was rolled back leaves its id free for the next one, so an id alone could
    name another programme later. The checksums of all versions are read once per session and
    transaction (one small query, however many programmes a page lists); a rollback forgets
    them (see `forget_pinned_checksums`).
    """
    cache: dict[tuple[int, str], Programme] = current_app.extensions.setdefault(PINNED, {})
    checksums: dict[int, str] = db.session.info.setdefault(PINNED, {})  # emptied on rollback
    if version_id not in checksums:
        for found, checksum in db.session.execute(
                select(ProgrammeVersion.id, ProgrammeVersion.checksum)):
            checksums[found] = checksum
        if version_id not in checksums:
            raise NotFound(f"definition version {version_id} not found")
    key = (version_id, checksums[version_id])
    programme = cache.get(key)
    if programme is None:
        from app.engine.loader import rebuild_programme  # the loader's guards import services

        row = db.session.get_one(ProgrammeVersion, version_id)
        programme = cache[key] = rebuild_programme(row.sources)
    return programme


def json_safe(value: Any) -> Any:
    """The parsed YAML as JSON can store it (dates become ISO strings)."""
    return json.loads(json.dumps(value, ensure_ascii=False, default=str))


def entries_in_states_with(feature: str, *options: Any) -> list[Application]:
    """Entries whose current state has ``feature`` (e.g. ``deadline``, ``notice``) in the
    definition version they are pinned to: one query for every version's states, never a full
    scan. ``options`` are loader options for the query (e.g. joinedload of the unit)."""
    wanted = []
    for version_id in db.session.scalars(select(ProgrammeVersion.id)):
        states = {name for name, state in pinned_programme(version_id).states.items()
                  if state.get(feature)}
        if states:
            wanted.append(and_(Application.programme_version_id == version_id,
                               Application.state.in_(states)))
    if not wanted:
        return []
    return list(db.session.scalars(select(Application).where(or_(*wanted))
                                   .order_by(Application.call_id, Application.id)
                                   .options(*options)))


@event.listens_for(Session, "after_soft_rollback")
def forget_pinned_checksums(session: Session, previous_transaction: Any) -> None:
    """A rolled-back transaction may have recorded versions whose ids come free again."""
    session.info.pop(PINNED, None)
