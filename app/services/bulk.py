"""One trigger fired on many applications: a dry run first, then the move, in chunks.

This module is a transaction boundary of its own. Entries are taken a chunk (``CHUNK``) at a
time: the engine checks the chunk's entries together and moves those that pass at once
(``fire_many``), and the chunk commits. A chunk that meets a database error is rolled back and
its entries are moved one by one, each in its own transaction, so an entry that fails never
undoes the others; steps whose guards depend on other entries (a quota) go one by one as well.
A crash leaves the committed chunks moved and the rest where they were: running the same bulk
move again moves the rest. All moved entries share one bulk id in the audit log.
"""

from __future__ import annotations

import logging
import uuid
from dataclasses import dataclass, field

from sqlalchemy import select
from sqlalchemy.exc import SQLAlchemyError

from app.engine.errors import PingshenError
from app.engine.runtime import batchable, fire, fire_many, refusals
from app.extensions import db
from app.i18n import zh
from app.models import Application, User
from app.services.programmes import programme_of

LOGGER = logging.getLogger(__name__)


@dataclass
class BulkItem:
    """What happened (or would happen) to one application."""

    application_id: int
    title: str
    ok: bool
    state: str = ""
    reasons: list[str] = field(default_factory=list)


@dataclass
class BulkResult:
    """The outcome of a bulk run: one item per requested id."""

    bulk_id: str | None
    dry_run: bool
    items: list[BulkItem]

    @property
    def passed(self) -> int:
        """How many items moved (or would move)."""
        return sum(item.ok for item in self.items)


CHUNK = 500  # entries checked and moved per transaction


def bulk_fire(ids: list[int], trigger: str, actor: User, *, comment: str = "",
              dry_run: bool = True) -> BulkResult:
    """Check (dry run) or fire `trigger` on each application; unknown or hidden ids fail."""
    bulk_id = None if dry_run else str(uuid.uuid4())
    wanted = list(dict.fromkeys(ids))
    items: dict[int, BulkItem] = {}
    for start in range(0, len(wanted), CHUNK):
        chunk = wanted[start:start + CHUNK]
        found = {a.id: a for a in db.session.scalars(select(Application).where(
            Application.id.in_(chunk)))}
        for app_id in chunk:
            if app_id not in found:
                items[app_id] = BulkItem(app_id, "", False, reasons=[zh("申报不存在")])
        apps = [found[i] for i in chunk if i in found]
        if dry_run:
            items.update(_checked(apps, trigger, actor, comment))
        else:
            items.update(_moved(apps, trigger, actor, comment, bulk_id))
    return BulkResult(bulk_id, dry_run, [items[i] for i in wanted])


def _checked(apps: list[Application], trigger: str, actor: User,
             comment: str) -> dict[int, BulkItem]:
    """Would the trigger pass for these items? Nothing is written."""
    found = refusals(apps, trigger, actor, comment=comment)
    items = {a.id: BulkItem(a.id, a.title, not found[a.id], a.state, found[a.id]) for a in apps}
    db.session.rollback()  # a guard may have taken a lock; release it at once
    return items


def _moved(apps: list[Application], trigger: str, actor: User, comment: str,
           bulk_id: str | None) -> dict[int, BulkItem]:
    """Move a chunk together and commit it; one by one where it cannot go together."""
    order = [(a.id, a) for a in apps]  # ids read now: a commit expires the objects
    together = [a for a in apps if _together(a, trigger)]
    items: dict[int, BulkItem] = {}
    if together:
        titles = {a.id: a.title for a in together}
        ids = [a.id for a in together]
        try:
            found = fire_many(together, trigger, actor, comment=comment, bulk_id=bulk_id)
            states = {a.id: a.state for a in together}  # read before the commit expires them
            db.session.commit()
        except (PingshenError, SQLAlchemyError):
            LOGGER.warning("bulk %s: a chunk of %s failed together; moving it one by one",
                           bulk_id, len(together), exc_info=True)
            db.session.rollback()
        else:
            items = {i: BulkItem(i, titles[i], not found[i], "" if found[i] else states[i],
                                 found[i]) for i in ids}
    for app_id, app in order:
        if app_id not in items:
            items[app_id] = _fire_one(app, trigger, actor, comment, bulk_id)
    return items


def _together(app: Application, trigger: str) -> bool:
    """Whether the entry's step may be checked and moved with others."""
    transition = programme_of(app).transition(trigger, app.state)
    return transition is None or batchable(transition)


def _fire_one(app: Application, trigger: str, actor: User, comment: str,
              bulk_id: str | None) -> BulkItem:
    """Fire on one item in its own transaction; a database error fails this item only."""
    title, app_id = app.title, app.id
    try:
        entry = fire(app, trigger, actor, comment=comment, bulk_id=bulk_id)
        db.session.commit()
    except PingshenError as exc:
        db.session.rollback()
        reasons = exc.details.get("reasons") if isinstance(exc.details, dict) else None
        return BulkItem(app_id, title, False, reasons=reasons or [exc.message])
    except SQLAlchemyError:  # a full disk, a lost connection: the other items go on
        LOGGER.exception("bulk %s: %s on application %s failed", bulk_id, trigger, app_id)
        db.session.rollback()
        return BulkItem(app_id, title, False,
                        reasons=[zh("保存时数据库出错，该申报未改变，可稍后重试")])
    return BulkItem(app_id, title, True, entry.to_state)
