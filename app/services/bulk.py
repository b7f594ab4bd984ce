"""One trigger fired on many applications: a dry run first, then one transaction per item.

This module is a transaction boundary of its own: each item commits or rolls back alone,
so an item that fails never undoes the others and a crash leaves a resumable state.
All moved items share one bulk id in the audit log.
"""

from __future__ import annotations

import logging
import uuid
from dataclasses import dataclass, field

from sqlalchemy import select
from sqlalchemy.exc import SQLAlchemyError

from app.engine.errors import PingshenError
from app.engine.runtime import Context, actor_may, fire, guard_reasons
from app.extensions import db
from app.i18n import zh
from app.models import Application, User
from app.models.base import utcnow
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


def bulk_fire(ids: list[int], trigger: str, actor: User, *, comment: str = "",
              dry_run: bool = True) -> BulkResult:
    """Check (dry run) or fire `trigger` on each application; unknown or hidden ids fail."""
    bulk_id = None if dry_run else str(uuid.uuid4())
    apps = {a.id: a for a in db.session.scalars(select(Application).where(
        Application.id.in_(ids)))}
    items = []
    for app_id in dict.fromkeys(ids):
        app = apps.get(app_id)
        if app is None:
            items.append(BulkItem(app_id, "", False, reasons=[zh("申报不存在")]))
            continue
        items.append(_check(app, trigger, actor, comment) if dry_run
                     else _fire_one(app, trigger, actor, comment, bulk_id))
    return BulkResult(bulk_id, dry_run, items)


def _check(app: Application, trigger: str, actor: User, comment: str) -> BulkItem:
    """Would the trigger pass for this item? Nothing is written."""
    programme = programme_of(app)
    transition = programme.transition(trigger, app.state)
    item = BulkItem(app.id, app.title, False, app.state)
    if transition is None:
        item.reasons = [zh("当前状态“%(state)s”下不能执行此操作", state=programme.label(app.state))]
    elif not actor_may(transition, actor, app):
        item.reasons = [zh("您无权对该申报执行此操作")]
    elif transition["comment"] == "required" and not comment.strip():
        item.reasons = [zh("请填写意见或理由")]
    elif transition["form"]:
        item.reasons = [zh("此操作需要逐条填写表单，不能批量执行")]
    else:
        item.reasons = guard_reasons(Context(app, actor, programme, transition, utcnow(),
                                             comment=comment))
        item.ok = not item.reasons
    db.session.rollback()  # a guard may have taken a lock; release it at once
    return item


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
