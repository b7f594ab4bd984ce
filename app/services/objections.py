"""Public notice (公示) and objections (异议).

A state with a ``notice`` block is a public notice: its entries are listed on the public page with
the fields the definition chooses and the period (from when the first entry reached the state to
its deadline, if it has one). Anyone may raise an objection against a listed entry — name,
contact, reason, an optional evidence file — and gets a receipt code to read the outcome with.
The city decides each objection with a written outcome: sustained fires the transition the
definition names (with the outcome as its comment), dismissed leaves the entry. The guard
``no_open_objection`` keeps the notice from ending while an objection is undecided.
"""

from __future__ import annotations

import os
import secrets
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import IO

import filetype
from flask import current_app
from sqlalchemy import func, select
from sqlalchemy.orm import joinedload

from app.engine.errors import Conflict, Forbidden, TooManyRequests, ValidationFailed
from app.engine.runtime import fire, fitting_comment
from app.extensions import db
from app.i18n import joined, zh
from app.models import Application, Call, Objection, Role, User
from app.models.base import utcnow
from app.services.programmes import entries_in_states_with, programme_of
from app.services.timers import deadline_of

MAX_EVIDENCE = 10 * 1024 * 1024
EVIDENCE_KINDS = {"pdf": "pdf", "jpg": "jpg", "jpeg": "jpg", "png": "png"}
PER_ADDRESS_PER_HOUR = 5


AWARD_COLUMN = "award_level"  # the column of a notice with `show_award`

@dataclass
class NoticeList:
    """One call's entries in public notice."""

    call: Call
    label: str
    columns: list[tuple[str, str]]  # (field key, or AWARD_COLUMN, label)
    entries: list[Application] = field(default_factory=list)
    starts: datetime | None = None
    ends: datetime | None = None  # the moment the notice ends (midnight after its last day)

    @staticmethod
    def value(entry: Application, key: str) -> object:
        """What a column shows for an entry: a form value, or the confirmed award level."""
        return entry.award if key == AWARD_COLUMN else (entry.data or {}).get(key)

    @property
    def last_day(self) -> datetime | None:
        """A moment on the last day of the notice, for showing that day."""
        return self.ends - timedelta(seconds=1) if self.ends else None


def notice_of(application: Application) -> dict[str, object] | None:
    """The notice settings of the entry's current state, if it is a public notice."""
    state = programme_of(application).states.get(application.state) or {}
    notice = state.get("notice")
    return notice if isinstance(notice, dict) else None


def notices() -> list[NoticeList]:
    """Every call with entries in public notice now, in the order the calls were opened."""
    lists: dict[tuple[int, str], NoticeList] = {}
    for application in entries_in_states_with("notice", joinedload(Application.org)):
        notice = notice_of(application)
        assert notice is not None
        programme = programme_of(application)
        key = (application.call_id, application.state)
        if key not in lists:
            form = programme.application_form.by_key
            columns = [(k, str(form[k]["label"])) for k in notice["fields"]]  # type: ignore[attr-defined]
            if notice.get("show_award"):
                columns.append((AWARD_COLUMN, "等级"))
            lists[key] = NoticeList(application.call, programme.label(application.state),
                                    columns)
        group = lists[key]
        group.entries.append(application)
        group.starts = min(filter(None, (group.starts, application.state_since)))
        due = deadline_of(application)
        if due is not None:
            group.ends = max(filter(None, (group.ends, due[0])))
    return list(lists.values())


def submit_objection(application: Application, name: str, contact: str, reason: str,
                     evidence: tuple[str, IO[bytes]] | None, address: str) -> Objection:
    """Record an objection against an entry in public notice; return it with its receipt."""
    if notice_of(application) is None:
        raise Conflict(zh("该申报不在公示期内，不能提出异议"))
    recent = db.session.scalar(select(func.count()).select_from(Objection).where(
        Objection.address == address, Objection.created_at >= utcnow() - timedelta(hours=1)))
    if address and (recent or 0) >= PER_ADDRESS_PER_HOUR:
        raise TooManyRequests(zh("提交过于频繁，请一小时后再试"), {"retry_after": 3600})
    name, contact, reason = name.strip(), contact.strip(), reason.strip()
    problems = {}
    if not 1 <= len(name) <= 50:
        problems["name"] = zh("请填写姓名（不超过 50 字）")
    if not 5 <= len(contact) <= 100:
        problems["contact"] = zh("请填写联系电话或电子邮箱，以便核实")
    if not 10 <= len(reason) <= 2000:
        problems["reason"] = zh("请写明异议的事实和理由（10–2000 字）")
    if problems:
        raise ValidationFailed(zh("异议未提交：%(problems)s",
                                  problems=joined(problems.values(), "；")), problems)
    objection = Objection(application=application, receipt=secrets.token_urlsafe(12),
                          name=name, contact=contact, reason=reason, address=address[:64])
    if evidence is not None:
        objection.evidence_name, objection.evidence_stored = _store_evidence(*evidence)
    db.session.add(objection)
    db.session.flush()
    return objection


def _store_evidence(filename: str, stream: IO[bytes]) -> tuple[str, str]:
    """Check and keep an evidence file; return (name shown, name stored)."""
    name = Path(filename.replace("\\", "/")).name[:200] or "证据"
    extension = name.rsplit(".", 1)[-1].lower() if "." in name else ""
    if extension not in EVIDENCE_KINDS:
        raise ValidationFailed(zh("证据材料须为 PDF、JPG 或 PNG 文件"), {"evidence": extension})
    body = stream.read(MAX_EVIDENCE + 1)
    if len(body) > MAX_EVIDENCE:
        raise ValidationFailed(zh("证据材料不能超过 10 MB"), {"evidence": "too large"})
    if filetype.guess_extension(body[:8192]) != EVIDENCE_KINDS[extension]:
        raise ValidationFailed(zh("文件内容与扩展名 .%(extension)s 不符",
                                  extension=extension), {"evidence": "mismatch"})
    stored = f"{secrets.token_hex(16)}.{EVIDENCE_KINDS[extension]}"
    folder = evidence_folder()
    folder.mkdir(parents=True, exist_ok=True)
    temporary = folder / f"{stored}.part"
    try:  # on disk for good before the row that names it commits
        with temporary.open("wb") as out:
            out.write(body)
            out.flush()
            os.fsync(out.fileno())
        os.replace(temporary, folder / stored)
    finally:
        temporary.unlink(missing_ok=True)
    return name, stored


def evidence_folder() -> Path:
    """Where evidence files are kept (outside anything served directly)."""
    return Path(current_app.config["UPLOAD_FOLDER"]) / "objections"


def by_receipt(receipt: str) -> Objection | None:
    """The objection with this receipt code, if any."""
    if not receipt or len(receipt) > 32:
        return None
    return db.session.scalar(select(Objection).where(Objection.receipt == receipt))


def objections_of(call: Call) -> list[Objection]:
    """The call's objections, open ones first, then the newest."""
    rows = db.session.scalars(select(Objection).join(Application).where(
        Application.call_id == call.id).order_by(Objection.id.desc()))
    return sorted(rows, key=lambda o: o.status != "open")


def decide(objection: Objection, actor: User, sustained: bool, outcome: str) -> Objection:
    """Sustain or dismiss an objection with a written outcome (city administrators).

    Sustaining fires the notice's ``sustained`` transition on the entry, as ``actor``, with the
    outcome as its comment.
    """
    if actor.role != Role.CITY_ADMIN:
        raise Forbidden(zh("只有市级管理员可以处理异议"))
    if objection.status != "open":
        raise Conflict(zh("该异议已处理"))
    outcome = outcome.strip()
    if not 5 <= len(outcome) <= 2000:
        raise ValidationFailed(zh("请写明处理结果（5–2000 字），异议人将看到它"),
                               {"outcome": zh("此项为必填项")})
    objection.status = "sustained" if sustained else "dismissed"
    objection.outcome, objection.decided_by_id, objection.decided_at = outcome, actor.id, utcnow()
    db.session.flush()
    if sustained:
        notice = notice_of(objection.application)
        if notice is None:
            raise Conflict(zh("该申报已不在公示期，异议成立也无法改变其状态，请直接处理该申报"))
        trigger = str(notice["sustained"])
        fire(objection.application, trigger, actor,
             comment=fitting_comment(objection.application, trigger, f"异议成立：{outcome}"))
    return objection
