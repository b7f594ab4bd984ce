"""New passwords (ASVS 5.0 V6.2): long ones welcome, common or guessable ones refused, no
composition rules, and the password checked exactly as typed."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from app.engine.errors import ValidationFailed
from app.extensions import db
from app.models import User
from app.services.accounts import add_user, change_password
from tests.conftest import PASSWORD, csrf_from, login


@pytest.mark.parametrize("password, problem", [
    ("short1", "too_short"),
    ("password", "common"), ("12345678", "common"), ("iloveyou", "common"),
    ("qwertyuiop", "common"), ("woaini1314", "common"), ("a12345678", "common"),
    ("Password", "common"),  # the list is compared without case
    ("Wj1-2026!", "guessable"),  # the username, letters aside
    ("pingshen2026", "guessable"), ("jiaoyuju123", "guessable"), ("20261201", "guessable"),
    ("x" * 201, "too_long"),
])
def test_weak_passwords_are_refused_with_the_reason(world, password, problem):
    user = db.session.scalar(select(User).filter_by(username="wj1"))
    with pytest.raises(ValidationFailed) as refused:
        change_password(user, password)
    assert refused.value.details == {"password": problem}


def test_the_name_is_not_a_password(world):
    with pytest.raises(ValidationFailed):
        add_user("lisi", "applicant", "WJ-U1", "Lisi-1990", name="lisi")


@pytest.mark.parametrize("password", [
    "correct horse battery staple",  # spaces, no digits, no capitals: no composition rules
    "全部小写的中文密码也可以",
    "8675309x",
    "ΩΩ a passphrase of sixty-four characters, typed exactly as is ΩΩ",
])
def test_long_or_plain_passwords_are_accepted(world, password):
    user = db.session.scalar(select(User).filter_by(username="wj1"))
    change_password(user, password)
    db.session.commit()
    assert user.check_password(password)


def test_a_64_character_password_logs_in_exactly_as_typed(client, world):
    password = "Ab" * 32
    user = db.session.scalar(select(User).filter_by(username="wj1"))
    change_password(user, password)
    db.session.commit()
    assert login(client, "wj1", password[:63]).status_code == 401  # never truncated
    assert login(client, "wj1", password.lower()).status_code == 401  # nor case-folded
    assert login(client, "wj1", password).status_code == 302


def test_changing_to_a_common_password_shows_why_and_keeps_the_old_one(client, world):
    login(client, "wj1")
    page = client.get("/account/password")
    response = client.post("/account/password", data={
        "csrf_token": csrf_from(page.get_data(as_text=True)), "current": PASSWORD,
        "new": "iloveyou1", "confirm": "iloveyou1"})
    assert "这个密码太常见，容易被猜到，请换一个" in response.get_data(as_text=True)
    db.session.expire_all()
    assert db.session.scalar(select(User).filter_by(username="wj1")).check_password(PASSWORD)
