"""A forgotten password, reset by e-mail: a link for one use within an hour, no account leaked."""

from __future__ import annotations

import re

from sqlalchemy import select

from app.extensions import db
from app.models import OutboxMessage, User
from tests.conftest import PASSWORD, login
from tests.web.browser import Browser

SENT = "如果该账号登记了电子邮箱"


def _mail_to(address: str) -> list[OutboxMessage]:
    db.session.rollback()
    return list(db.session.scalars(select(OutboxMessage).filter_by(to_address=address)))


def _ask(app, identifier: str) -> str:
    anonymous = Browser(app)
    page = anonymous.get("/password/forgot")
    answer = anonymous.submit(page, page.form(), {"identifier": identifier})
    return anonymous.get(answer.response.headers["Location"]).text


def test_a_link_by_email_sets_a_new_password_once(app, world, client):
    world["users"]["wj1"].email = "Wu.Li@example.cn"
    db.session.commit()
    login(client, "wj1")  # a session elsewhere, which the reset ends
    assert client.get("/my/").status_code == 200

    assert SENT in _ask(app, "wu.li@EXAMPLE.cn")  # the address, in any case
    [mail] = _mail_to("Wu.Li@example.cn")
    assert mail.subject == "评审系统：重置密码" and "wj1" in mail.body
    link = re.search(r"http://pingshen\.test(/password/reset/\S+)", mail.body).group(1)

    anonymous = Browser(app)
    page = anonymous.get(link)
    refused = anonymous.submit(page, page.form(), {"new": "short", "confirm": "short"})
    assert refused.status == 422
    done = anonymous.submit(page, page.form(), {"new": "a-new-secret-1", "confirm":
                                                "a-new-secret-1"})
    assert done.response.headers["Location"] == "/login"
    db.session.rollback()
    user = db.session.scalar(select(User).filter_by(username="wj1"))
    assert user.check_password("a-new-secret-1") and not user.check_password(PASSWORD)
    assert client.get("/my/").status_code == 302  # the other session has ended
    again = Browser(app).get(link)
    assert again.status == 410 and "链接已失效" in again.text


def test_the_answer_never_tells_whether_an_account_exists(app, world):
    world["users"]["wj2"].email = "wj2@example.cn"
    world["users"]["wj3"].email = "wj3@example.cn"
    world["users"]["wj3"].active = False
    db.session.commit()
    for identifier in ("nobody", "nobody@example.cn", "wj1", "wj3"):  # wj1 has no address
        assert SENT in _ask(app, identifier)
    assert _mail_to("wj3@example.cn") == []  # a disabled account gets no link
    db.session.rollback()
    assert db.session.scalar(select(OutboxMessage)) is None
    for _ in range(5):
        assert SENT in _ask(app, "wj2")
    assert len(_mail_to("wj2@example.cn")) == 3  # at most three links an hour


def test_an_expired_or_forged_link_is_refused(app, world):
    world["users"]["wj2"].email = "wj2@example.cn"
    db.session.commit()
    _ask(app, "wj2")
    link = re.search(r"(/password/reset/\S+)", _mail_to("wj2@example.cn")[0].body).group(1)
    assert Browser(app).get(link[:-2] + "xx").status == 410
    app.config["PASSWORD_RESET_SECONDS"] = -1  # every link is older than that
    assert Browser(app).get(link).status == 410
