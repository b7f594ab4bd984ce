"""A call's certificates handed out together as a ZIP of the PDFs (the print-ready PDF is a
background job: certificate_jobs.py), and the log of every PDF, ZIP and print run handed out."""

from __future__ import annotations

import io
import re
import zipfile

from sqlalchemy import select
from sqlalchemy.orm import selectinload

from app.engine.errors import Conflict, Forbidden
from app.extensions import db
from app.models import Application, Call, Certificate, CertificateDownload, Role, User
from app.services.certificates import certificate_pdf

ORDERS = ("serial", "district")


def valid_certificates(call: Call, order: str = "serial") -> list[Certificate]:
    """The call's valid certificates, by serial or by district then serial."""
    if order not in ORDERS:
        raise ValueError(f"order must be one of {ORDERS}")
    rows = list(db.session.scalars(
        select(Certificate).join(Application, Application.id == Certificate.application_id)
        .where(Application.call_id == call.id, Certificate.status == "valid")
        .options(selectinload(Certificate.application).selectinload(Application.district))
        .order_by(Certificate.serial)))
    if order == "district":
        rows.sort(key=lambda c: (c.application.district.code if c.application.district
                                 else "", c.serial))
    return rows


def require_city(actor: User) -> None:
    """A whole call's certificates go to the city only."""
    if actor.role != Role.CITY_ADMIN:
        raise Forbidden("只有市级管理员可以下载整批证书")


def call_zip(call: Call, actor: User) -> bytes:
    """A ZIP of every valid certificate's PDF, named serial-holder.pdf."""
    require_city(actor)
    certificates = valid_certificates(call)
    if not certificates:
        raise Conflict("本批次没有有效的证书")
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_STORED) as archive:  # PDFs are compressed
        for certificate in certificates:
            archive.write(certificate_pdf(certificate), _file_name(certificate))
    log_download("zip", actor, call=call, count=len(certificates))
    return buffer.getvalue()


def log_download(kind: str, user: User | None, certificate: Certificate | None = None,
                 call: Call | None = None, count: int = 1) -> None:
    """Record that certificates were handed out (committed with the request)."""
    db.session.add(CertificateDownload(
        kind=kind, certificate_id=certificate.id if certificate else None,
        call_id=call.id if call else (certificate.application.call_id if certificate else None),
        count=count, user_id=user.id if user else None))
    db.session.flush()


def _file_name(certificate: Certificate) -> str:
    """serial-holder.pdf, without characters a file system refuses."""
    holder = re.sub(r'[\\/:*?"<>|\s]+', "_", certificate.holder)[:60]
    return f"{certificate.serial}-{holder}.pdf"
