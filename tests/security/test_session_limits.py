"""A login ends at its absolute limit however busy the user is, and after the idle limit
without a request (ASVS 5.0 7.3.1, 7.3.2). Real time, short limits."""

from __future__ import annotations

import time

from flask import Flask
from flask.testing import FlaskClient

from tests.conftest import login


def _logged_in(client: FlaskClient) -> bool:
    answer = client.get("/my/")
    return answer.status_code == 200


def test_a_busy_user_stays_past_the_idle_limit_and_an_idle_one_is_logged_out(
        app: Flask, client: FlaskClient, world):
    app.config["SESSION_IDLE_MINUTES"] = 2.5 / 60  # 2.5 seconds
    login(client, "wj1")
    for _ in range(4):  # 4 seconds of work, a request every second
        time.sleep(1)
        assert _logged_in(client)
    time.sleep(3)
    assert not _logged_in(client)
    assert client.get("/my/").headers["Location"].startswith("/login")


def test_a_login_ends_at_its_absolute_limit_however_busy(app: Flask, client: FlaskClient, world):
    app.config["PERMANENT_SESSION_LIFETIME"] = 3
    login(client, "wj1")
    seen = []
    for _ in range(4):
        time.sleep(1)
        seen.append(_logged_in(client))
    assert seen[:2] == [True, True] and seen[-1] is False


def test_logging_in_again_starts_both_clocks_anew(app: Flask, client: FlaskClient, world):
    app.config["SESSION_IDLE_MINUTES"] = 1.5 / 60
    login(client, "wj1")
    time.sleep(2)
    assert not _logged_in(client)
    login(client, "wj1")
    assert _logged_in(client)
