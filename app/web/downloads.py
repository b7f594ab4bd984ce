"""Responses that download generated files."""

from __future__ import annotations

import io
from pathlib import Path

from flask import Response, send_file

XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


def xlsx_response(data: bytes, filename: str) -> Response:
    """An Excel workbook as a download, never cached (it holds scores)."""
    response = send_file(io.BytesIO(data), mimetype=XLSX, as_attachment=True,
                         download_name=filename)
    response.headers["Cache-Control"] = "private, no-store"
    return response


def pdf_response(data: bytes, filename: str, *, inline: bool = False) -> Response:
    """A PDF to download (or to show in the browser with ``inline``), never cached."""
    response = send_file(io.BytesIO(data), mimetype="application/pdf", as_attachment=not inline,
                         download_name=filename)
    response.headers["Cache-Control"] = "private, no-store"
    return response


def pdf_file_response(path: Path, filename: str) -> Response:
    """A PDF file on disk to download, never cached."""
    response = send_file(path, mimetype="application/pdf", as_attachment=True,
                         download_name=filename)
    response.headers["Cache-Control"] = "private, no-store"
    return response


def zip_response(data: bytes, filename: str) -> Response:
    """A ZIP archive to download, never cached."""
    response = send_file(io.BytesIO(data), mimetype="application/zip", as_attachment=True,
                         download_name=filename)
    response.headers["Cache-Control"] = "private, no-store"
    return response


def image_response(data: bytes, mimetype: str) -> Response:
    """An image shown to an administrator, never cached."""
    response = send_file(io.BytesIO(data), mimetype=mimetype)
    response.headers["Cache-Control"] = "private, no-store"
    return response
