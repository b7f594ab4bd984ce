"""Errors raised by the engine and the services; each maps to one HTTP status."""

from __future__ import annotations

from typing import Any


class PingshenError(Exception):
    """Base class: a message for people, a machine-readable code and details."""

    status = 400
    code = "bad_request"

    def __init__(self, message: str, details: Any = None) -> None:
        super().__init__(message)
        self.message = message
        self.details = details if details is not None else {}


class ValidationFailed(PingshenError):
    """Input does not satisfy the definition; details map field keys to messages."""

    status = 422
    code = "validation_failed"


class GuardsFailed(PingshenError):
    """A transition's guards refused it; details list the reasons."""

    status = 422
    code = "guards_failed"


class Forbidden(PingshenError):
    """The actor may not do this to this object."""

    status = 403
    code = "forbidden"


class NotFound(PingshenError):
    """The object does not exist (or is not visible at all)."""

    status = 404
    code = "not_found"


class Conflict(PingshenError):
    """The object changed meanwhile (stale version or state); reload and try again."""

    status = 409
    code = "conflict"


class DefinitionChanged(PingshenError):
    """A definition file changed but kept the version number already in use."""

    status = 409
    code = "definition_changed"


class DefinitionError(Exception):
    """One or more definition files are invalid; each message names the file and the field."""

    def __init__(self, problems: list[str]) -> None:
        super().__init__("\n".join(problems))
        self.problems = problems


class TooManyRequests(PingshenError):
    """The caller asked too often; details hold `retry_after` in seconds."""

    status = 429
    code = "too_many_requests"
