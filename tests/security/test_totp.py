"""Two-step verification (TOTP): set-up, the code step of a login, recovery codes, limits,
the compulsory set-up for administrators, the city's reset and API tokens (ASVS V6.5)."""

from __future__ import annotations

import re
import time

import pyotp
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import select

from app.extensions import db
from app.models import SecurityEvent, User
from app.services.totp import confirm_enrolment, start_enrolment
from tests.conftest import PASSWORD, csrf_from, login


def _code(user: User, steps_ahead: int = 0) -> str:
    """What the authenticator app shows now (or at a later 30-second step)."""
    db.session.refresh(user)
    return pyotp.TOTP(user.totp_secret).at(int(time.time()) + 30 * steps_ahead)


def _post(client: FlaskClient, url: str, **data: str):  # type: ignore[no-untyped-def]
    """POST a form with the CSRF token of the page at `url`."""
    page = client.get(url)
    return client.post(url, data={**data, "csrf_token": csrf_from(page.get_data(as_text=True))})


def _enrolled(user: User) -> list[str]:
    """Set up TOTP for a user directly (as the account page does); the recovery codes."""
    start_enrolment(user)
    codes = confirm_enrolment(user, _code(user))
    db.session.commit()
    return codes


def _kinds(user: User) -> list[str]:
    """The user's security events, oldest first."""
    return list(db.session.scalars(select(SecurityEvent.kind).where(
        SecurityEvent.user_id == user.id).order_by(SecurityEvent.id)))


def test_enrolment_counts_only_once_confirmed_and_then_every_login_asks_for_a_code(
        app: Flask, client: FlaskClient, world):
    city = world["users"]["city"]
    assert login(client, "city").status_code == 302
    # Setting it up asks for the password again: a session left open is not enough.
    assert _post(client, "/account/totp", action="start", password="wrong").status_code == 302
    db.session.refresh(city)
    assert city.totp_secret is None
    assert _post(client, "/account/totp", action="start", password=PASSWORD).status_code == 302
    db.session.refresh(city)
    page = client.get("/account/totp").get_data(as_text=True)
    assert city.totp_secret in page and "<svg" in page and not city.has_totp
    assert _post(client, "/account/totp", action="confirm", code="000000").status_code == 422
    db.session.refresh(city)
    assert not city.has_totp
    first = _code(city)
    shown = _post(client, "/account/totp", action="confirm", code=first)
    codes = re.findall(r"<li><code>(\w+)</code></li>", shown.get_data(as_text=True))
    db.session.refresh(city)
    assert city.has_totp and len(codes) == 8 and len(city.recovery_codes) == 8
    assert shown.headers["Cache-Control"] == "no-store"
    assert not set(codes) & set(city.recovery_codes)  # only hashes are kept
    assert city.totp_secret not in client.get("/account/totp").get_data(as_text=True)

    client.post("/logout", data={
        "csrf_token": csrf_from(client.get("/account/totp").get_data(as_text=True))})
    step = login(client, "city")
    assert step.status_code == 302 and step.headers["Location"].endswith("/login/code")
    assert "/login" in client.get("/admin/").headers["Location"]  # half logged in: no login
    assert ">验证码</label>" in client.get("/login/code").get_data(as_text=True)
    assert _post(client, "/login/code", code=first).status_code == 401  # good once
    assert _post(client, "/login/code", code=_code(city, 1)).status_code == 302
    assert client.get("/admin/").status_code == 200
    assert _kinds(city) == ["login", "login_failed", "totp_failed", "totp_enrolled", "logout",
                            "totp_failed", "login"]


def test_a_recovery_code_logs_in_once(app: Flask, client: FlaskClient, world):
    city = world["users"]["city"]
    codes = _enrolled(city)
    login(client, "city")
    assert _post(client, "/login/code", code=codes[0]).status_code == 302
    db.session.refresh(city)
    assert len(city.recovery_codes) == 7
    other = app.test_client()
    login(other, "city")
    assert _post(other, "/login/code", code=codes[0]).status_code == 401
    assert "recovery_code_used" in _kinds(city)


def test_the_code_step_is_limited_like_the_password(app: Flask, client: FlaskClient, world):
    city = world["users"]["city"]
    _enrolled(city)
    login(client, "city")
    statuses = [_post(client, "/login/code", code=f"{n:06d}").status_code for n in range(5)]
    assert statuses == [401] * 5
    refused = _post(client, "/login/code", code=_code(city, 1))  # locked now, even the right code
    assert refused.status_code == 302 and client.get("/admin/").status_code == 302
    assert login(client, "city").status_code == 429  # the password too, for 15 minutes
    assert _kinds(city).count("locked_out") == 1


def test_a_pending_login_expires_and_dies_with_a_password_change(app: Flask, client, world):
    from app.blueprints.auth import second_factor
    from app.services.accounts import change_password

    city = world["users"]["city"]
    _enrolled(city)
    login(client, "city")
    change_password(city, "another-pass-2")
    db.session.commit()
    assert client.get("/login/code").headers["Location"].endswith("/login")
    assert client.get("/admin/").status_code == 302  # not logged in
    login(client, "city", "another-pass-2")
    assert client.get("/login/code").status_code == 200
    saved = second_factor.PENDING_SECONDS
    second_factor.PENDING_SECONDS = 0
    try:
        time.sleep(1.1)
        assert client.get("/login/code").headers["Location"].endswith("/login")
    finally:
        second_factor.PENDING_SECONDS = saved


def test_administrators_must_set_it_up_when_required(app: Flask, client: FlaskClient, world):
    app.config["REQUIRE_TOTP_FOR_ADMINS"] = True
    admin = world["users"]["wj_admin"]
    step = login(client, "wj_admin")
    assert step.headers["Location"].endswith("/login/enrol")
    assert client.get("/district/").status_code == 302
    page = client.get("/login/enrol").get_data(as_text=True)
    db.session.refresh(admin)
    assert admin.totp_secret in page and "<svg" in page
    assert _post(client, "/login/enrol", code=_code(admin)).status_code == 200
    assert client.get("/district/").status_code == 200
    db.session.refresh(admin)
    assert admin.has_totp
    # An administrator cannot turn it off while it is required.
    refused = _post(client, "/account/totp", action="disable", code=_code(admin, 1))
    db.session.refresh(admin)
    assert refused.status_code == 422 and admin.has_totp
    # Applicants and experts are not asked to.
    assert login(app.test_client(), "wj1").headers["Location"].endswith("/")


def test_a_user_turns_it_off_with_a_code(app: Flask, client: FlaskClient, world):
    expert = world["users"]["expert1"]
    codes = _enrolled(expert)
    login(client, "expert1")
    _post(client, "/login/code", code=_code(expert, 1))
    assert _post(client, "/account/totp", action="disable", code="123456").status_code == 422
    # A code from before the one just used is spent already; a recovery code does.
    assert _post(client, "/account/totp", action="disable",
                 code=_code(expert)).status_code == 422
    assert _post(client, "/account/totp", action="disable", code=codes[3]).status_code == 302
    db.session.refresh(expert)
    assert not expert.has_totp and expert.totp_secret is None
    assert "totp_disabled" in _kinds(expert)


def test_the_city_resets_someones_second_factor(app: Flask, client: FlaskClient, world):
    admin, city = world["users"]["tn_admin"], world["users"]["city"]
    _enrolled(admin)
    theirs = app.test_client()
    login(theirs, "tn_admin")
    _post(theirs, "/login/code", code=_code(admin, 1))
    assert theirs.get("/district/").status_code == 200
    login(client, "city")
    page = client.get(f"/admin/users/{admin.id}")
    assert client.post(f"/admin/users/{admin.id}/totp", data={
        "csrf_token": csrf_from(page.get_data(as_text=True))}).status_code == 302
    db.session.refresh(admin)
    assert not admin.has_totp
    assert theirs.get("/district/").status_code == 302  # their sessions ended
    event = db.session.scalars(select(SecurityEvent).where(
        SecurityEvent.kind == "totp_reset")).one()
    assert event.user_id == admin.id and event.details == {"by": city.username}


def test_api_tokens_need_the_code(app: Flask, client: FlaskClient, world):
    city = world["users"]["city"]
    _enrolled(city)
    body = {"username": "city", "password": PASSWORD}
    missing = client.post("/api/v1/tokens", json=body)
    assert missing.status_code == 401 and missing.json["details"] == {"otp": "required"}
    wrong = client.post("/api/v1/tokens", json={**body, "otp": "000000"})
    assert wrong.status_code == 401 and wrong.json["details"] == {"otp": "invalid"}
    assert client.post("/api/v1/tokens", json={**body, "otp": _code(city, 1)}).status_code == 201
    app.config["REQUIRE_TOTP_FOR_ADMINS"] = True
    refused = client.post("/api/v1/tokens", json={"username": "wj_admin", "password": PASSWORD})
    assert refused.status_code == 403 and refused.json["error"] == "forbidden"
