"""Notification templates: the events, their placeholders, the shipped wording and the city's.

Each event has a subject and a body with ``{placeholders}``. The shipped wording is data
(``app/notification_templates.yaml``); a city administrator may replace it (stored in
``notification_templates``), preview it with sample values and reset it. Texts are filled in by
plain substitution of the known names — never ``str.format`` — so a template cannot reach
attributes or format specifications, and any other ``{…}`` is refused when saved.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

import yaml
from sqlalchemy import event as orm_event
from sqlalchemy import select
from sqlalchemy.orm import Session

from app.engine.errors import Forbidden, ValidationFailed
from app.extensions import db
from app.i18n import joined, zh
from app.models import NotificationTemplate, Role, User
from app.models.base import utcnow

DEFAULTS_FILE = Path(__file__).resolve().parent.parent / "notification_templates.yaml"
PLACEHOLDER = re.compile(r"\{([A-Za-z_][A-Za-z0-9_]*)\}")
SUBJECT_MAX, BODY_MAX = 200, 4000
WORDINGS = "pingshen.wordings"  # the wordings read in this transaction, by event

MOVE = ("name", "title", "call", "programme", "unit", "district", "state", "previous", "action",
        "comment", "link")
REVIEW = ("name", "call", "round", "count", "deadline", "link")  # never an entry's identity:
STAGE = ("name", "title", "call", "programme", "unit", "state", "deadline", "action", "link")
# ↑ experts may review blind, so review messages name the call and round, not the entries.
PLACEHOLDERS: dict[str, tuple[str, ...]] = {
    "submitted": MOVE, "returned": MOVE, "recommended": MOVE, "state_changed": MOVE,
    "result_published": MOVE, "withdrawn": MOVE,
    "assigned": REVIEW, "review_due": REVIEW, "review_overdue": REVIEW,
    "review_escalation": (*REVIEW[:-1], "experts", "link"),
    "stage_due": STAGE, "stage_overdue": STAGE, "stage_escalation": STAGE,
    "certificate_issued": ("name", "title", "call", "programme", "unit", "award", "serial",
                           "link"),
}
EVENTS = tuple(PLACEHOLDERS)
SAMPLE = {  # what the preview fills in
    "name": "张老师", "title": "湖塘太极拳队", "call": "2026年度X市社区教育优秀团队遴选",
    "programme": "社区教育优秀团队遴选", "unit": "湖塘镇社区教育中心", "district": "武进区",
    "state": "区级审核", "previous": "草稿", "action": "提交申报", "comment": "请补充团队章程",
    "round": "市级评审", "count": "3", "deadline": "2026-06-30 17:00",
    "experts": "王教授：2 份\n李老师：1 份", "award": "社区教育优秀团队",
    "serial": "YXTD-2026-0001", "link": "https://pingshen.example.gov.cn/applications/1",
}


@dataclass(frozen=True)
class Wording:
    """The subject and body of one event, and whether the city changed them."""

    event: str
    subject: str
    body: str
    customised: bool = False


@cache
def defaults() -> dict[str, dict[str, str]]:
    """The shipped wording, by event (read once; checked by ``check_defaults``)."""
    with DEFAULTS_FILE.open(encoding="utf-8") as source:
        data: dict[str, dict[str, str]] = yaml.safe_load(source)
    return data


def check_defaults() -> list[str]:
    """Problems in the shipped file: events missing or unknown, placeholders it may not use,
    an English text missing or using other placeholders than the Chinese one."""
    data = defaults()
    problems = [f"{event}: no default wording" for event in EVENTS if event not in data]
    problems += [f"{event}: unknown event" for event in data if event not in PLACEHOLDERS]
    for event, item in data.items():
        if event not in PLACEHOLDERS:
            continue
        for suffix in ("", "_en"):
            subject, body = item.get(f"subject{suffix}", ""), item.get(f"body{suffix}", "")
            try:
                check_wording(event, subject, body)
            except ValidationFailed as exc:
                problems.append(f"{event}{suffix}: {exc.message}")
        chinese, english = (set(PLACEHOLDER.findall(item.get(f"subject{s}", "")
                                                     + item.get(f"body{s}", "")))
                            for s in ("", "_en"))
        if chinese != english:
            problems.append(f"{event}_en: placeholders differ from the Chinese: "
                            f"{sorted(chinese ^ english)}")
    return problems


def event_label(event: str, english: bool = False) -> str:
    """The event's name for people (Chinese, or English when asked)."""
    item = defaults().get(event, {})
    return str(english and item.get("label_en") or item.get("label") or event)


def wording(event: str, english: bool = False) -> Wording:
    """The wording in use: in Chinese the city's, else the shipped one; in English the shipped
    English one (the city edits the Chinese wording only)."""
    item = defaults()[event]
    if english:
        return Wording(event, item["subject_en"], item["body_en"].rstrip("\n"))
    known: dict[str, Wording] = db.session.info.setdefault(WORDINGS, {})
    if event not in known:  # read once per transaction: a bulk move writes hundreds
        stored = db.session.scalar(select(NotificationTemplate).filter_by(event=event))
        known[event] = (Wording(event, stored.subject, stored.body, customised=True)
                        if stored is not None
                        else Wording(event, item["subject"], item["body"].rstrip("\n")))
    return known[event]


@orm_event.listens_for(Session, "after_commit")
@orm_event.listens_for(Session, "after_rollback")
def _forget_wordings(session: Session) -> None:
    """A wording the city changes is read again by the next transaction."""
    session.info.pop(WORDINGS, None)


def render(event: str, values: dict[str, Any], text: Wording | None = None) -> tuple[str, str]:
    """Fill in the subject and body of ``event`` with ``values`` (missing ones stay empty)."""
    text = text or wording(event)
    known = set(PLACEHOLDERS[event])

    def fill(match: re.Match[str]) -> str:
        name = match.group(1)
        return str(values.get(name, "")) if name in known else match.group(0)

    subject = " ".join(PLACEHOLDER.sub(fill, text.subject).split())  # one line
    return subject[:300], PLACEHOLDER.sub(fill, text.body)


def check_wording(event: str, subject: str, body: str) -> tuple[str, str]:
    """Refuse an empty or too long text and any ``{…}`` that is not a placeholder of the event."""
    if event not in PLACEHOLDERS:
        raise ValidationFailed(zh("没有这种通知：%(event)s", event=event), {"event": event})
    subject, body = subject.strip(), body.strip().replace("\r\n", "\n")
    errors = {}
    for key, text, limit, label in (("subject", subject, SUBJECT_MAX, zh("标题")),
                                    ("body", body, BODY_MAX, zh("正文"))):
        if not text:
            errors[key] = zh("%(label)s不能为空", label=label)
        elif len(text) > limit:
            errors[key] = zh("%(label)s不能超过 %(limit)s 字", label=label, limit=limit)
        elif problem := _placeholder_problem(event, text):
            errors[key] = problem
    if "subject" not in errors and "\n" in subject:
        errors["subject"] = zh("标题只能有一行")
    if errors:
        raise ValidationFailed(zh("通知模板有误：%(errors)s", errors=joined(errors.values(), "；")),
                               errors)
    return subject, body


def _placeholder_problem(event: str, text: str) -> str | None:
    """Why the placeholders of ``text`` cannot be used for ``event`` (None: they can)."""
    known = PLACEHOLDERS[event]
    unknown = sorted({name for name in PLACEHOLDER.findall(text) if name not in known})
    listed = joined(f"{{{name}}}" for name in known)
    if unknown:
        names = joined(f"{{{name}}}" for name in unknown)
        return zh("不认识的占位符 %(names)s；此通知可用的占位符：%(listed)s", names=names,
                  listed=listed)
    stray = PLACEHOLDER.sub("", text)
    if "{" in stray or "}" in stray:
        return zh("花括号只能用于占位符，请删除多余的“{”或“}”；此通知可用的占位符：%(listed)s",
                  listed=listed)
    return None


def preview(event: str, subject: str, body: str) -> tuple[str, str]:
    """The text as a recipient would read it, filled in with sample values (checked first)."""
    subject, body = check_wording(event, subject, body)
    return render(event, SAMPLE, Wording(event, subject, body))


def save_wording(event: str, subject: str, body: str, actor: User) -> NotificationTemplate:
    """Store the city's wording of an event (checked); it is used from the next message on."""
    _require_city(actor)
    subject, body = check_wording(event, subject, body)
    stored = db.session.scalar(select(NotificationTemplate).filter_by(event=event))
    if stored is None:
        stored = NotificationTemplate(event=event, subject=subject, body=body)
        db.session.add(stored)
    stored.subject, stored.body = subject, body
    stored.updated_by_id, stored.updated_at = actor.id, utcnow()
    db.session.flush()
    db.session.info.pop(WORDINGS, None)
    return stored


def reset_wording(event: str, actor: User) -> None:
    """Go back to the shipped wording of an event."""
    _require_city(actor)
    if event not in PLACEHOLDERS:
        raise ValidationFailed(zh("没有这种通知：%(event)s", event=event), {"event": event})
    stored = db.session.scalar(select(NotificationTemplate).filter_by(event=event))
    if stored is not None:
        db.session.delete(stored)
        db.session.flush()
    db.session.info.pop(WORDINGS, None)


def _require_city(actor: User) -> None:
    """The wording of notifications is the city's to change."""
    if actor.role != Role.CITY_ADMIN:
        raise Forbidden(zh("只有市级管理员可以修改通知模板"))
