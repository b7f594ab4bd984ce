"""Certificates: issuing (serials, verification codes, PDF files), revoking and reissuing."""

from __future__ import annotations

import os
import secrets
from datetime import datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from flask import current_app, has_request_context, request
from sqlalchemy import select, update

from app.certificates.render import (
    CertificateFacts,
    CertificateTemplateError,
    MissingGlyphError,
    check_glyphs,
    render_certificate,
    render_html,
)
from app.engine.definitions import Programme
from app.engine.errors import Conflict, Forbidden, ValidationFailed
from app.engine.workflow_schema import DEFAULT_TEXT
from app.extensions import db
from app.i18n import zh
from app.models import Application, Certificate, Role, SerialCounter, User
from app.models.base import insert_ignoring_duplicates, utcnow
from app.services.certificate_templates import issuer_marks, template_for
from app.services.notifications import notify_certificate
from app.services.programmes import programme_of

LOCAL = ZoneInfo("Asia/Shanghai")


def issue_certificate(application: Application, programme: Programme, now: datetime, *,
                      trial: bool = True) -> Certificate:
    """Create the certificate for an awarded entry, with the next serial of its year.

    Every field is checked against the fonts; with ``trial`` the template is also filled in
    (a few ms: the bulk job does it once per template), so a template that fails refuses here.
    """
    settings = programme.workflow["certificate"]
    if settings is None:
        raise Conflict(zh("项目“%(title)s”未配置证书", title=programme.title))
    existing = db.session.scalar(select(Certificate).where(
        Certificate.application_id == application.id, Certificate.status == "valid"))
    if existing is not None:
        return existing
    issued_on = now.astimezone(LOCAL).date()
    year = application.call.year
    sequence = next_serial(programme.key, year)
    serial = settings["serial"].format(code=programme.workflow["code"], year=year, seq=sequence)
    holder = str(application.data.get(settings["holder_field"]) or application.title)
    certificate = Certificate(
        application=application, serial=serial, code=secrets.token_urlsafe(20),
        title=settings["title"], holder=holder, organisation=application.org.name,
        programme_title=programme.title, call_title=application.call.title,
        award=application.award or settings["award"],
        issuer=current_app.config["CERTIFICATE_ISSUER"],
        issued_on=issued_on,
    )
    _check_printable(facts_of(certificate, verify_url(certificate.code)), trial)
    db.session.add(certificate)
    db.session.flush()
    notify_certificate(certificate)
    return certificate


def _check_printable(facts: CertificateFacts, trial: bool) -> None:
    """Refuse now, inside the transaction, rather than print a blank or fail later."""
    try:
        if trial:
            render_html(facts)
        else:
            check_glyphs(facts)
    except MissingGlyphError as exc:
        raise ValidationFailed(str(exc), {"characters": list(exc.chars)}) from None
    except CertificateTemplateError as exc:
        raise Conflict(str(exc), {"template": facts.layout.key}) from None


def next_serial(programme_key: str, year: int) -> int:
    """Take the next number for (programme, year): an UPDATE that locks the counter row."""
    row_filter = (SerialCounter.programme_key == programme_key, SerialCounter.year == year)
    if db.session.scalar(select(SerialCounter.id).where(*row_filter)) is None:
        db.session.execute(insert_ignoring_duplicates(SerialCounter).values(
            programme_key=programme_key, year=year, last=0))
    value = db.session.scalar(
        update(SerialCounter).where(*row_filter)
        .values(last=SerialCounter.last + 1).returning(SerialCounter.last)
    )
    assert value is not None
    return value


def pdf_path(certificate: Certificate) -> Path:
    """Where the certificate's PDF is kept (named by its unguessable code)."""
    return Path(current_app.config["CERTIFICATE_FOLDER"]) / f"{certificate.code}.pdf"


def certificate_pdf(certificate: Certificate, url: str | None = None) -> Path:
    """Return the PDF file of a certificate, rendering it first if it is not there yet."""
    path = pdf_path(certificate)
    if not path.exists():
        _write_pdf(certificate, path, url or verify_url(certificate.code))
    return path


def verify_base() -> str:
    """The public address of the site: PUBLIC_BASE_URL, else the request's host."""
    base = current_app.config.get("PUBLIC_BASE_URL") or (
        request.host_url if has_request_context() else "http://127.0.0.1:5000/")
    return str(base).rstrip("/")


def verify_url(code: str, base: str | None = None) -> str:
    """The public URL printed in the QR code."""
    return f"{(base or verify_base()).rstrip('/')}/verify/{code}"


def render_later(certificate: Certificate) -> None:
    """Have the background worker draw the PDF once the transaction commits, so that the
    first download is immediate (a download before that draws it on the spot)."""
    from app.jobs import enqueue_after_commit

    enqueue_after_commit("render_certificates", None, [certificate.id], verify_base())


def _write_pdf(certificate: Certificate, path: Path, url: str) -> None:
    """Render the PDF and move it into place atomically."""
    pdf = render_certificate(facts_of(certificate, url))
    path.parent.mkdir(parents=True, exist_ok=True)
    temporary = path.with_suffix(f".{secrets.token_hex(4)}.tmp")
    temporary.write_bytes(pdf)
    os.replace(temporary, path)


class FormValues:
    """The entry's form values for ``{field.<key>}`` in certificate text (the validator allows
    only short fields' keys there); an empty field prints nothing."""

    def __init__(self, data: dict[str, Any]) -> None:
        self._data = data

    def __getattr__(self, key: str) -> str:
        value = self._data.get(key)
        return "" if value is None else str(value)


def facts_of(certificate: Certificate, url: str) -> CertificateFacts:
    """What the renderer prints: the frozen certificate row, in the wording of its programme."""
    programme = programme_of(certificate.application)
    settings = programme.workflow["certificate"] or {}
    values = {"holder": certificate.holder, "organisation": certificate.organisation,
              "call": certificate.call_title, "programme": certificate.programme_title,
              "award": certificate.award, "year": str(certificate.application.call.year),
              "field": FormValues(certificate.application.data or {})}
    text = tuple(line.format_map(values) for line in settings.get("text", DEFAULT_TEXT))
    return CertificateFacts(
        text=text, template=template_for(programme, certificate.award), marks=issuer_marks(),
        serial=certificate.serial, code=certificate.code, holder=certificate.holder,
        organisation=certificate.organisation, programme_title=certificate.programme_title,
        call_title=certificate.call_title, award=certificate.award, issuer=certificate.issuer,
        issued_on=certificate.issued_on, verify_url=url, title=certificate.title,
        designation=settings.get("award", ""),
    )


def revoke_certificate(certificate: Certificate, actor: User, reason: str) -> Certificate:
    """Revoke a valid certificate with a reason (city administrators); verification shows it."""
    _require_city(actor)
    reason = _reason(reason, zh("请说明撤销证书的理由"))
    if certificate.status != "valid":
        raise Conflict(zh("该证书已撤销或已被替换"))
    certificate.status, certificate.revoked_reason = "revoked", reason
    certificate.revoked_at, certificate.revoked_by_id = utcnow(), actor.id
    db.session.flush()
    return certificate


def reissue_certificate(certificate: Certificate, actor: User, reason: str,
                        holder: str | None = None) -> Certificate:
    """Replace a certificate (e.g. to correct the holder's name): a new serial and code; the old
    one is marked replaced and its verification page names the new serial."""
    _require_city(actor)
    reason = _reason(reason, zh("请说明补发或更正证书的理由"))
    if certificate.status != "valid":
        raise Conflict(zh("只能更正仍然有效的证书"))
    holder = (holder or certificate.holder).strip()
    if not holder or len(holder) > 300:
        raise ValidationFailed(zh("获证人不能为空，且不超过 300 字"),
                               {"holder": zh("请填写获证人")})
    programme = programme_of(certificate.application)
    sequence = next_serial(programme.key, certificate.application.call.year)
    settings = programme.workflow["certificate"] or {"serial": "{code}-{year}-{seq:04d}"}
    replacement = Certificate(
        application=certificate.application,
        serial=settings["serial"].format(code=programme.workflow["code"],
                                         year=certificate.application.call.year, seq=sequence),
        code=secrets.token_urlsafe(20), title=certificate.title, holder=holder,
        organisation=certificate.organisation, programme_title=certificate.programme_title,
        call_title=certificate.call_title, award=certificate.award, issuer=certificate.issuer,
        issued_on=utcnow().astimezone(LOCAL).date(), replaces_id=certificate.id)
    _check_printable(facts_of(replacement, verify_url(replacement.code)), trial=True)
    certificate.status, certificate.revoked_reason = "replaced", reason
    certificate.revoked_at, certificate.revoked_by_id = utcnow(), actor.id
    db.session.add(replacement)
    db.session.flush()
    notify_certificate(replacement)
    render_later(replacement)
    return replacement


def _require_city(actor: User) -> None:
    """Certificates are revoked and reissued by the city."""
    if actor.role != Role.CITY_ADMIN:
        raise Forbidden(zh("只有市级管理员可以撤销或补发证书"))


def _reason(reason: str, missing: str) -> str:
    """A required reason of at most 500 characters."""
    reason = reason.strip()
    if not reason:
        raise ValidationFailed(missing, {"reason": zh("此项为必填项")})
    if len(reason) > 500:
        raise ValidationFailed(zh("理由不能超过 500 字"), {"reason": zh("不能超过 500 字")})
    return reason
