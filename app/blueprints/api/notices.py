"""Public notice and objections over the API: the list and raising or reading an objection are
public; the city lists and decides the objections of a call."""

from __future__ import annotations

from typing import Any

from flask import request

from app.blueprints.api.common import bp, get_or_404, json_body, public, require_role
from app.blueprints.api.serializers import iso
from app.engine.errors import NotFound, ValidationFailed
from app.extensions import db
from app.i18n import zh
from app.models import Application, Call, Objection, Role
from app.services import objections


@bp.get("/notices")
@public
def list_notices() -> Any:
    """Every call's entries in public notice, with the period and the fields shown."""
    return [{
        "call_id": group.call.id, "call_title": group.call.title, "state_label": group.label,
        "starts": iso(group.starts), "ends": iso(group.ends),
        "columns": [{"key": key, "label": label} for key, label in group.columns],
        "entries": [{"id": entry.id, "unit": entry.org.name,
                     "values": {key: group.value(entry, key) for key, _ in group.columns}}
                    for entry in group.entries],
    } for group in objections.notices()]


@bp.post("/applications/<int:application_id>/objections")
@public
def raise_objection(application_id: int) -> Any:
    """Raise an objection: JSON {name, contact, reason}, or multipart with a file `evidence`."""
    application = get_or_404(Application, application_id, zh("申报不存在"))
    if request.mimetype == "multipart/form-data":
        fields = {key: request.form.get(key, "") for key in ("name", "contact", "reason")}
        upload = request.files.get("evidence")
        evidence = (upload.filename or "", upload.stream) if upload and upload.filename else None
    else:
        body = json_body({"name": "string", "contact": "string", "reason": "string"})
        fields, evidence = {k: body[k] for k in ("name", "contact", "reason")}, None
    objection = objections.submit_objection(application, **fields, evidence=evidence,
                                            address=request.remote_addr or "")
    db.session.commit()
    return _public_json(objection), 201


@bp.get("/objections/<receipt>")
@public
def objection_by_receipt(receipt: str) -> Any:
    """What became of an objection, read with its receipt code."""
    objection = objections.by_receipt(receipt)
    if objection is None:
        raise NotFound(zh("没有这个回执码对应的异议"), {"receipt": receipt[:32]})
    return _public_json(objection)


@bp.get("/calls/<int:call_id>/objections")
def call_objections(call_id: int) -> Any:
    """The call's objections with the objectors' contact details (city)."""
    require_role(Role.CITY_ADMIN)
    call = get_or_404(Call, call_id, zh("批次不存在"))
    return [{**_public_json(o), "id": o.id, "application_id": o.application_id,
             "name": o.name, "contact": o.contact, "reason": o.reason,
             "evidence": o.evidence_name} for o in objections.objections_of(call)]


@bp.post("/objections/<int:objection_id>/decide")
def decide_objection(objection_id: int) -> Any:
    """Sustain or dismiss: {"decision": "sustained" | "dismissed", "outcome": "..."} (city)."""
    user = require_role(Role.CITY_ADMIN)
    objection = get_or_404(Objection, objection_id, zh("异议不存在"))
    body = json_body({"decision": "string", "outcome": "string"})
    if body["decision"] not in ("sustained", "dismissed"):
        raise ValidationFailed(zh("decision 应为 sustained 或 dismissed"),
                               {"decision": str(body["decision"])[:20]})
    objections.decide(objection, user, body["decision"] == "sustained", body["outcome"])
    db.session.commit()
    return _public_json(objection)


def _public_json(objection: Objection) -> dict[str, Any]:
    """What the objector may read: the entry, status and outcome (no contact details)."""
    return {"receipt": objection.receipt, "entry": objection.application.title,
            "call": objection.application.call.title, "status": objection.status,
            "outcome": objection.outcome or None, "received_at": iso(objection.created_at),
            "decided_at": iso(objection.decided_at)}
