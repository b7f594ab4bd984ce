"""Certificate PDFs: facts in, one-page A4 landscape PDF out (see render.py)."""

from app.certificates.render import (
    CertificateFacts,
    MissingGlyphError,
    ResourceRefusedError,
    check_system_libraries,
    chinese_date,
    render_certificate,
)

__all__ = [
    "CertificateFacts",
    "MissingGlyphError",
    "ResourceRefusedError",
    "check_system_libraries",
    "chinese_date",
    "render_certificate",
]
