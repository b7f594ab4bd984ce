"""The caller's inbox over the API: list (unread first), mark one or all read."""

from __future__ import annotations

from typing import Any

from app.blueprints.api.common import api_user, bp, get_or_404, query_int
from app.blueprints.api.serializers import iso
from app.engine.errors import ValidationFailed
from app.extensions import db
from app.i18n import zh
from app.models import Notification
from app.services.inbox import inbox_query, mark_all_read, mark_read, unread_count

MAX_PER_PAGE = 100


@bp.get("/notifications")
def list_notifications() -> Any:
    """The caller's messages, unread first then newest; ?unread=1 ?page= ?per_page=."""
    user = api_user()
    unread = query_int("unread", 0, minimum=0)
    if unread not in (0, 1):
        raise ValidationFailed(zh("参数 unread 应为 0 或 1"), {"unread": str(unread)})
    page = query_int("page", 1) or 1
    per_page = min(query_int("per_page", 20) or 20, MAX_PER_PAGE)
    result = db.paginate(inbox_query(user, unread_only=bool(unread)), page=page,
                         per_page=per_page, error_out=False, count=True)
    return {"items": [notification_json(n) for n in result.items], "page": page,
            "per_page": per_page, "total": result.total, "unread": unread_count(user)}


@bp.post("/notifications/<int:notification_id>/read")
def read_notification(notification_id: int) -> Any:
    """Mark one of the caller's messages read."""
    notification = get_or_404(Notification, notification_id, zh("消息不存在"))
    mark_read(notification, api_user())
    db.session.commit()
    return notification_json(notification)


@bp.post("/notifications/read-all")
def read_all_notifications() -> Any:
    """Mark every unread message of the caller read."""
    marked = mark_all_read(api_user())
    db.session.commit()
    return {"marked": marked, "unread": 0}


def notification_json(notification: Notification) -> dict[str, Any]:
    """One message as the API returns it."""
    return {"id": notification.id, "event": notification.event,
            "subject": notification.subject, "body": notification.body,
            "link": notification.link or None, "application_id": notification.application_id,
            "created_at": iso(notification.created_at), "read_at": iso(notification.read_at)}
