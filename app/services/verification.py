"""Public verification of certificates: lookups by code or by serial and name, logged and limited.

Every lookup is logged (time, what was asked, what it found, the client address); an address may
look up `VERIFY_MAX_PER_MINUTE` times a minute, after which it is told to retry later, so codes
cannot be guessed by brute force (they hold 160 random bits anyway). The answer shows only what
the certificate prints and its status: valid, revoked (with the date) or replaced (by serial X).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from flask import current_app
from sqlalchemy import func, select

from app.engine.errors import TooManyRequests, ValidationFailed
from app.extensions import db
from app.i18n import zh
from app.models import Certificate, VerificationLog
from app.models.base import utcnow


@dataclass(frozen=True)
class Lookup:
    """What a lookup found: the certificate (or None) and, if replaced, its replacement."""

    certificate: Certificate | None
    replacement: Certificate | None

    @property
    def result(self) -> str:
        """valid, revoked, replaced or not_found."""
        return self.certificate.status if self.certificate is not None else "not_found"


def _limit(address: str) -> None:
    """Refuse an address that looked up too often in the last minute."""
    since = utcnow() - timedelta(minutes=1)
    recent = db.session.scalar(select(func.count()).select_from(VerificationLog).where(
        VerificationLog.address == address, VerificationLog.at >= since)) or 0
    if recent >= current_app.config["VERIFY_MAX_PER_MINUTE"]:
        raise TooManyRequests(zh("查询过于频繁，请一分钟后再试"), {"retry_after": 60})


def _found(certificate: Certificate | None, query: str, address: str) -> Lookup:
    """Log the lookup (committed by the caller) and return what it found."""
    replacement = None
    if certificate is not None and certificate.status == "replaced":
        replacement = db.session.scalar(select(Certificate).where(
            Certificate.replaces_id == certificate.id).order_by(Certificate.id.desc()).limit(1))
    lookup = Lookup(certificate, replacement)
    db.session.add(VerificationLog(query=query[:120], result=lookup.result, address=address[:64],
                                   certificate_id=certificate.id if certificate else None))
    db.session.flush()
    return lookup


def by_code(code: str, address: str) -> Lookup:
    """Look a certificate up by the code printed under its QR."""
    _limit(address)
    code = code.strip()[:64]
    return _found(db.session.scalar(select(Certificate).where(Certificate.code == code)),
                  code, address)


def by_serial(serial: str, holder: str, address: str) -> Lookup:
    """Look a certificate up by its serial number and the holder's name (both must match)."""
    serial, holder = serial.strip(), holder.strip()
    errors = {}
    if not serial:
        errors["serial"] = zh("请填写证书编号")
    if not holder:
        errors["holder"] = zh("请填写获证人姓名或名称")
    if errors:
        raise ValidationFailed(zh("请填写证书编号和获证人"), errors)
    _limit(address)
    certificate = db.session.scalar(select(Certificate).where(
        Certificate.serial == serial[:64], Certificate.holder == holder[:300]))
    return _found(certificate, f"{serial[:64]} / {holder[:40]}", address)


@dataclass(frozen=True)
class Counts:
    """Verification lookups by result, over a period."""

    since: datetime
    by_result: dict[str, int]

    @property
    def total(self) -> int:
        """All lookups in the period."""
        return sum(self.by_result.values())


def counts(since: datetime) -> Counts:
    """How many lookups since a moment, by result (for the administrator)."""
    rows = db.session.execute(select(VerificationLog.result, func.count()).where(
        VerificationLog.at >= since).group_by(VerificationLog.result)).all()
    return Counts(since, {result: n for result, n in rows})


def lookups_of(certificate: Certificate) -> int:
    """How often one certificate was looked up."""
    return db.session.scalar(select(func.count()).select_from(VerificationLog).where(
        VerificationLog.certificate_id == certificate.id)) or 0
