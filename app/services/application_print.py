"""The printed application (申报书): an entry as a tidy PDF in the programme's own layout.

A cover (programme, call, title, unit, district, submission), the filled form section by section
(tables as tables; stage sections once the entry has reached them, as on its page), and the list
of attachments. Administrators' copies add what their entry page shows them: the result
(state, award, recommendation, certificate serials) and the record of moves for district and
city; the review summary for the city (each round's result; experts of a blind round are not
named). The document is Chinese whoever prints it: it is the bureau's paper.

The HTML comes from the app's own template with every value escaped, and WeasyPrint loads
nothing but the bundled fonts (app.certificates.render.render_document).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

from flask import current_app
from sqlalchemy import select

from app.certificates.render import font_weight, render_document
from app.engine.definitions import FormDef, Programme
from app.engine.errors import Forbidden
from app.engine.formdata import plain_number
from app.extensions import db
from app.i18n import zh
from app.models import Application, Attachment, Certificate, ReviewAssignment, Role, User
from app.models.base import utcnow
from app.permissions import can_view_application
from app.services.exports import METHODS
from app.services.programmes import programme_of
from app.services.rounds import entry_scores

CSS_FILE = Path(__file__).resolve().parent.parent / "templates" / "print" / "application.css"
CERTIFICATE_STATUS = {"valid": "有效", "revoked": "已撤销", "replaced": "已换发"}


@dataclass(frozen=True)
class Shown:
    """A field as printed: its label and text, or the header and rows of a table."""

    label: str
    text: str = ""
    wide: bool = False  # a long text or a table: printed across the whole width
    headers: list[str] = field(default_factory=list)
    rows: list[list[str]] = field(default_factory=list)


def may_print(viewer: User, application: Application) -> bool:
    """Who may print an entry: its applicant (drafts too: a copy to stamp and upload), and the
    city and its district's administrators once it is submitted — as they may open it."""
    if viewer.role not in (Role.APPLICANT, Role.DISTRICT_ADMIN, Role.CITY_ADMIN):
        return False
    return can_view_application(viewer, application)


def application_pdf(application: Application, viewer: User) -> bytes:
    """The 申报书 of ``application`` as ``viewer`` may print it."""
    if not may_print(viewer, application):
        raise Forbidden(zh("无权打印该申报书"))
    html = current_app.jinja_env.get_template("print/application.html").render(
        **print_context(application, viewer))
    return render_document(html, _css(), f"application {application.id}")


def _css() -> str:
    """The stylesheet of the printed application (read once per process)."""
    cached: str | None = current_app.extensions.get("pingshen.print_css")
    if cached is None:
        cached = current_app.extensions["pingshen.print_css"] = CSS_FILE.read_text()
    return cached


def print_context(application: Application, viewer: User) -> dict[str, Any]:
    """Everything the printed application shows to this viewer."""
    programme = programme_of(application)
    admin = viewer.role in (Role.DISTRICT_ADMIN, Role.CITY_ADMIN)
    return {
        "application": application, "programme": programme,
        "state": programme.label(application.state),
        "title_bold": font_weight(application.title or "", 700) == 700,
        "sections": sections(programme.form_shown(application), application),
        "attachments": [(_field_label(programme, a), a) for a in application.attachments],
        "printed_at": utcnow(), "admin": admin,
        "certificates": _certificates(application) if admin else [],
        "history": _history(programme, application) if admin else [],
        "review": _review(programme, application) if viewer.role == Role.CITY_ADMIN else None,
        "filesize": filesize,
    }


def sections(form: FormDef, application: Application) -> list[tuple[str, list[Shown]]]:
    """The form's sections with each field as printed."""
    data = application.data or {}
    return [(str(section["title"]), [shown(f, data.get(f["key"]), application)
                                      for f in section["fields"]])
            for section in form.raw["sections"]]


def shown(fdef: dict[str, Any], value: Any, application: Application | None = None) -> Shown:
    """One field as printed: files by name, tables as rows, the rest as text."""
    label = str(fdef["label"])
    kind = fdef["type"]
    if kind == "file":
        names = [a.original_name for a in (application.attachments if application else [])
                 if a.field_key == fdef["key"]]
        return Shown(label, "、".join(names) if names else "（未上传）")
    if kind == "table":
        return Shown(label, "" if value else "—", True,
                     [str(c["label"]) for c in fdef["columns"]],
                     [[text(c, row.get(c["key"])) for c in fdef["columns"]]
                      for row in value or []])
    return Shown(label, text(fdef, value) or "—", kind == "textarea")


def text(fdef: dict[str, Any], value: Any) -> str:
    """A stored value as people read it: labels of choices, 是/否, numbers with their unit."""
    if value is None or value == "" or value == []:
        return ""
    kind = fdef["type"]
    if kind == "boolean":
        return "是" if value else "否"
    if kind in ("choice", "multi_choice"):
        labels = {c["value"]: str(c["label"]) for c in fdef["choices"]}
        chosen = value if isinstance(value, list) else [value]
        return "、".join(labels.get(str(v), str(v)) for v in chosen)
    if kind in ("integer", "decimal") and isinstance(value, int | float):
        unit = fdef.get("unit")
        return plain_number(value) + (f" {unit}" if unit else "")
    return "、".join(map(str, value)) if isinstance(value, list) else str(value)


def filesize(size: int) -> str:
    """A file size as the entry page shows it (KB, or MB from one megabyte)."""
    if size >= 1024 * 1024:
        return f"{size / 1024 / 1024:.1f} MB"
    return f"{max(1, -(-size // 1024))} KB"


def _field_label(programme: Programme, attachment: Attachment) -> str:
    """The label of the form field an attachment was uploaded for."""
    found = programme.application_form.by_key.get(attachment.field_key)
    return str(found["label"]) if found else attachment.field_key


def _certificates(application: Application) -> list[tuple[Certificate, str]]:
    """The entry's certificates with their status in words."""
    return [(c, CERTIFICATE_STATUS.get(c.status, c.status)) for c in db.session.scalars(
        select(Certificate).where(Certificate.application_id == application.id)
        .order_by(Certificate.id))]


@dataclass(frozen=True)
class Move:
    """One recorded move as printed."""

    at: datetime
    actor: str
    action: str
    states: str
    comment: str
    data: list[tuple[str, str]]


def _history(programme: Programme, application: Application) -> list[Move]:
    """Every move of the entry, oldest first, with its step form's values."""
    moves = []
    for entry in application.history:
        transition = next((t for t in programme.transitions if t["trigger"] == entry.trigger),
                          None)
        form = programme.forms.get(transition["form"]) if transition and transition["form"] \
            else None
        data = [(str(f["label"]), text(f, (entry.data or {}).get(f["key"])))
                for f in (form.fields if form else [])
                if (entry.data or {}).get(f["key"]) not in (None, "", [])]
        states = (f"{programme.label(entry.from_state)} → " if entry.from_state else "") + \
            programme.label(entry.to_state)
        moves.append(Move(entry.at, entry.actor.display_name if entry.actor else "系统",
                          str(transition["label"]) if transition else "创建", states,
                          entry.comment or "", data))
    return moves


@dataclass(frozen=True)
class RoundSummary:
    """One review round of the entry: its result and the submitted sheets."""

    label: str
    blind: bool
    score: Any
    sheets: int
    method: str
    spread: Any
    vetoed: bool
    experts: list[tuple[str, Any, str]]  # (who, total, comment)


def _review(programme: Programme, application: Application) -> dict[str, Any]:
    """Each round's result with its sheets, and the final score (for the city)."""
    scores = entry_scores(application)
    sheets = list(db.session.scalars(select(ReviewAssignment).where(
        ReviewAssignment.application_id == application.id,
        ReviewAssignment.status == "submitted").order_by(ReviewAssignment.id)))
    rounds = []
    for name, review_round in programme.rounds.items():
        result = scores.rounds.get(name)
        mine = [s for s in sheets if s.round == name]
        if result is None and not mine:
            continue
        experts = [(f"专家{n}" if review_round.blind else s.expert.display_name, s.total,
                    s.comment or "") for n, s in enumerate(mine, start=1)]
        rounds.append(RoundSummary(
            review_round.label, review_round.blind, result.score if result else None,
            len(mine), METHODS.get(result.method_used, result.method_used) if result else "",
            result.spread if result else None, bool(result and result.vetoed), experts))
    return {"rounds": rounds, "final": scores.final}
