"""Turn models and definitions into the JSON the API documents (UTC ISO times, numbers)."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

from flask import url_for
from sqlalchemy import select

from app.engine.definitions import Programme
from app.engine.runtime import Availability, available_transitions
from app.extensions import db
from app.models import (
    Application,
    Attachment,
    AuditEntry,
    Call,
    Certificate,
    Job,
    Organisation,
    ReviewAssignment,
    Role,
    User,
)
from app.models.base import utcnow
from app.permissions import can_see_step_data
from app.services.blind import blind_entries, entry_title, entry_titles, entry_view
from app.services.certificates import verify_url
from app.services.programmes import programme_of
from app.services.rounds import entry_scores

JSON = dict[str, Any]
LOCAL = ZoneInfo("Asia/Shanghai")
STATE_KEYS = ("name", "label", "label_en", "description", "final", "outcome", "editable",
              "review", "fill")
TRANSITION_KEYS = ("trigger", "label", "label_en", "description", "source", "dest", "roles",
                   "form", "guards", "actions", "comment", "style")
ADMINS = {Role.CITY_ADMIN, Role.DISTRICT_ADMIN}


def iso(moment: datetime | None) -> str | None:
    """A timestamp as ISO 8601 in UTC, with its offset."""
    return None if moment is None else moment.astimezone(UTC).isoformat()


def number(value: Decimal | str | float | None) -> int | float | None:
    """A decimal as a JSON number: whole numbers as integers."""
    if value is None:
        return None
    decimal = Decimal(str(value))
    return int(decimal) if decimal == decimal.to_integral_value() else float(decimal)


def pick(source: dict[str, Any], keys: tuple[str, ...]) -> JSON:
    """The listed keys of a definition dict."""
    return {key: source.get(key) for key in keys}


def org_json(org: Organisation) -> JSON:
    """An organisation with its district's code."""
    return {"code": org.code, "name": org.name, "kind": org.kind,
            "district": org.district.code if org.district else None}


def user_json(user: User) -> JSON:
    """A user as others may see them."""
    return {"username": user.username, "name": user.name, "role": user.role,
            "org": org_json(user.org)}


def programme_summary(programme: Programme) -> JSON:
    """A programme's identity."""
    workflow = programme.workflow
    return {"key": programme.key, "title": programme.title, "title_en": workflow["title_en"],
            "version": programme.version, "code": workflow["code"],
            "description": workflow["description"]}


def programme_json(programme: Programme) -> JSON:
    """The whole definition: states, transitions, forms with all field keys, rubrics."""
    workflow = programme.workflow
    return {
        **programme_summary(programme),
        "initial": programme.initial, "form": workflow["form"],
        "title_field": workflow["title_field"],
        "states": [pick(state, STATE_KEYS) for state in workflow["states"]],
        "transitions": [pick(t, TRANSITION_KEYS) for t in workflow["transitions"]],
        "forms": {key: form.raw for key, form in programme.forms.items()},
        "rubrics": {key: rubric.raw for key, rubric in programme.rubrics.items()},
    }


def call_json(call: Call) -> JSON:
    """A call with its quotas by district code."""
    return {"id": call.id, "programme": call.programme_key, "title": call.title,
            "year": call.year, "description": call.description, "opens_at": iso(call.opens_at),
            "closes_at": iso(call.closes_at), "open": call.is_open(utcnow()),
            "quotas": {q.district.code: q.quota for q in call.quotas if q.quota is not None},
            "minimums": {q.district.code: q.minimum for q in call.quotas
                         if q.minimum is not None}}


def application_summaries(applications: list[Application], viewer: User) -> list[JSON]:
    """What a list shows of each application (without its identity to a blind reviewer)."""
    blind = blind_entries(applications, viewer)
    return [_summary(a, a.id in blind) for a in applications]


def _summary(application: Application, blind: bool) -> JSON:
    """The list fields, as the viewer may see them."""
    programme = programme_of(application)
    return {
        "id": application.id, "call_id": application.call_id,
        "title": entry_title(application, blind),
        "state": application.state, "state_label": programme.label(application.state),
        "version": application.version,
        "applicant": None if blind else application.applicant.username,
        "organisation": None if blind else org_json(application.org),
        "district": application.district.code if application.district and not blind
        else None,
        "submitted_at": iso(application.submitted_at), "created_at": iso(application.created_at),
        "updated_at": iso(application.updated_at),
    }


def application_json(application: Application, viewer: User) -> JSON:
    """Everything the viewer may know about an application, and what they may do next."""
    programme = programme_of(application)
    state = programme.states[application.state]
    view = entry_view(application, viewer)
    with_steps = can_see_step_data(viewer) and not view.blind  # ranks and opinions
    return {
        **_summary(application, view.blind),
        "blind": view.blind, "hidden_fields": sorted(view.hidden),
        "call": {"id": application.call.id, "title": application.call.title},
        "programme": {"key": programme.key, "version": programme.version},
        "state_label_en": state["label_en"], "final": state["final"],
        "outcome": state["outcome"], "editable": programme.editable(application.state),
        "editable_fields": [f["key"] for f in programme.form_in(application.state).fields]
        if programme.editable(application.state) else [],
        "data": view.data,
        "step_data": application.step_data or {} if with_steps else {},
        "history": [] if view.blind else [history_json(entry, with_steps)
                                          for entry in application.history],
        "available_transitions": [availability_json(move)
                                  for move in available_transitions(application, viewer)],
        "score": _score(application, viewer, state["final"]),
        "award": application.award if viewer.role in ADMINS or state["final"] else None,
        "attachments": [attachment_json(a, view.file_name(a)) for a in view.attachments],
        "certificates": [certificate_json(c) for c in db.session.scalars(
            select(Certificate).where(Certificate.application_id == application.id)
            .order_by(Certificate.id))],
    }


def _score(application: Application, viewer: User, final: bool) -> int | float | None:
    """The final (weighted) score: administrators always, others once the entry is final."""
    if viewer.role not in ADMINS and not final:
        return None
    return number(entry_scores(application).final)


def history_json(entry: AuditEntry, with_steps: bool = True) -> JSON:
    """One audit row (its step form's values only when ``with_steps``)."""
    return {"trigger": entry.trigger, "from": entry.from_state, "to": entry.to_state,
            "actor": entry.actor.username if entry.actor else None,
            "actor_name": entry.actor.display_name if entry.actor else None,
            "at": iso(entry.at), "comment": entry.comment,
            "data": entry.data or {} if with_steps else {},
            "bulk_id": entry.bulk_id, "definition_version": entry.definition_version}


def availability_json(move: Availability) -> JSON:
    """A move the viewer's role could make now, and why it is refused if it is."""
    transition = move.transition
    return {"trigger": move.trigger, "label": transition["label"],
            "label_en": transition["label_en"], "dest": transition["dest"],
            "allowed": move.allowed, "reasons": list(move.reasons), "form": transition["form"],
            "comment": transition["comment"], "style": transition["style"]}


def attachment_json(attachment: Attachment, name: str | None = None) -> JSON:
    """An uploaded file (under `name`, when the viewer may not see the real one) and its URL."""
    return {"id": attachment.id, "field": attachment.field_key,
            "name": attachment.original_name if name is None else name,
            "size": attachment.size, "content_type": attachment.content_type,
            "uploaded_at": iso(attachment.uploaded_at),
            "url": url_for("api.download_attachment", application_id=attachment.application_id,
                           attachment_id=attachment.id)}


def certificate_json(certificate: Certificate) -> JSON:
    """A certificate of an application, with its PDF and public verification URLs."""
    return {"id": certificate.id, "serial": certificate.serial, "code": certificate.code,
            "holder": certificate.holder, "issued_on": certificate.issued_on.isoformat(),
            "status": certificate.status, "reason": certificate.revoked_reason,
            "pdf_url": url_for("api.certificate_pdf", application_id=certificate.application_id,
                               certificate_id=certificate.id),
            "verify_url": verify_url(certificate.code)}


def job_json(record: Job) -> JSON:
    """A background job and its progress (``percent`` is for progress bars)."""
    total = max(record.total, 0)
    done = min(record.done, total)
    return {
        "id": record.id, "kind": record.kind, "call_id": record.call_id,
        "status": record.status, "total": total, "done": done, "failed": record.failed,
        "percent": 100 if record.status == "done" else (done * 100 // total if total else 0),
        "error": record.error or None, "resumed": record.resumed,
        "options": dict(record.options or {}),
        "created_at": iso(record.created_at), "started_at": iso(record.started_at),
        "finished_at": iso(record.finished_at),
    }


def certificate_facts(certificate: Certificate, replacement: Certificate | None = None) -> JSON:
    """Only what the certificate prints, and its status (public)."""
    return {"serial": certificate.serial, "title": certificate.title,
            "holder": certificate.holder, "organisation": certificate.organisation,
            "programme_title": certificate.programme_title,
            "call_title": certificate.call_title, "award": certificate.award,
            "issuer": certificate.issuer, "issued_on": certificate.issued_on.isoformat(),
            "status": certificate.status, "valid": certificate.status == "valid",
            "revoked_on": certificate.revoked_at.astimezone(LOCAL).date().isoformat()
            if certificate.revoked_at else None,
            "replaced_by": replacement.serial if replacement is not None else None}


def assignment_json(sheet: ReviewAssignment) -> JSON:
    """An expert's assignment as the city administrator sees it."""
    return {"id": sheet.id, "application_id": sheet.application_id,
            "expert": sheet.expert.username, "expert_name": sheet.expert.display_name,
            "rubric": sheet.rubric_key, "status": sheet.status, "total": number(sheet.total),
            "assigned_at": iso(sheet.assigned_at), "submitted_at": iso(sheet.submitted_at)}


def review_json(sheet: ReviewAssignment, viewer: User) -> JSON:
    """A score sheet with the rubric's criteria, as the expert fills it in."""
    return reviews_json([sheet], viewer)[0]


def reviews_json(sheets: list[ReviewAssignment], viewer: User) -> list[JSON]:
    """Score sheets as `review_json` shows each (the titles looked up once for them all)."""
    titles = entry_titles([sheet.application for sheet in sheets], viewer)
    return [_review(sheet, titles[sheet.application_id]) for sheet in sheets]


def _review(sheet: ReviewAssignment, title: str) -> JSON:
    """One sheet, its entry shown with ``title``."""
    application = sheet.application
    rubric = programme_of(application).rubrics[sheet.rubric_key]
    leaves = [pick(leaf, ("key", "label", "label_en", "description", "max", "bands",
                          "comment_below")) for leaf in rubric.leaves]
    return {"id": sheet.id, "expert": sheet.expert.username,
            "application": {"id": application.id, "title": title},
            "round": sheet.round, "extra": sheet.extra,
            "rubric": {"key": sheet.rubric_key, "title": rubric.raw["title"],
                       "title_en": rubric.raw["title_en"], "max": number(rubric.raw["max"]),
                       "criteria": leaves, "vetoes": rubric.raw["vetoes"]},
            "vetoes": list(sheet.vetoes or []),
            "revisions": [{"scores": {k: number(v) for k, v in old.scores.items()},
                           "total": number(old.total), "comment": old.comment,
                           "vetoes": list(old.vetoes or []),
                           "submitted_at": iso(old.submitted_at),
                           "reopened_at": iso(old.reopened_at),
                           "reopened_by": old.reopened_by.username, "reason": old.reason}
                          for old in sheet.revisions],
            "withdrawal": None if sheet.withdrawn_at is None else {
                "at": iso(sheet.withdrawn_at), "reason": sheet.withdrawal_reason,
                "by": sheet.withdrawn_by.username if sheet.withdrawn_by else None},
            "conflict": {"checked_at": iso(sheet.conflict_checked_at),
                         "declared": sheet.status == "conflict",
                         "reason": sheet.conflict_reason},
            "status": sheet.status, "locked": sheet.locked,
            "scores": {key: number(value) for key, value in (sheet.scores or {}).items()},
            "total": number(sheet.total), "comment": sheet.comment,
            "assigned_at": iso(sheet.assigned_at), "submitted_at": iso(sheet.submitted_at)}
