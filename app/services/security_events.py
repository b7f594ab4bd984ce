"""Record security events (who, what, from where) and read them back for the city.

A row is added in the transaction of what it records and committed by the boundary that
commits that change; refusals and failed logins, which change nothing else, are committed by
their own handler. Rows are never changed or deleted (`AppendOnly`). Once committed, each event
is also written as one JSON line to the `pingshen.security` logger, so that syslog or journald
can carry it to a machine an intruder in this one cannot rewrite (ASVS 16.4.3).
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass
from datetime import date, timedelta
from typing import Any

from flask import has_request_context, request
from sqlalchemy import Select, select

from app.extensions import db
from app.models import SecurityEvent, User
from app.models.base import contains, utcnow
from app.services.audit import start_of_day
from app.services.effects import after_commit

LOGGER = logging.getLogger("pingshen.security")


def record_event(kind: str, user: User | None = None, *, username: str = "",
                 **details: Any) -> SecurityEvent:
    """Add one event for `user` (or a login attempt's `username`), with the request's client
    address and path when there is a request; flush, do not commit."""
    address = path = ""
    if has_request_context():
        address, path = (request.remote_addr or "")[:64], request.path[:300]
    row = SecurityEvent(at=utcnow(), kind=str(kind), user_id=user.id if user is not None else None,
                        username=(username or (user.username if user is not None else ""))[:80],
                        address=address, path=path, details=details)
    db.session.add(row)
    db.session.flush()
    after_commit(_log_line, json.dumps({
        "at": row.at.isoformat() if row.at else None, "kind": row.kind, "user_id": row.user_id,
        "username": row.username, "address": address, "path": path, "details": details,
    }, ensure_ascii=False, default=str, separators=(",", ":")))
    return row


def _log_line(line: str) -> None:
    """One committed event for the log shipper; newlines cannot occur in compact JSON, so a
    typed username can never forge a second line (ASVS 16.4.1)."""
    LOGGER.info(line)


@dataclass(frozen=True)
class EventFilter:
    """What the city narrowed the list to; empty values mean all."""

    kind: str = ""
    user: str = ""  # a username (also one typed at a failed login)
    since: date | None = None  # Beijing dates, inclusive
    until: date | None = None
    text: str = ""  # in the address, the path or the username


def events_query(chosen: EventFilter) -> Select[Any]:
    """The matching events, newest first."""
    query = select(SecurityEvent).order_by(SecurityEvent.at.desc(), SecurityEvent.id.desc())
    if chosen.kind:
        query = query.where(SecurityEvent.kind == chosen.kind)
    if chosen.user:
        query = query.where(SecurityEvent.username == chosen.user)
    if chosen.since:
        query = query.where(SecurityEvent.at >= start_of_day(chosen.since))
    if chosen.until:
        query = query.where(SecurityEvent.at < start_of_day(chosen.until + timedelta(days=1)))
    if chosen.text:
        query = query.where(contains(SecurityEvent.address, chosen.text)
                            | contains(SecurityEvent.path, chosen.text)
                            | contains(SecurityEvent.username, chosen.text))
    return query
