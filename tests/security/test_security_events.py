"""The security events (ASVS V16): what is recorded, that it cannot be changed, that refusals
cannot fill the disk, and the city's page."""

from __future__ import annotations

from datetime import timedelta

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import select

from app.extensions import db
from app.models import SecurityEvent
from app.models.applications import AppendOnly
from app.models.base import utcnow
from app.services.people import set_active, update_user
from app.services.security_events import record_event
from tests.conftest import PASSWORD, csrf_from, login


def _events(kind: str | None = None) -> list[SecurityEvent]:
    """Recorded events (of one kind), oldest first, read from the database."""
    db.session.expire_all()
    query = select(SecurityEvent).order_by(SecurityEvent.id)
    if kind:
        query = query.where(SecurityEvent.kind == kind)
    return list(db.session.scalars(query))


def test_logins_failures_lockouts_logouts_and_password_changes_are_recorded(
        app: Flask, client: FlaskClient, world):
    wj1 = world["users"]["wj1"]
    assert login(client, "nobody-here", "guess-1234").status_code == 401
    for _ in range(5):
        login(client, "wj1", "wrong-password")
    for _ in range(3):  # refused while locked: no more rows
        assert login(client, "wj1", PASSWORD).status_code == 429
    failed = _events("login_failed")
    assert [(e.username, e.user_id) for e in failed] == \
        [("nobody-here", None)] + [("wj1", wj1.id)] * 5
    assert all(e.address == "127.0.0.1" and e.path == "/login" for e in failed)
    locked = _events("locked_out")
    assert len(locked) == 1 and locked[0].details["failures_for_account"] == 5

    assert login(client, "wj2").status_code == 302
    page = client.get("/account/password").get_data(as_text=True)
    client.post("/account/password", data={"current": PASSWORD, "new": "another-pass-9",
                                           "confirm": "another-pass-9",
                                           "csrf_token": csrf_from(page)})
    client.post("/logout", data={"csrf_token": csrf_from(
        client.get("/account/password").get_data(as_text=True))})
    kinds = [e.kind for e in _events() if e.username == "wj2"]
    assert kinds == ["login", "password_changed", "logout"]


def test_every_refusal_is_recorded_up_to_a_limit_per_minute(app: Flask, client: FlaskClient,
                                                            world):
    app.config["REFUSAL_EVENTS_PER_MINUTE"] = 3
    login(client, "wj1")
    for _ in range(5):
        assert client.get("/admin/users").status_code == 403
    refused = _events("refused")
    assert len(refused) == 3  # the other two were refused all the same, but not written
    assert refused[0].username == "wj1" and refused[0].path == "/admin/users"
    assert refused[0].details == {"method": "GET", "endpoint": "admin.users"}
    token = client.post("/api/v1/tokens", json={"username": "wj2", "password": PASSWORD}).json
    denied = client.get("/api/v1/calls/1/rounds",
                        headers={"Authorization": f"Bearer {token['token']}"})
    assert denied.status_code == 403
    api = _events("refused")[-1]
    assert api.username == "wj2" and api.path == "/api/v1/calls/1/rounds"
    # Anonymous visitors are sent to log in: nothing of theirs is written.
    count = len(_events())
    assert app.test_client().get("/admin/users").status_code == 302
    assert len(_events()) == count


def test_files_handed_out_and_tokens_are_recorded(app: Flask, client: FlaskClient, world,
                                                   make_application):
    call = world["call"]
    login(client, "city")
    workbook = client.get(f"/admin/calls/{call.id}/applications.xlsx")
    assert workbook.status_code == 200
    download = _events("download")
    assert len(download) == 1 and download[0].username == "city"
    assert download[0].details["endpoint"] == "admin.export_applications"
    assert ".xlsx" in download[0].details["file"]
    answer = client.post("/api/v1/tokens", json={"username": "city", "password": PASSWORD})
    client.delete("/api/v1/tokens", headers={"Authorization": f"Bearer {answer.json['token']}"})
    assert [e.kind for e in _events() if e.kind.startswith("token")] == \
        ["token_created", "token_revoked"]


def test_account_changes_are_recorded(app: Flask, world):
    city, expert = world["users"]["city"], world["users"]["expert2"]
    set_active(expert, False, city)
    set_active(expert, True, city)
    update_user(expert, role="applicant", actor=city)
    db.session.commit()
    assert [(e.kind, e.details) for e in _events()] == [
        ("account_disabled", {"by": "city"}), ("account_enabled", {"by": "city"}),
        ("role_changed", {"before": "expert", "after": "applicant", "by": "city"})]


def test_events_are_append_only(app: Flask, world):
    event = record_event("login", world["users"]["city"])
    db.session.commit()
    event.kind = "logout"
    with pytest.raises(AppendOnly):
        db.session.flush()
    db.session.rollback()
    db.session.delete(db.session.get(SecurityEvent, event.id))
    with pytest.raises(AppendOnly):
        db.session.flush()
    db.session.rollback()
    assert _events()[0].kind == "login"


def test_the_city_filters_searches_and_pages_the_events(app: Flask, client: FlaskClient, world):
    users = world["users"]
    for n in range(55):
        record_event("login_failed", username=f"guess{n:02d}")
    record_event("refused", users["wj1"])
    old = record_event("login", users["tn_admin"])
    db.session.commit()
    db.session.execute(SecurityEvent.__table__.update().where(SecurityEvent.id == old.id)
                       .values(at=utcnow() - timedelta(days=40)))  # as if written long ago
    db.session.commit()
    assert login(client, "wj1").status_code == 302
    assert client.get("/admin/security-events").status_code == 403
    client = app.test_client()
    login(client, "city")
    first = client.get("/admin/security-events?kind=login_failed").get_data(as_text=True)
    assert first.count("guess") == 50 and "guess54" in first and "guess04" not in first
    second = client.get("/admin/security-events?kind=login_failed&page=2").get_data(as_text=True)
    assert second.count("guess") == 5
    by_user = client.get("/admin/security-events?user=wj1").get_data(as_text=True)
    assert "guess" not in by_user and "admin.security_events" in by_user  # the refused visit
    assert "guess07" in client.get("/admin/security-events?q=ess07").get_data(as_text=True)
    since = (utcnow() - timedelta(days=1)).date().isoformat()
    recent = client.get(f"/admin/security-events?user=tn_admin&since={since}")
    assert ">tn_admin<" not in recent.get_data(as_text=True)
    assert ">tn_admin<" in client.get("/admin/security-events?user=tn_admin").get_data(
        as_text=True)


def test_each_committed_event_is_one_json_line_for_the_log_shipper(
        app: Flask, client: FlaskClient, world, caplog):
    """Events also leave the machine through logging: one compact JSON line each, written only
    once committed, and a username with a line break cannot forge a second line."""
    import json
    import logging

    logger = logging.getLogger("pingshen.security")
    caplog.set_level(logging.INFO, logger="pingshen.security")
    logger.addHandler(caplog.handler)  # also when an app of another test made it not propagate
    try:
        assert login(client, "forged\n{\"kind\":\"login\"}", "guess-1234").status_code == 401
        record_event("login", world["users"]["wj1"])
        db.session.rollback()  # never committed: never logged
    finally:
        logger.removeHandler(caplog.handler)
    lines = list(dict.fromkeys(r.getMessage() for r in caplog.records
                               if r.name == "pingshen.security"))
    assert len(lines) == 1 and "\n" not in lines[0]
    line = json.loads(lines[0])
    assert (line["kind"], line["username"], line["address"], line["path"]) == \
        ("login_failed", "forged\n{\"kind\":\"login\"}", "127.0.0.1", "/login")


def test_security_log_stderr_writes_each_event_as_a_line(tmp_path, capfd):
    """SECURITY_LOG=stderr (the default): the line reaches standard error, for journald."""
    import logging

    from app import create_app

    logger = logging.getLogger("pingshen.security")
    saved = logger.handlers[:], logger.propagate, logger.level
    logger.handlers.clear()
    try:
        app = create_app({"TESTING": True, "SECRET_KEY": "x", "SECURITY_LOG": "stderr",
                          "SQLALCHEMY_DATABASE_URI": f"sqlite:///{tmp_path / 'log.db'}"})
        with app.app_context():
            db.create_all()
            record_event("login", username="wj9")
            db.session.commit()
            db.session.remove()
            db.engine.dispose()
        err = capfd.readouterr().err
        assert 'pingshen.security {"at":' in err and '"username":"wj9"' in err
    finally:
        logger.handlers[:], logger.propagate = saved[0], saved[1]
        logger.setLevel(saved[2])
