"""Responses that download generated files."""

from __future__ import annotations

import io

from flask import Response, send_file

XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


def xlsx_response(data: bytes, filename: str) -> Response:
    """An Excel workbook as a download, never cached (it holds scores)."""
    response = send_file(io.BytesIO(data), mimetype=XLSX, as_attachment=True,
                         download_name=filename)
    response.headers["Cache-Control"] = "private, no-store"
    return response
