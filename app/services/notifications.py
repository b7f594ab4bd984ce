"""Notifications: who hears of what, written in the transaction of the change that caused it.

Every event makes one inbox message per recipient (``Notification``) and, for recipients with
an e-mail address who want that event by e-mail, an outbox row (``app.services.mail``) — both
added to the session of the change, so they commit or roll back with it.

A step of a workflow tells people what its ``notify`` key says (docs/definitions.md §3.3), or
else what its shape says: into a final state or a public notice → ``result_published`` (or
``withdrawn``); an applicant's step to where others act → ``submitted``; a step back to the
applicant (into an editable or reporting state from which the entry comes back) → ``returned``;
a district's step forward → ``recommended``; any other step → ``state_changed``. The applicant
hears of everything about their entry; whoever acts next (the district, else the city) hears of
submissions; those who were to act hear of a withdrawal.

Each recipient's message is written in their own language (``users.locale``, see
``app.i18n.writing_to``): values that depend on it (state and round labels, dates) are passed
as callables, called while writing to that recipient.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime
from functools import partial
from typing import Any
from zoneinfo import ZoneInfo

from flask import current_app
from sqlalchemy import event, insert, select
from sqlalchemy.orm import Session, lazyload

from app.engine.definitions import Programme
from app.extensions import db
from app.i18n import english, localised, round_label, writing_to, zh, zh_mark
from app.models import (
    Application,
    CallRound,
    Certificate,
    Notification,
    Organisation,
    OutboxMessage,
    ReviewAssignment,
    Role,
    User,
)
from app.models.base import utcnow
from app.services.mail import queue_mail, send_after_commit, send_ids_after_commit
from app.services.message_templates import Wording, render, wording

LOCAL = ZoneInfo("Asia/Shanghai")
GROUPS = "pingshen.notification_groups"  # messages of this transaction that count items
TOGETHER = "pingshen.notifications_together"  # messages written together, not yet inserted
NO_COMMENT = zh_mark("无")
NOT_SET = zh_mark("未设定")


@dataclass
class Grouped:
    """A message that counts items (N assignments): later items raise its count."""

    notification: Notification
    mail: OutboxMessage | None
    values: dict[str, Any]
    text: Wording


def notify(users: Iterable[User], event_key: str, values: dict[str, Any], *, link: str = "",
           application: Application | None = None, group: Any = None) -> list[Notification]:
    """Tell each user (once; inactive accounts are skipped) about ``event_key``; flush.

    ``values`` fill the template (``name`` and ``link`` are added per user); a callable value
    is called while writing to each user, in their language. ``link`` is a path on this site.
    With ``group``, a second message of the same event, user and group in the same transaction
    adds one to the first message's ``{count}`` instead. Inside ``notifications_together`` the
    ungrouped messages are inserted at the block's end, so they are not among those returned.
    """
    texts: dict[bool, Wording] = {}  # by whether the reader reads English
    url = absolute(link) if link else ""
    groups: dict[Any, Grouped] = db.session.info.setdefault(GROUPS, {})
    made, mails, seen = [], [], set()
    for user in users:
        if user.id in seen or not user.active:
            continue
        seen.add(user.id)
        key = (user.id, event_key, group)
        if group is not None and key in groups:
            _count_one_more(groups[key], event_key)
            continue
        with writing_to(user):
            in_english = english()
            if in_english not in texts:
                texts[in_english] = wording(event_key, in_english)
            text = texts[in_english]
            mine = {key: value() if callable(value) else value for key, value in values.items()}
            mine |= {"name": user.display_name, "link": url}
        subject, body = render(event_key, mine, text)
        together: list[Written] | None = db.session.info.get(TOGETHER)
        if together is not None and group is None:  # inserted with the others at the end
            together.append(Written(user.id, event_key, subject, body, link,
                                    application.id if application else None,
                                    user.email if wants_email(user, event_key) else ""))
            continue
        note = Notification(user=user, event=event_key, subject=subject, body=body, link=link,
                            application_id=application.id if application else None)
        db.session.add(note)
        mail = queue_mail(user.email, subject, body, user=user, event=event_key,
                          notification=note) if wants_email(user, event_key) else None
        if group is not None:
            groups[key] = Grouped(note, mail, mine, text)
        made.append(note)
        mails += [mail] if mail is not None else []
    db.session.flush()
    send_after_commit(mails)
    return made


@dataclass(frozen=True)
class Written:
    """A message written inside ``notifications_together``, inserted with the others."""

    user_id: int
    event: str
    subject: str
    body: str
    link: str
    application_id: int | None
    email: str  # where to send it, or "" for the inbox only


@contextmanager
def notifications_together() -> Iterator[None]:
    """Within this block ``notify`` writes its (ungrouped) messages into a list, and the block
    inserts them all at its end with one statement for the inbox and one for the outbox (a bulk
    move of hundreds of entries), then hands the e-mail over to be sent after the commit."""
    written: list[Written] = []
    db.session.info[TOGETHER] = written
    try:
        yield
    finally:
        db.session.info.pop(TOGETHER, None)
    if not written:
        return
    now = utcnow()
    # one statement each (RETURNING without a promise of order, which SQLite cannot batch):
    # identical messages are interchangeable, so each mail finds its message by content
    inserted: dict[tuple[Any, ...], list[int]] = defaultdict(list)
    for row in db.session.execute(
            insert(Notification).returning(
                Notification.id, Notification.user_id, Notification.application_id,
                Notification.event, Notification.subject, Notification.body),
            [{"user_id": w.user_id, "event": w.event, "subject": w.subject, "body": w.body,
              "link": w.link, "application_id": w.application_id, "created_at": now}
             for w in written]):
        inserted[tuple(row[1:])].append(row[0])
    mails = [{"user_id": w.user_id, "event": w.event, "to_address": w.email,
              "subject": w.subject, "body": w.body, "next_attempt_at": now, "created_at": now,
              "notification_id": inserted[(w.user_id, w.application_id, w.event, w.subject,
                                           w.body)].pop()}
             for w in written if w.email]
    if mails:
        send_ids_after_commit(list(db.session.scalars(
            insert(OutboxMessage).returning(OutboxMessage.id), mails)))


def _count_one_more(grouped: Grouped, event_key: str) -> None:
    """Raise the count of a grouped message and write its text again (mail still unsent)."""
    grouped.values["count"] = str(int(grouped.values.get("count", 1)) + 1)
    subject, body = render(event_key, grouped.values, grouped.text)
    grouped.notification.subject, grouped.notification.body = subject, body
    if grouped.mail is not None:
        grouped.mail.subject, grouped.mail.body = subject, body


@event.listens_for(Session, "after_commit")
@event.listens_for(Session, "after_rollback")
def _forget_groups(session: Session) -> None:
    """Grouping holds within one transaction only."""
    session.info.pop(GROUPS, None)
    session.info.pop(TOGETHER, None)


def wants_email(user: User, event_key: str) -> bool:
    """Whether the user has an address and has not turned this event's e-mail off."""
    return bool(user.email) and event_key not in (user.email_opt_out or [])


def notify_move(application: Application, programme: Programme, transition: dict[str, Any],
                source: str, actor: User | None, comment: str) -> None:
    """Tell the people concerned that the entry took ``transition`` from ``source``."""
    found = move_event(programme, transition, source)
    if found is None:
        return
    event_key, kinds = found
    users = [user for user in recipients(application, kinds)
             if actor is None or user.id != actor.id
             or (event_key == "submitted" and user.id == application.applicant_id)]
    values = entry_values(application, programme) | {
        "state": state_label(programme, transition["dest"]),
        "previous": state_label(programme, source), "action": partial(localised, transition),
        "comment": comment or partial(zh, NO_COMMENT)}
    notify(users, event_key, values, application=application,
           link=site_path("applications.detail", application_id=application.id))


def move_event(programme: Programme, transition: dict[str, Any],
               source: str) -> tuple[str, tuple[str, ...]] | None:
    """The event a step makes and who receives it (None: nobody is told)."""
    spec = transition.get("notify")
    if spec is not None and spec["event"] is None:
        return None
    event_key = spec["event"] if spec else derived_event(programme, transition, source)
    kinds = tuple(spec["to"]) if spec and spec["to"] else \
        default_recipients(programme, event_key, transition, source)
    return (event_key, kinds) if kinds else None


def derived_event(programme: Programme, transition: dict[str, Any], source: str) -> str:
    """The event of a step without ``notify``, from where it leads and who takes it."""
    dest = programme.states[transition["dest"]]
    roles = set(transition["roles"])
    applicant_acts = bool(dest["editable"] or dest["fill"])  # they still fill something in
    if dest["final"]:
        return "withdrawn" if dest["outcome"] == "withdrawn" else "result_published"
    if dest["notice"]:
        return "result_published"
    if Role.APPLICANT in roles and not applicant_acts:
        return "submitted"
    if applicant_acts and _reaches(programme, dest["name"], source):
        return "returned"  # back to the applicant, who will send it on to here again
    return "recommended" if roles == {Role.DISTRICT_ADMIN} else "state_changed"


def default_recipients(programme: Programme, event_key: str, transition: dict[str, Any],
                       source: str) -> tuple[str, ...]:
    """Who hears of an event by default: the applicant, and of a submission whoever acts next;
    a withdrawal is told to those who were to act on the entry (if they had seen it)."""
    if event_key == "withdrawn":
        return () if source == programme.initial else actors(programme, source)
    if event_key == "submitted":
        return ("applicant", *actors(programme, transition["dest"]))
    return ("applicant",)


def actors(programme: Programme, state: str) -> tuple[str, ...]:
    """The administrators who move an entry on from ``state``: the district's, else the city's
    (the step a deadline fires is the system's, not theirs)."""
    fired = (programme.states[state].get("deadline") or {}).get("fire")
    roles = {role for t in programme.transitions_from(state) if t["trigger"] != fired
             for role in t["roles"]}
    if Role.DISTRICT_ADMIN in roles:
        return ("district_admins",)
    return ("city_admins",) if Role.CITY_ADMIN in roles else ()


def _reaches(programme: Programme, start: str, target: str) -> bool:
    """Whether an entry in ``start`` can come back to ``target`` (the step went backwards)."""
    reached, frontier = {start}, [start]
    while frontier:
        for t in programme.transitions_from(frontier.pop()):
            if t["dest"] == target:
                return True
            if t["dest"] not in reached:
                reached.add(t["dest"])
                frontier.append(t["dest"])
    return False


def recipients(application: Application, kinds: Iterable[str]) -> list[User]:
    """The users behind recipient kinds: the applicant, the district's or the city's admins.

    Administrators hear of an entry only once they may see it (from its first submission).
    """
    users: list[User] = []
    seen_by_admins = application.submitted_at is not None
    for kind in kinds:
        if kind == "applicant":
            users.append(application.applicant)
        elif kind == "district_admins" and seen_by_admins and application.district_id:
            users += district_admins(application.district_id)
        elif kind == "city_admins" and seen_by_admins:
            users += city_admins()
    return users


def district_admins(district_id: int) -> list[User]:
    """The active administrators of a district."""
    return list(db.session.scalars(
        select(User).join(Organisation, User.org_id == Organisation.id)
        .where(User.role == Role.DISTRICT_ADMIN, User.active.is_(True),
               Organisation.district_id == district_id)
        .options(lazyload(User.org)).order_by(User.id)))


def city_admins() -> list[User]:
    """The active city administrators."""
    return list(db.session.scalars(select(User).where(
        User.role == Role.CITY_ADMIN, User.active.is_(True))
        .options(lazyload(User.org)).order_by(User.id)))


def state_label(programme: Programme, state: str) -> Any:
    """A state's label, in the reader's language when the message is written."""
    return partial(localised, programme.states.get(state) or {"label": state})


def entry_values(application: Application, programme: Programme) -> dict[str, Any]:
    """What every message about an entry may say of it."""
    return {"title": application.title or f"#{application.id}",
            "call": application.call.title,
            "programme": partial(localised, programme.workflow, "title"),
            "unit": application.org.name,
            "district": application.district.name if application.district else ""}


def notify_assignment(assignment: ReviewAssignment) -> None:
    """Tell an expert of a new score sheet; several in one transaction make one message.

    The message names the call and round, never the entry: the round may be blind.
    """
    from app.services.programmes import programme_of

    application = assignment.application
    review_round = programme_of(application).review_round(assignment.round)
    deadline = db.session.scalar(select(CallRound.deadline).filter_by(
        call_id=application.call_id, round=assignment.round))
    values = {"call": application.call.title, "count": "1",
              "deadline": partial(local_text, deadline),
              "round": partial(round_label, review_round) if review_round else assignment.round}
    notify([assignment.expert], "assigned", values, link=site_path("reviewer.queue"),
           group=("assigned", application.call_id, assignment.round))


def notify_certificate(certificate: Certificate) -> None:
    """Tell the applicant that the entry's certificate was issued."""
    application = certificate.application
    values = {"title": application.title or f"#{application.id}",
              "call": certificate.call_title, "programme": certificate.programme_title,
              "unit": certificate.organisation, "award": certificate.award,
              "serial": certificate.serial}
    notify([application.applicant], "certificate_issued", values, application=application,
           link=site_path("applications.detail", application_id=application.id))


def local_text(moment: datetime | None) -> str:
    """A time in Beijing as the reader writes it (2026-06-30 17:00, 30 June 2026 17:00), or
    未设定 (not set)."""
    if moment is None:
        return zh(NOT_SET)
    local = moment.astimezone(LOCAL)
    if english():
        return f"{local.day} {local:%B} {local.year} {local:%H:%M}"
    return local.strftime("%Y-%m-%d %H:%M")


def site_path(endpoint: str, **values: Any) -> str:
    """The path of a page, also outside a request (the worker, the tick)."""
    return current_app.url_map.bind("localhost").build(endpoint, values)


def absolute(path: str) -> str:
    """The full address of a path: PUBLIC_BASE_URL, else the request's host."""
    from app.services.certificates import verify_base

    return verify_base() + path
