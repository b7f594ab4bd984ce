"""SQLite locked by another writer for longer than the busy timeout: the request is refused with
503 and Retry-After, nothing is written, and the same request succeeds once the lock is gone."""

from __future__ import annotations

import os
import sqlite3
from typing import Any

import pytest
from flask import Flask
from sqlalchemy import func, select

from app.extensions import db
from app.models import Application
from tests.conftest import PASSWORD, csrf_from, login

pytestmark = [
    pytest.mark.slow,  # each locked request waits out SQLite's 10 s busy timeout
    pytest.mark.skipif(bool(os.environ.get("TEST_DATABASE_URL")),
                       reason="SQLite's file lock; PostgreSQL locks rows, not the database"),
]


def _entries(app: Flask) -> int:
    """Applications stored, read on a fresh session."""
    with app.app_context():
        return db.session.scalar(select(func.count()).select_from(Application)) or 0


def _held_write_lock(app: Flask) -> sqlite3.Connection:
    """Another process's write transaction on the database file, holding its lock."""
    path = app.config["SQLALCHEMY_DATABASE_URI"].removeprefix("sqlite:///")
    other = sqlite3.connect(path, isolation_level=None)
    other.execute("BEGIN IMMEDIATE")
    return other


def test_locked_database_answers_503_on_the_web_and_nothing_is_written(
        app: Flask, client: Any, world: dict[str, Any]) -> None:
    """Starting an entry while another writer holds the lock: 503 page with Retry-After."""
    login(client, "wj1")
    token = csrf_from(client.get("/my/").get_data(as_text=True))
    call_id = world["call"].id
    before = _entries(app)
    other = _held_write_lock(app)
    try:
        refused = client.post(f"/my/calls/{call_id}/apply", data={"csrf_token": token})
    finally:
        other.rollback()
        other.close()
    assert refused.status_code == 503
    assert refused.headers["Retry-After"] == "5"
    assert "系统繁忙" in refused.get_data(as_text=True)
    assert _entries(app) == before
    retried = client.post(f"/my/calls/{call_id}/apply", data={"csrf_token": token})
    assert retried.status_code == 302
    assert _entries(app) == before + 1


def test_locked_database_answers_503_in_the_api_as_json(
        app: Flask, client: Any, world: dict[str, Any]) -> None:
    """The API gives the same refusal as {error, message, details}."""
    token = client.post("/api/v1/tokens", json={"username": "wj1", "password": PASSWORD})
    headers = {"Authorization": f"Bearer {token.get_json()['token']}"}
    body = {"call_id": world["call"].id, "data": {"team_name": "压测团队"}}
    before = _entries(app)
    other = _held_write_lock(app)
    try:
        refused = client.post("/api/v1/applications", json=body, headers=headers)
    finally:
        other.rollback()
        other.close()
    assert refused.status_code == 503
    assert refused.headers["Retry-After"] == "5"
    assert refused.get_json()["error"] == "service_unavailable"
    assert set(refused.get_json()) == {"error", "message", "details"}
    assert _entries(app) == before
    assert client.post("/api/v1/applications", json=body, headers=headers).status_code == 201
    assert _entries(app) == before + 1
