"""API test helpers: a caller per user, and every answer checked against the OpenAPI document."""

from __future__ import annotations

import copy
import re
from datetime import datetime, timedelta
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from werkzeug.exceptions import MethodNotAllowed, NotFound
from werkzeug.test import TestResponse

from app.blueprints.api.openapi import openapi_document
from tests.conftest import PASSWORD

try:
    import jsonschema
except ImportError:  # the checks of shapes need jsonschema; paths and statuses are still checked
    jsonschema = None


def openapi_path(rule: str) -> str:
    """Flask's `/a/<int:x_id>` as OpenAPI's `/a/{x_id}`."""
    return re.sub(r"<(?:[^:<>]+:)?([^<>]+)>", r"{\1}", rule)


def strict(node: Any) -> Any:
    """A copy of a schema where objects with listed properties allow no other keys.

    The document itself stays open for future fields; the tests insist that every field the
    server sends is documented.
    """
    if isinstance(node, list):
        return [strict(item) for item in node]
    if not isinstance(node, dict):
        return node
    result = {key: strict(value) for key, value in node.items()}
    if "properties" in node and "additionalProperties" not in node:
        result["additionalProperties"] = False
    return result


class DocumentChecker:
    """Check a response (and a successful request's JSON body) against the document."""

    def __init__(self, app: Flask) -> None:
        self.document = openapi_document()
        self.components = strict(copy.deepcopy(self.document["components"]))
        self.adapter = app.url_map.bind("localhost")

    def operation(self, method: str, path: str) -> tuple[str, dict[str, Any]] | None:
        """The documented operation serving this request, or None when no route matches."""
        try:
            rule, _ = self.adapter.match(path.split("?")[0], method=method, return_rule=True)
        except (NotFound, MethodNotAllowed):
            return None
        template = openapi_path(rule.rule)
        item = self.document["paths"].get(template, {})
        assert method.lower() in item, f"{method} {template} is not in the OpenAPI document"
        return template, item[method.lower()]

    def check(self, method: str, path: str, response: TestResponse, body: Any) -> None:
        """Status documented, content type documented, body valid against its schema."""
        found = self.operation(method, path)
        if found is None:  # unrouted: the app-wide JSON error
            self.validate(response.get_json(), {"$ref": "#/components/schemas/Error"})
            return
        template, operation = found
        status = str(response.status_code)
        assert status in operation["responses"], \
            f"{method} {template} answered {status}, which the document does not list"
        spec = self.resolve(operation["responses"][status])
        content = spec.get("content")
        if not content:
            assert response.data == b"", f"{method} {template} {status} should have no body"
            return
        media = {response.mimetype, response.mimetype.split("/")[0] + "/*", "*/*"} & set(content)
        assert media, f"{method} {template}: {response.mimetype} is not documented"
        if response.mimetype == "application/json":
            self.validate(response.get_json(), content["application/json"]["schema"])
        request_body = operation.get("requestBody", {}).get("content", {})
        if body is not None and response.status_code < 300 and "application/json" in request_body:
            self.validate(body, request_body["application/json"]["schema"])

    def resolve(self, node: dict[str, Any]) -> dict[str, Any]:
        """Follow a local $ref."""
        while "$ref" in node:
            target: Any = self.document
            for part in node["$ref"].removeprefix("#/").split("/"):
                target = target[part]
            node = target
        return node

    def validate(self, instance: Any, schema: dict[str, Any]) -> None:
        """Validate with JSON Schema 2020-12 (strict objects, UTC date-times)."""
        if jsonschema is None:
            return
        root = {**strict(schema), "components": self.components}
        jsonschema.Draft202012Validator(root, format_checker=FORMATS).validate(instance)


def _utc_datetime(value: object) -> bool:
    """An ISO 8601 time with a zero UTC offset."""
    if not isinstance(value, str):
        return True
    moment = datetime.fromisoformat(value)
    return moment.utcoffset() == timedelta(0)


if jsonschema is not None:
    FORMATS = jsonschema.FormatChecker()
    FORMATS.checks("date-time", raises=ValueError)(_utc_datetime)


class Caller:
    """Requests as one user (or anonymous), each answer checked against the document."""

    def __init__(self, client: FlaskClient, checker: DocumentChecker, token: str | None) -> None:
        self.client, self.checker, self.token = client, checker, token

    def request(self, method: str, path: str, **kwargs: Any) -> TestResponse:
        """Send a request with the bearer token and check the answer."""
        headers = dict(kwargs.pop("headers", {}))
        if self.token:
            headers.setdefault("Authorization", f"Bearer {self.token}")
        response = self.client.open(path, method=method, headers=headers, **kwargs)
        response.get_data()  # read a streamed file, then close it
        response.close()
        self.checker.check(method, path, response, kwargs.get("json"))
        return response

    def get(self, path: str, **kwargs: Any) -> TestResponse:
        """GET."""
        return self.request("GET", path, **kwargs)

    def post(self, path: str, **kwargs: Any) -> TestResponse:
        """POST."""
        return self.request("POST", path, **kwargs)

    def patch(self, path: str, **kwargs: Any) -> TestResponse:
        """PATCH."""
        return self.request("PATCH", path, **kwargs)

    def put(self, path: str, **kwargs: Any) -> TestResponse:
        """PUT."""
        return self.request("PUT", path, **kwargs)

    def delete(self, path: str, **kwargs: Any) -> TestResponse:
        """DELETE."""
        return self.request("DELETE", path, **kwargs)


class Api:
    """Log users in through POST /api/v1/tokens and hand out callers."""

    def __init__(self, app: Flask) -> None:
        self.app = app
        self.checker = DocumentChecker(app)
        self.anonymous = Caller(app.test_client(), self.checker, None)

    def caller(self, token: str | None) -> Caller:
        """A caller with a fresh client (no cookies) and this token."""
        return Caller(self.app.test_client(), self.checker, token)

    def login(self, username: str, password: str = PASSWORD) -> Caller:
        """A caller holding a new token of `username`."""
        response = self.anonymous.post("/api/v1/tokens",
                                       json={"username": username, "password": password})
        assert response.status_code == 201, response.get_json()
        return self.caller(response.get_json()["token"])

    def as_users(self, *usernames: str) -> dict[str, Caller]:
        """Callers for several users by name."""
        return {name: self.login(name) for name in usernames}


@pytest.fixture
def api(app: Flask) -> Api:
    """The API as seen from outside."""
    return Api(app)


def problem(response: TestResponse, status: int) -> dict[str, Any]:
    """Assert a JSON error with this status and return its body."""
    assert response.status_code == status, (response.status_code, response.get_data(as_text=True))
    assert response.mimetype == "application/json"
    body: dict[str, Any] = response.get_json()
    assert set(body) == {"error", "message", "details"}
    return body
