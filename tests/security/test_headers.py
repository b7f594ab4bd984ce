"""Security headers on every response, trusted hosts, session cookies and their lifetime
(ASVS V3.4, V7.2, V7.3). Every route × role is swept in test_access_matrix.py with
`header_problems`; this module checks the responses that sweep does not make."""

from __future__ import annotations

import time
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient

from tests.conftest import PASSWORD, csrf_from, login

EXPECTED = {
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
    "Referrer-Policy": "same-origin",
    "Cross-Origin-Opener-Policy": "same-origin",
}


def header_problems(response: Any) -> list[str]:
    """What is wrong with a response's security headers (nothing: an empty list)."""
    problems = [f"{name} is {response.headers.get(name)!r}, not {value!r}"
                for name, value in EXPECTED.items() if response.headers.get(name) != value]
    policy = response.headers.get("Content-Security-Policy", "")
    directives = {part.split()[0]: part.split()[1:] for part in policy.split(";") if part.split()}
    script = directives.get("script-src", directives.get("default-src"))
    if script is None or "'unsafe-inline'" in script or "'unsafe-eval'" in script \
            or any(directives.get(name) != ["'none'"]
                   for name in ("object-src", "base-uri", "frame-ancestors")):
        problems.append(f"Content-Security-Policy is {policy!r}")
    if "camera=()" not in response.headers.get("Permissions-Policy", ""):
        problems.append("no Permissions-Policy")
    return problems


@pytest.mark.parametrize("path", ["/no-such-page", "/api/v1/no-such-thing", "/static/app.css",
                                  "/static/no-such.css", "/api/v1/me", "/admin/"])
def test_errors_and_static_files_carry_the_headers(client: FlaskClient, path: str):
    response = client.get(path)
    response.close()  # a static file is streamed from disk
    assert response.status_code in (200, 302, 401, 404)
    assert header_problems(response) == []


def test_refusals_bad_requests_and_server_errors_carry_the_headers(app: Flask, world):
    app.config["PROPAGATE_EXCEPTIONS"] = False  # answer a crash with the 500 page, as deployed
    app.config["MAX_CONTENT_LENGTH"] = 1000

    def crash() -> None:
        """A route that fails."""
        raise RuntimeError("boom")

    app.add_url_rule("/crash-for-test", "crash_for_test", crash)
    client = app.test_client()
    answers = {
        "csrf": client.post("/login", data={"username": "x", "password": "y"}),
        "method": client.put("/login"),
        "too big": client.post("/login", data={"x": "y" * 2000}),
        "crash": client.get("/crash-for-test"),
    }
    login(client, "wj1")
    answers["refused"] = client.get("/admin/users")
    assert {name: r.status_code for name, r in answers.items()} == {
        "csrf": 400, "method": 405, "too big": 413, "crash": 500, "refused": 403}
    assert {name: header_problems(r) for name, r in answers.items()} == \
        {name: [] for name in answers}


def test_strict_transport_security_and_secure_cookies_behind_https(app: Flask, world):
    client = app.test_client()
    answer = login(client, "wj1")
    assert "Strict-Transport-Security" not in answer.headers
    assert "Secure" not in answer.headers["Set-Cookie"]
    app.config.update(SESSION_COOKIE_SECURE=True, SESSION_COOKIE_NAME="__Host-session")
    secure, https = app.test_client(), "https://localhost"
    page = secure.get("/login", base_url=https)
    answer = secure.post("/login", base_url=https, headers={"Referer": f"{https}/login"}, data={
        "username": "wj1", "password": PASSWORD,
        "csrf_token": csrf_from(page.get_data(as_text=True))})
    assert answer.status_code == 302 and secure.get("/my/", base_url=https).status_code == 200
    assert answer.headers["Strict-Transport-Security"] == "max-age=31536000; includeSubDomains"
    session = [c for c in answer.headers.getlist("Set-Cookie") if c.startswith("__Host-session=")]
    assert session and "; Secure" in session[0] and "; Path=/" in session[0]
    assert "Domain" not in session[0]


def test_the_session_cookie_is_httponly_and_lax(app: Flask, client: FlaskClient, world):
    answer = login(client, "wj1")
    cookie = next(c for c in answer.headers.getlist("Set-Cookie") if c.startswith("session="))
    assert "; HttpOnly" in cookie and "; SameSite=Lax" in cookie
    assert "Expires" not in cookie  # ends with the browser, and at the latest after the lifetime


def test_a_login_ends_after_the_session_lifetime(app: Flask, client: FlaskClient, world):
    app.config["PERMANENT_SESSION_LIFETIME"] = 2
    login(client, "wj1")
    assert client.get("/my/").status_code == 200
    time.sleep(3.1)  # the signed cookie's timestamp is now older than the lifetime
    assert client.get("/my/").headers["Location"].startswith("/login")


def test_a_wrong_host_header_is_refused(app: Flask, world):
    app.config["TRUSTED_HOSTS"] = ["pingshen.example.gov.cn"]
    client = app.test_client()
    assert client.get("/", headers={"Host": "pingshen.example.gov.cn"}).status_code == 200
    wrong = client.get("/login", headers={"Host": "evil.example"})
    assert wrong.status_code == 400 and header_problems(wrong) == []
    assert client.get("/api/v1/openapi.json", headers={"Host": "evil.example"}).status_code == 400


def test_the_language_cookie_is_httponly_and_lax(client: FlaskClient):
    page = client.get("/login")
    answer = client.post("/language/en", data={"csrf_token": csrf_from(page.get_data(
        as_text=True))})
    cookie = [c for c in answer.headers.getlist("Set-Cookie") if c.startswith("lang")]
    assert cookie and "HttpOnly" in cookie[0] and "SameSite=Lax" in cookie[0]
