"""The API blueprint `bp` with every route module attached, and the OpenAPI document."""

from __future__ import annotations

from typing import Any

from app.blueprints.api import (  # noqa: F401  (routes on bp)
    applications,
    auth,
    exports,
    files,
    notices,
    notifications,
    panels,
    programmes,
    reviews,
    rounds,
)
from app.blueprints.api.common import bp, public
from app.blueprints.api.openapi import openapi_document

__all__ = ["bp"]


@bp.get("/openapi.json")
@public
def openapi() -> Any:
    """The OpenAPI 3.1 document describing every route of this blueprint."""
    return openapi_document()
