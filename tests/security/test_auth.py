"""Logging in and out: hashed passwords, rate limits, sessions that really end."""

from __future__ import annotations

from sqlalchemy import select

from app.extensions import db
from app.models import User
from app.services.accounts import change_password
from tests.conftest import PASSWORD, csrf_from, login


def test_passwords_are_stored_hashed(world):
    user = db.session.scalar(select(User).filter_by(username="wj1"))
    assert PASSWORD not in user.password_hash
    assert user.check_password(PASSWORD) and not user.check_password("wrong-password")


def test_login_is_rate_limited_after_repeated_failures(client, world):
    for _ in range(5):
        assert login(client, "wj1", "wrong-password").status_code == 401
    refused = login(client, "wj1", PASSWORD)
    assert refused.status_code == 429
    assert "登录失败次数过多" in refused.get_data(as_text=True)


def test_login_form_needs_its_csrf_token(client, world):
    response = client.post("/login", data={"username": "wj1", "password": PASSWORD})
    assert response.status_code == 400
    assert client.get("/my/", follow_redirects=False).status_code in (302, 401)


def test_logout_ends_the_session(client, world):
    assert login(client, "wj1").status_code == 302
    home = client.get("/", follow_redirects=True)
    token = csrf_from(home.get_data(as_text=True))
    assert client.post("/logout", data={"csrf_token": token}).status_code == 302
    assert client.get("/my/").status_code == 302  # back to the login page


def test_password_change_ends_other_sessions(app, world):
    first, second = app.test_client(), app.test_client()
    login(first, "wj1")
    login(second, "wj1")
    change_password(db.session.scalar(select(User).filter_by(username="wj1")), "a-new-password")
    db.session.commit()
    assert first.get("/my/").status_code == 302
    assert second.get("/my/").status_code == 302


def test_open_redirect_after_login_is_refused(client, world):
    page = client.get("/login?next=https://evil.example/")
    token = csrf_from(page.get_data(as_text=True))
    response = client.post("/login?next=https://evil.example/",
                           data={"username": "wj1", "password": PASSWORD, "csrf_token": token})
    assert response.headers["Location"] == "/"


def test_ids_beyond_the_database_range_are_not_found(client, world):
    login(client, "city")
    assert client.get("/applications/99999999999").status_code == 404
    response = client.get("/api/v1/applications/99999999999")
    assert response.status_code in (401, 404)


def test_method_not_allowed_keeps_the_allow_header(client):
    response = client.put("/api/v1/tokens")
    assert response.status_code == 405
    assert "POST" in response.headers["Allow"]
    assert response.get_json()["error"] == "method_not_allowed"


def test_drafts_stay_private_to_their_applicant(client, world, make_application):
    draft = make_application("wj1", name="尚未提交的队")
    login(client, "city")
    assert client.get(f"/applications/{draft.id}").status_code == 403
    listing = client.get(f"/admin/calls/{world['call'].id}").get_data(as_text=True)
    assert "尚未提交的队" not in listing


def test_one_address_failing_on_many_accounts_is_limited_separately(app, client, world):
    app.config["LOGIN_MAX_FAILURES_PER_ADDRESS"] = 8
    for username in ("wj1", "wj2", "wj3", "tn1"):
        for _ in range(2):
            assert login(client, username, "wrong-password").status_code == 401
    assert login(client, "tn2", PASSWORD).status_code == 429  # 8 failures from this address
    other_office = app.test_client()
    page = other_office.get("/login", environ_base={"REMOTE_ADDR": "10.1.2.3"})
    token = csrf_from(page.get_data(as_text=True))
    response = other_office.post("/login", environ_base={"REMOTE_ADDR": "10.1.2.3"}, data={
        "username": "tn2", "password": PASSWORD, "csrf_token": token})
    assert response.status_code == 302


def test_behind_a_proxy_the_forwarded_address_is_recorded(tmp_path):
    from app import create_app
    from app.models import LoginAttempt

    proxied = create_app({"PROXY_COUNT": 1, "TESTING": True, "SECRET_KEY": "x",
                          "SQLALCHEMY_DATABASE_URI": f"sqlite:///{tmp_path / 'proxy.db'}"})
    with proxied.app_context():
        db.create_all()
        client = proxied.test_client()
        page = client.get("/login")
        client.post("/login", headers={"X-Forwarded-For": "203.0.113.7"}, data={
            "username": "nobody", "password": "wrong-password",
            "csrf_token": csrf_from(page.get_data(as_text=True))})
        assert db.session.scalars(select(LoginAttempt.address)).all() == ["203.0.113.7"]
        db.session.remove()
        db.engine.dispose()


def test_a_spoofed_forwarded_header_does_not_escape_the_address_limit(app, client, world):
    """No proxy configured: X-Forwarded-For is the client's own claim and is ignored."""
    app.config["LOGIN_MAX_FAILURES_PER_ADDRESS"] = 4
    for n, username in enumerate(("wj1", "wj2", "wj3", "tn1")):
        page = client.get("/login")
        response = client.post("/login", headers={"X-Forwarded-For": f"198.51.100.{n}"}, data={
            "username": username, "password": "wrong-password",
            "csrf_token": csrf_from(page.get_data(as_text=True))})
        assert response.status_code == 401
    page = client.get("/login")
    response = client.post("/login", headers={"X-Forwarded-For": "198.51.100.99"}, data={
        "username": "tn2", "password": PASSWORD,
        "csrf_token": csrf_from(page.get_data(as_text=True))})
    assert response.status_code == 429


def test_behind_a_proxy_a_client_supplied_forwarded_prefix_is_ignored(tmp_path):
    """With one proxy, only the address the proxy appended counts: a client that sends its own
    X-Forwarded-For (the proxy keeps it and appends the real one) is still limited."""
    from app import create_app
    from app.models import LoginAttempt

    proxied = create_app({"PROXY_COUNT": 1, "TESTING": True, "SECRET_KEY": "x",
                          "LOGIN_MAX_FAILURES_PER_ADDRESS": 3,
                          "SQLALCHEMY_DATABASE_URI": f"sqlite:///{tmp_path / 'proxy.db'}"})
    with proxied.app_context():
        db.create_all()
        client = proxied.test_client()
        statuses = []
        for n in range(4):
            page = client.get("/login", headers={"X-Forwarded-For": "203.0.113.7"})
            response = client.post("/login", headers={
                "X-Forwarded-For": f"10.0.0.{n}, 203.0.113.7"}, data={
                "username": f"nobody{n}", "password": "wrong-password",
                "csrf_token": csrf_from(page.get_data(as_text=True))})
            statuses.append(response.status_code)
        assert statuses == [401, 401, 401, 429]
        assert set(db.session.scalars(select(LoginAttempt.address))) == {"203.0.113.7"}
        db.session.remove()
        db.engine.dispose()
