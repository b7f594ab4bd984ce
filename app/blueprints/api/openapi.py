"""The OpenAPI 3.1 document of /api/v1, built as data (openapi_paths, openapi_schemas)."""

from __future__ import annotations

from typing import Any

from app.blueprints.api.openapi_paths import ERRORS, PATHS, answer
from app.blueprints.api.openapi_schemas import SCHEMAS, ref

PREFIX = "/api/v1"


def openapi_document() -> dict[str, Any]:
    """The whole OpenAPI 3.1 document."""
    return {
        "openapi": "3.1.0",
        "info": {"title": "Pingshen API", "version": "1.0.0", "description": DESCRIPTION},
        "servers": [{"url": "/"}],
        "security": [{"bearer": []}],
        "tags": [{"name": name} for name in ("tokens", "programmes", "calls", "applications",
                                              "attachments", "reviews", "rounds", "panels",
                                              "notices", "certificates", "notifications",
                                              "exports", "meta")],
        "paths": {PREFIX + path: item for path, item in PATHS.items()},
        "components": {
            "schemas": SCHEMAS,
            "responses": {name: answer(text, ref("Error"))
                          for name, text in ERRORS.values()},
            "securitySchemes": {"bearer": {"type": "http", "scheme": "bearer",
                                           "description": "A token from POST /api/v1/tokens."}},
        },
    }


DESCRIPTION = """\
The JSON API of Pingshen (评审), calling the same services as the web interface.

* Authenticate with `POST /api/v1/tokens`, then send `Authorization: Bearer <token>` on every
  call except this document and certificate verification. Session cookies are not used.
* Errors are always JSON `{error, message, details}`: 400 malformed body or missing keys,
  401, 403, 404, 405, 409, 413, 422 invalid values or refused guards, 429.
* Times are ISO 8601 in UTC with their offset; decimals are JSON numbers.
* Applications carry a `version`; send it back with changes to detect concurrent edits (409).
"""
