"""Issuing certificates: serial numbers, verification codes, PDF files."""

from __future__ import annotations

import os
import secrets
from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo

from flask import Flask, current_app, has_request_context, request
from sqlalchemy import select, update

from app.certificates.render import (
    CertificateFacts,
    MissingGlyphError,
    check_glyphs,
    render_certificate,
)
from app.engine.definitions import Programme
from app.engine.errors import Conflict, ValidationFailed
from app.extensions import db
from app.models import Application, Certificate, SerialCounter
from app.models.base import insert_ignoring_duplicates
from app.services.effects import after_commit

LOCAL = ZoneInfo("Asia/Shanghai")


def issue_certificate(application: Application, programme: Programme,
                      now: datetime) -> Certificate:
    """Create the certificate for an awarded entry, with the next serial of its year."""
    settings = programme.workflow["certificate"]
    if settings is None:
        raise Conflict(f"项目“{programme.title}”未配置证书")
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
    try:  # refuse now, inside the transaction, rather than print a blank for a character
        check_glyphs(_facts(certificate, verify_url(certificate.code)))
    except MissingGlyphError as exc:
        raise ValidationFailed(str(exc), {"characters": list(exc.chars)}) from None
    db.session.add(certificate)
    db.session.flush()
    app = current_app._get_current_object()  # type: ignore[attr-defined]
    after_commit(_prerender, app, certificate.id, verify_url(certificate.code))
    return certificate


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


def verify_url(code: str) -> str:
    """The public URL printed in the QR code: PUBLIC_BASE_URL, else the request's host."""
    base = current_app.config.get("PUBLIC_BASE_URL") or (
        request.host_url if has_request_context() else "http://127.0.0.1:5000/")
    return f"{base.rstrip('/')}/verify/{code}"


def _write_pdf(certificate: Certificate, path: Path, url: str) -> None:
    """Render the PDF and move it into place atomically."""
    pdf = render_certificate(_facts(certificate, url))
    path.parent.mkdir(parents=True, exist_ok=True)
    temporary = path.with_suffix(f".{secrets.token_hex(4)}.tmp")
    temporary.write_bytes(pdf)
    os.replace(temporary, path)


def _facts(certificate: Certificate, url: str) -> CertificateFacts:
    """What the renderer prints, taken from the frozen certificate row."""
    return CertificateFacts(
        serial=certificate.serial, code=certificate.code, holder=certificate.holder,
        organisation=certificate.organisation, programme_title=certificate.programme_title,
        call_title=certificate.call_title, award=certificate.award, issuer=certificate.issuer,
        issued_on=certificate.issued_on, verify_url=url, title=certificate.title,
    )


def _prerender(app: Flask, certificate_id: int, url: str) -> None:
    """After commit: render the PDF in a fresh session so the first download is instant."""
    with app.app_context():
        certificate = db.session.get(Certificate, certificate_id)
        if certificate is not None:
            certificate_pdf(certificate, url)
        db.session.remove()
