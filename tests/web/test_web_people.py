"""The city's people pages: the user list, a user's profile, disabling, resets, the tree."""

from __future__ import annotations

import re

from sqlalchemy import select

from app.extensions import db
from app.models import Application, Organisation, User
from app.services.accounts import add_user
from tests.conftest import PASSWORD
from tests.web.browser import Browser
from tests.web.conftest import reload


def user(username: str) -> User:
    """A user as stored now."""
    db.session.rollback()
    return db.session.scalars(select(User).filter_by(username=username)).one()


def org(code: str) -> Organisation:
    """An organisation as stored now."""
    db.session.rollback()
    return db.session.scalars(select(Organisation).filter_by(code=code)).one()


def listed(page) -> list[str]:
    """The usernames a user list page shows, in order."""
    return re.findall(r'<td class="lead"[^>]*><a href="/admin/users/\d+">([^<]+)</a>', page.text)


def test_the_list_filters_searches_sorts_and_pages(world, browser):
    for n in range(60):
        add_user(f"t{n:02d}", "applicant", "TN-U1", PASSWORD, f"天宁老师{n:02d}")
    add_user("wang", "expert", "X-OU", PASSWORD, "王教授")
    db.session.commit()
    city = browser("city")
    first = city.get("/admin/users?org=" + str(org("TN").id))
    second = city.get(f"/admin/users?org={org('TN').id}&page=2")
    assert (len(listed(first)), len(listed(second))) == (50, 14)  # 60 + tn1..tn3 + tn_admin
    assert set(listed(first)).isdisjoint(listed(second))
    assert listed(city.get("/admin/users?q=王教")) == ["wang"]
    assert listed(city.get("/admin/users?q=天宁老师5&sort=name")) == [
        f"t5{n}" for n in range(10)]
    assert listed(city.get("/admin/users?role=district_admin")) == ["tn_admin", "wj_admin"]
    assert listed(city.get("/admin/users?role=expert&sort=newest"))[0] == "wang"
    assert browser("wj_admin").get("/admin/users").status == 403


def test_the_city_edits_a_profile(world, browser):
    city = browser("city")
    page = city.get(f"/admin/users/{world['users']['expert1'].id}")
    form = page.form()
    saved = city.submit(page, form, {"name": "王教授", "email": "wang@example.cn",
                                     "phone": "13800000000", "title": "教授",
                                     "expertise": "社区教育、老年教育", "org": "WJ-U1"})
    assert saved.status == 302
    stored = user("expert1")
    assert (stored.name, stored.email, stored.phone, stored.title) == (
        "王教授", "wang@example.cn", "13800000000", "教授")
    assert stored.expertise == ["社区教育", "老年教育"] and stored.org.code == "WJ-U1"
    page = city.get(f"/admin/users/{stored.id}")
    refused = city.submit(page, page.form(), {"email": "not an address"})
    assert refused.status == 422
    assert refused.field_error("email") == "电子邮箱格式不正确：not an address"
    refused = city.submit(page, page.form(), {"role": "district_admin", "org": "X-OU"})
    assert refused.field_error("org") == "区级管理员必须属于某个区"
    refused = city.submit(page, page.form(), {"org": "NOPE"})
    assert refused.field_error("org") == "机构不存在：NOPE"
    assert user("expert1").role == "expert" and user("expert1").email == "wang@example.cn"
    mine = city.get(f"/admin/users/{world['users']['city'].id}")
    refused = city.submit(mine, mine.form(), {"role": "applicant"})
    assert refused.field_error("role") == "不能修改自己的角色"


def test_a_disabled_user_cannot_log_in_and_their_session_ends(app, world, browser,
                                                               make_application):
    entry = make_application("wj1")
    applicant = browser("wj1")
    assert applicant.get("/my/").status == 200
    city = browser("city")
    page = city.get(f"/admin/users/{world['users']['wj1'].id}")
    done = city.submit(page, page.form("/active"))
    assert "不能登录" in city.get(done.response.headers["Location"]).text
    assert user("wj1").active is False
    assert applicant.get("/my/").status == 302  # the open session has ended
    again = Browser(app)
    login_page = again.get("/login")
    refused = again.submit(login_page, login_page.form("/login"),
                           {"username": "wj1", "password": PASSWORD})
    assert refused.status == 401
    assert reload(Application, entry.id).applicant.username == "wj1"  # history kept
    assert "已停用" in city.get("/admin/users?active=0").text
    page = city.get(f"/admin/users/{world['users']['wj1'].id}")
    city.submit(page, page.form("/active"))
    assert user("wj1").active is True
    assert browser("wj1").get("/my/").status == 200
    mine = city.get(f"/admin/users/{world['users']['city'].id}")
    city.submit(mine, mine.form("/active"))
    assert user("city").active is True


def test_an_administrator_reset_shows_a_password_once_and_logs_out_old_sessions(
        app, world, browser):
    applicant = browser("wj1")
    assert applicant.get("/my/").status == 200
    city = browser("city")
    page = city.get(f"/admin/users/{world['users']['wj1'].id}")
    shown = city.submit(page, page.form("/password"))
    assert shown.status == 200
    assert shown.response.headers["Cache-Control"] == "private, no-store"
    password = re.search(r'id="one-time-password">([^<]+)<', shown.text).group(1)
    assert applicant.get("/my/").status == 302  # logged out
    assert not user("wj1").check_password(PASSWORD) and user("wj1").check_password(password)
    fresh = Browser(app)
    login_page = fresh.get("/login")
    assert fresh.submit(login_page, login_page.form("/login"),
                        {"username": "wj1", "password": password}).status == 302
    assert password not in city.get(f"/admin/users/{world['users']['wj1'].id}").text


def test_the_city_adds_renames_and_moves_organisations(world, browser):
    city = browser("city")
    tree = city.get("/admin/organisations")
    order = [tree.text.index(name) for name in ("武进区", "武进区某街道", "武进区单位1")]
    assert order == sorted(order)
    added = city.submit(tree, tree.form(), {"code": "WJ-S2", "name": "湖塘镇", "kind": "street",
                                            "parent": "WJ"})
    assert added.status == 302 and org("WJ-S2").district_id == org("WJ").id
    refused = city.submit(tree, tree.form(), {"code": "BAD", "name": "某单位", "kind": "district",
                                              "parent": "WJ-S2"})
    assert refused.status == 422 and "上级机构的层级必须高于本机构" in refused.text
    unit = org("WJ-U1")
    page = city.get(f"/admin/organisations/{unit.id}")
    assert page.input_value("parent") == "WJ-S"
    moved = city.submit(page, page.form(), {"name": "湖塘镇社区教育中心", "parent": "TN-S"})
    assert moved.status == 302
    unit = org("WJ-U1")
    assert (unit.name, unit.parent.code, unit.district_id) == ("湖塘镇社区教育中心", "TN-S",
                                                               org("TN").id)
    assert user("wj1").district_id == org("TN").id
    refused = city.submit(page, page.form(), {"parent": "NOPE"})
    assert refused.status == 422 and "上级机构不存在：NOPE" in refused.text
    assert browser("wj_admin").get("/admin/organisations").status == 403
