"""The OpenAPI document matches the routes exactly, and real answers match its schemas."""

from __future__ import annotations

import pytest

from app.blueprints.api.openapi import openapi_document
from tests.api.conftest import openapi_path

IGNORED_METHODS = {"HEAD", "OPTIONS"}


def _routes(app):
    """{(openapi path, method): endpoint} for every API rule of the app."""
    return {(openapi_path(rule.rule), method.lower()): rule.endpoint
            for rule in app.url_map.iter_rules() if rule.rule.startswith("/api/v1")
            for method in rule.methods - IGNORED_METHODS}


def _operations(document):
    """{(path, method): operation} for every operation of the document."""
    return {(path, method): operation for path, item in document["paths"].items()
            for method, operation in item.items() if method != "parameters"}


def test_every_route_is_documented_and_every_documented_path_exists(app):
    routes, operations = _routes(app), _operations(openapi_document())
    assert sorted(set(routes) - set(operations)) == [], "routes missing from the document"
    assert sorted(set(operations) - set(routes)) == [], "documented paths without a route"
    for key, endpoint in routes.items():
        assert endpoint == f"api.{operations[key]['operationId']}", key


def test_path_parameters_are_declared_for_every_placeholder():
    for path, item in openapi_document()["paths"].items():
        declared = {p["name"] for p in item.get("parameters", []) if p["in"] == "path"}
        assert declared == set(_placeholders(path)), path


def _placeholders(path):
    """The {names} in a path."""
    import re

    return re.findall(r"{([^}]+)}", path)


def test_every_reference_resolves():
    document = openapi_document()

    def walk(node):
        if isinstance(node, dict):
            if "$ref" in node:
                target = document
                for part in node["$ref"].removeprefix("#/").split("/"):
                    assert part in target, node["$ref"]
                    target = target[part]
            for value in node.values():
                walk(value)
        elif isinstance(node, list):
            for value in node:
                walk(value)

    walk(document)


def test_security_is_bearer_except_for_the_public_operations():
    document = openapi_document()
    assert document["openapi"] == "3.1.0"
    assert document["components"]["securitySchemes"]["bearer"] == {
        "type": "http", "scheme": "bearer", "description": "A token from POST /api/v1/tokens."}
    assert document["security"] == [{"bearer": []}]
    public = {key for key, op in _operations(document).items() if op.get("security") == []}
    assert public == {("/api/v1/tokens", "post"), ("/api/v1/openapi.json", "get"),
                      ("/api/v1/certificates/{code}", "get"), ("/api/v1/notices", "get"),
                      ("/api/v1/applications/{application_id}/objections", "post"),
                      ("/api/v1/objections/{receipt}", "get")}
    for key, operation in _operations(document).items():
        if key not in public:
            assert "401" in operation["responses"], key


def test_document_is_valid_openapi_when_the_validator_is_installed():
    validator = pytest.importorskip("openapi_spec_validator")
    validator.validate(openapi_document())


def test_document_is_served_without_a_token(api):
    response = api.anonymous.get("/api/v1/openapi.json")
    assert response.status_code == 200
    assert response.get_json() == openapi_document()


def test_answers_match_the_document_schemas(api, make_application):
    pytest.importorskip("jsonschema")
    wj1 = api.login("wj1")
    application = make_application("wj1")
    checker = api.checker
    for path, schema in (
        (f"/api/v1/applications/{application.id}", "Application"),
        ("/api/v1/applications", "ApplicationPage"),
        ("/api/v1/programmes/excellent_team", "Programme"),
        ("/api/v1/me", "User"),
    ):
        body = wj1.get(path).get_json()
        checker.validate(body, {"$ref": f"#/components/schemas/{schema}"})


def test_the_schema_check_refuses_undocumented_fields_and_local_times(api):
    jsonschema = pytest.importorskip("jsonschema")
    user = {"username": "u", "name": "", "role": "expert",
            "org": {"code": "X", "name": "X市", "kind": "city", "district": None}}
    api.checker.validate(user, {"$ref": "#/components/schemas/User"})
    with pytest.raises(jsonschema.ValidationError):
        api.checker.validate({**user, "password_hash": "x"},
                             {"$ref": "#/components/schemas/User"})
    with pytest.raises(jsonschema.ValidationError):
        api.checker.validate("2026-01-01T09:00:00+08:00", {"type": "string",
                                                           "format": "date-time"})
