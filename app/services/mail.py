"""E-mail through an outbox: rows written in the transaction that caused them, sent after it.

A message is an ``OutboxMessage`` row added to the session of the change (a transition, an
assignment…), so it commits or rolls back with it: a crash after the commit loses nothing, a
rolled-back change sends nothing. After the commit the ``send_mail`` job sends it; the worker's
minute sweep (and ``flask mail send`` / ``flask workflows tick``) sends whatever is due, so a
message whose job was lost is sent anyway. Without ``MAIL_SERVER`` nothing is sent and the
messages wait in the outbox.

A message is sent at most once: a worker first *claims* it with one conditional UPDATE
(``pending`` → ``sending``, committed) and only then talks to the SMTP server; a second worker's
UPDATE finds no ``pending`` row. On PostgreSQL the sweep also skips rows another sweep holds
(``FOR UPDATE SKIP LOCKED``); SQLite runs one writer at a time, so the UPDATE alone decides. A
message left ``sending`` by a worker that died is marked failed after ``MAIL_SENDING_TIMEOUT``
minutes, never resent by itself: nobody knows whether it went out (an administrator may retry).
"""

from __future__ import annotations

import logging
import smtplib
import ssl
from datetime import datetime, timedelta
from email.message import EmailMessage
from email.utils import format_datetime, make_msgid
from typing import Any

from flask import current_app
from sqlalchemy import Select, event, func, select, update
from sqlalchemy.orm import Session

from app.engine.errors import Conflict, Forbidden, ValidationFailed
from app.extensions import db
from app.jobs import enqueue_after_commit, every_minute, job
from app.models import Notification, OutboxMessage, Role, User
from app.models.base import utcnow
from app.services.accounts import check_email

LOGGER = logging.getLogger(__name__)
STATUSES = ("pending", "sending", "sent", "failed")
BATCH = 50
PENDING_IDS = "pingshen.outbox_ids"  # ids written in the current transaction
INTERRUPTED = "发送过程中断，无法确认邮件是否已发出；核实后可手动重试"


def queue_mail(address: str, subject: str, body: str, *, user: User | None = None,
               event: str = "", notification: Notification | None = None) -> OutboxMessage:
    """Add an outbox row to the current transaction (not flushed); pass it to
    ``send_after_commit`` once flushed, so that it is sent when the transaction commits."""
    message = OutboxMessage(to_address=address, subject=subject, body=body, user=user,
                            event=event, notification=notification, next_attempt_at=utcnow())
    db.session.add(message)
    return message


def send_mail_to(recipient: User | str, subject: str, body: str,
                 event: str = "") -> OutboxMessage:
    """Queue one e-mail to a user's address or to an address (e.g. a password reset link).

    Not a notification: no inbox message, no preference; flushed, sent after the commit.
    """
    user = recipient if isinstance(recipient, User) else None
    address = check_email(user.email if user is not None else str(recipient))
    if not address:
        raise ValidationFailed("该用户没有电子邮箱，无法发送邮件", {"email": "missing"})
    if not subject.strip() or not body.strip():
        raise ValidationFailed("邮件标题和正文不能为空")
    message = queue_mail(address, " ".join(subject.split())[:300], body, user=user, event=event)
    db.session.flush()
    send_after_commit([message])
    return message


def mail_enabled() -> bool:
    """Whether an SMTP server is configured (else messages wait in the outbox)."""
    return bool(current_app.config.get("MAIL_SERVER"))


def send_after_commit(messages: list[OutboxMessage]) -> None:
    """Have these (flushed) messages sent once the transaction commits: one job for all the
    transaction's messages."""
    send_ids_after_commit([message.id for message in messages])


def send_ids_after_commit(ids: list[int]) -> None:
    """``send_after_commit`` for messages known by their ids (inserted in bulk)."""
    if not mail_enabled() or not ids:
        return
    pending = db.session.info.get(PENDING_IDS)
    if pending is None:
        pending = db.session.info[PENDING_IDS] = []
        enqueue_after_commit("send_mail", pending)  # the list as it is at commit time
    pending.extend(ids)


@event.listens_for(Session, "after_commit")
@event.listens_for(Session, "after_rollback")
def _forget_ids(session: Session) -> None:
    """A new transaction collects its own messages."""
    session.info.pop(PENDING_IDS, None)


@job("send_mail")
def send_queued(ids: list[int]) -> None:
    """Send these messages now if they are still pending and due (the sweep sends the rest)."""
    if mail_enabled() and ids:
        now = utcnow()
        deliver(claim(now, ids), now)


@every_minute("mail_outbox")
def sweep() -> None:
    """The worker's minute job: send every due message."""
    send_due()


def send_due(now: datetime | None = None) -> dict[str, int]:
    """Mark interrupted sends failed, then send the due messages in batches; count outcomes."""
    now = now or utcnow()
    counts = {"interrupted": _settle_interrupted(now), "sent": 0, "retry": 0, "failed": 0}
    if not mail_enabled():
        return counts
    for _ in range(20):  # at most 1,000 a run; the next run continues
        claimed = claim(now)
        if not claimed:
            break
        outcome = deliver(claimed, now)
        for status in ("sent", "retry", "failed"):
            counts[status] += outcome[status]
        if outcome["unreachable"]:
            break  # the server does not answer: the rest waits for the next run
    return counts


def claim(now: datetime, ids: list[int] | None = None) -> list[int]:
    """Take up to BATCH due pending messages for this worker (pending → sending); commit."""
    due = (select(OutboxMessage.id)
           .where(OutboxMessage.status == "pending", OutboxMessage.next_attempt_at <= now)
           .order_by(OutboxMessage.next_attempt_at, OutboxMessage.id).limit(BATCH))
    if ids is not None:
        due = due.where(OutboxMessage.id.in_(ids))
    if db.session.get_bind().dialect.name == "postgresql":
        due = due.with_for_update(skip_locked=True)
    claimed = list(db.session.scalars(
        update(OutboxMessage)
        .where(OutboxMessage.id.in_(due.scalar_subquery()), OutboxMessage.status == "pending")
        .values(status="sending", claimed_at=now, attempts=OutboxMessage.attempts + 1)
        .returning(OutboxMessage.id)
        .execution_options(synchronize_session=False)))
    db.session.commit()
    return sorted(claimed)


def deliver(ids: list[int], now: datetime) -> dict[str, int]:
    """Send claimed messages over one SMTP connection; record each outcome and commit it
    (a failed attempt is tried again counting from ``now``, the time of this run)."""
    counts = {"sent": 0, "retry": 0, "failed": 0, "unreachable": 0}
    if not ids:
        return counts
    config = current_app.config
    with SmtpTransport(config) as transport:
        for message in list(db.session.scalars(select(OutboxMessage).where(
                OutboxMessage.id.in_(ids)).order_by(OutboxMessage.id))):
            try:
                transport.send(message)
            except (smtplib.SMTPException, OSError) as exc:
                counts[_record_failure(message, exc, now, config)] += 1
            else:
                message.status, message.sent_at, message.last_error = "sent", utcnow(), ""
                counts["sent"] += 1
            db.session.commit()
        counts["unreachable"] = int(transport.unreachable is not None)
    return counts


def _record_failure(message: OutboxMessage, exc: Exception, now: datetime,
                    config: Any) -> str:
    """Back off after a failed attempt; give up after the last one or on a refused address."""
    schedule = retry_minutes(config)
    message.last_error = f"{type(exc).__name__}: {exc}"[:1000]
    if _permanent(exc) or message.attempts > len(schedule):
        message.status = "failed"
        return "failed"
    message.status = "pending"
    message.next_attempt_at = now + timedelta(minutes=schedule[message.attempts - 1])
    return "retry"


def retry_minutes(config: Any) -> list[int]:
    """Minutes to wait after the 1st, 2nd… failed attempt (then the message fails)."""
    return [int(m) for m in str(config["MAIL_RETRY_MINUTES"]).replace(" ", "").split(",") if m]


def _permanent(exc: Exception) -> bool:
    """The server refused the address itself (5xx for every recipient): retrying cannot help."""
    return isinstance(exc, smtplib.SMTPRecipientsRefused) and all(
        code >= 500 for code, _text in exc.recipients.values())


def _settle_interrupted(now: datetime) -> int:
    """Messages left 'sending' too long (the worker died): failed, with why; never resent."""
    limit = now - timedelta(minutes=current_app.config["MAIL_SENDING_TIMEOUT"])
    settled = db.session.execute(
        update(OutboxMessage)
        .where(OutboxMessage.status == "sending", OutboxMessage.claimed_at < limit)
        .values(status="failed", last_error=INTERRUPTED)
        .execution_options(synchronize_session=False))
    db.session.commit()
    return int(settled.rowcount)  # type: ignore[attr-defined]


class SmtpTransport:
    """One SMTP connection for a batch, opened on the first message, reopened after an error."""

    def __init__(self, config: Any) -> None:
        self.config = config
        self.smtp: smtplib.SMTP | None = None
        # Why the server could not be reached: the batch's other messages fail the same way at
        # once instead of each waiting MAIL_TIMEOUT for a server that does not answer.
        self.unreachable: Exception | None = None

    def __enter__(self) -> SmtpTransport:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def send(self, message: OutboxMessage) -> None:
        """Hand one message to the server; raise on any refusal."""
        if self.unreachable is not None:
            raise self.unreachable
        if self.smtp is None:
            try:
                self.smtp = self._connect()
            except (smtplib.SMTPException, OSError) as exc:
                self.unreachable = exc
                raise
        try:
            self.smtp.send_message(email_of(message, self.config["MAIL_FROM"]))
        except Exception:
            self.close()  # start the next message on a fresh connection
            raise

    def _connect(self) -> smtplib.SMTP:
        """Open the connection: SSL or STARTTLS as configured, then log in if asked."""
        config = self.config
        host, port, timeout = config["MAIL_SERVER"], config["MAIL_PORT"], config["MAIL_TIMEOUT"]
        context = ssl.create_default_context()
        smtp = smtplib.SMTP_SSL(host, port, timeout=timeout, context=context) \
            if config["MAIL_USE_SSL"] else smtplib.SMTP(host, port, timeout=timeout)
        try:
            if config["MAIL_USE_TLS"] and not config["MAIL_USE_SSL"]:
                smtp.starttls(context=context)
            if config["MAIL_USERNAME"]:
                smtp.login(config["MAIL_USERNAME"], config["MAIL_PASSWORD"])
        except Exception:
            smtp.close()
            raise
        return smtp

    def close(self) -> None:
        """Say goodbye if the server still listens; forget the connection."""
        if self.smtp is not None:
            try:
                self.smtp.quit()
            except (smtplib.SMTPException, OSError):
                self.smtp.close()
            self.smtp = None


def email_of(message: OutboxMessage, sender: str) -> EmailMessage:
    """The e-mail of an outbox row: UTF-8 text, marked as sent by a machine."""
    email = EmailMessage()
    email["From"] = sender
    email["To"] = message.to_address
    email["Subject"] = message.subject
    email["Date"] = format_datetime(utcnow())
    email["Message-ID"] = make_msgid(f"outbox.{message.id}", sender.rpartition("@")[2]
                                     .strip("> ") or "localhost")
    email["Auto-Submitted"] = "auto-generated"
    email.set_content(message.body, cte="base64")  # UTF-8 text any relay passes on intact
    return email


def retry_now(message: OutboxMessage, actor: User) -> OutboxMessage:
    """Try a waiting or failed message again at once (city administrators)."""
    if actor.role != Role.CITY_ADMIN:
        raise Forbidden("只有市级管理员可以重发邮件")
    if message.status == "sent":
        raise Conflict("该邮件已发出，不会再次发送")
    if message.status == "sending":
        raise Conflict("该邮件正在发送，请稍后刷新查看结果")
    message.status, message.next_attempt_at = "pending", utcnow()
    db.session.flush()
    send_after_commit([message])
    return message


def outbox_query(status: str = "") -> Select[Any]:
    """Outbox messages, newest first, of one status (or all)."""
    query = select(OutboxMessage).order_by(OutboxMessage.id.desc())
    return query.where(OutboxMessage.status == status) if status in STATUSES else query


def outbox_counts() -> dict[str, int]:
    """How many messages are in each status."""
    rows = db.session.execute(select(OutboxMessage.status, func.count())
                              .group_by(OutboxMessage.status))
    found = {status: int(count) for status, count in rows}
    return {status: found.get(status, 0) for status in STATUSES}
