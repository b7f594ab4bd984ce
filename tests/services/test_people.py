"""Changing people and organisations: profiles, the tree, disabling, password resets, the list."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from app.engine.errors import ValidationFailed
from app.extensions import db
from app.models import Organisation, User
from app.services.accounts import add_user, authenticate, check_password_rules
from app.services.people import (
    UserFilter,
    move_organisation,
    organisation_tree,
    reset_password,
    set_active,
    update_user,
    users_query,
)
from tests.conftest import PASSWORD


def org(code: str) -> Organisation:
    """A stored organisation by code."""
    return db.session.scalars(select(Organisation).filter_by(code=code)).one()


def names(chosen: UserFilter) -> list[str]:
    """The usernames the list shows for a filter, in its order."""
    return [u.username for u in db.session.scalars(users_query(chosen))]


def test_the_list_filters_searches_and_sorts(world):
    users = world["users"]
    update_user(users["expert1"], name="王教授", email="wang@example.cn")
    set_active(users["tn3"], False, users["city"])
    add_user("percent", "applicant", "X-OU", PASSWORD, "百分之百%")
    db.session.commit()
    assert names(UserFilter(q="教授")) == ["expert1"]
    assert names(UserFilter(q="WANG@")) == ["expert1"]  # e-mail, any case
    assert names(UserFilter(q="%")) == ["percent"]  # typed literally, not a wildcard
    assert names(UserFilter(role="district_admin")) == ["tn_admin", "wj_admin"]
    assert names(UserFilter(org_id=org("WJ").id)) == ["wj1", "wj2", "wj3", "wj_admin"]
    assert names(UserFilter(org_id=org("WJ-S").id, sort="name")) == ["wj1", "wj2", "wj3"]
    assert names(UserFilter(active="0")) == ["tn3"]
    assert "tn3" not in names(UserFilter(active="1"))
    assert names(UserFilter(sort="newest"))[0] == "percent"
    assert names(UserFilter(sort="role"))[:2] == ["percent", "tn1"]  # applicants first


def test_disabled_accounts_cannot_log_in_and_keep_their_history(world, make_application):
    users = world["users"]
    entry = make_application("wj1")
    nonce = users["wj1"].session_nonce
    set_active(users["wj1"], False, users["city"])
    db.session.commit()
    assert users["wj1"].session_nonce != nonce  # open sessions end
    assert authenticate("wj1", PASSWORD, "10.0.0.1") is None
    db.session.expire_all()
    assert db.session.get(type(entry), entry.id).applicant.username == "wj1"
    set_active(users["wj1"], True, users["city"])
    assert authenticate("wj1", PASSWORD, "10.0.0.1") is not None
    with pytest.raises(ValidationFailed, match="不能停用自己的账号"):
        set_active(users["city"], False, users["city"])


def test_an_administrator_reset_gives_a_new_password_and_ends_sessions(world):
    users = world["users"]
    nonce = users["wj1"].session_nonce
    password = reset_password(users["wj1"], users["city"])
    check_password_rules(password)
    assert users["wj1"].check_password(password) and not users["wj1"].check_password(PASSWORD)
    assert users["wj1"].session_nonce != nonce
    assert password not in users["wj1"].password_hash
    with pytest.raises(ValidationFailed, match="请在“密码”页面修改自己的密码"):
        reset_password(users["city"], users["city"])


def test_profiles_change_within_the_rules(world):
    users = world["users"]
    changed = update_user(users["wj1"], name="李明", phone=" 0519-86000000 ", title="讲师",
                          expertise=["社区教育", " 社区教育 ", "老年教育"], org=org("TN-U1"))
    assert changed == ["name", "phone", "title", "expertise", "org"]
    assert users["wj1"].district_id == org("TN").id and users["wj1"].phone == "0519-86000000"
    assert users["wj1"].expertise == ["社区教育", "老年教育"]
    with pytest.raises(ValidationFailed, match="区级管理员必须属于某个区"):
        update_user(users["wj1"], role="district_admin", org=org("X-OU"))
    with pytest.raises(ValidationFailed, match="电话号码格式不正确"):
        update_user(users["wj1"], phone="call me")
    with pytest.raises(ValidationFailed, match="不能修改自己的角色"):
        update_user(users["city"], role="applicant", actor=users["city"])
    assert update_user(users["wj2"], role="expert", actor=users["city"]) == ["role"]


def test_moving_an_organisation_moves_its_subtree_between_districts(world):
    street = org("WJ-S")
    move_organisation(street, org("TN"))
    db.session.commit()
    assert street.parent.code == "TN"
    assert {org(f"WJ-U{n}").district_id for n in (1, 2, 3)} == {org("TN").id}
    assert world["users"]["wj1"].district_id == org("TN").id
    with pytest.raises(ValidationFailed, match="层级必须高于本机构"):
        move_organisation(org("TN"), org("WJ-S"))
    db.session.rollback()
    world["users"]["wj_admin"].org = org("TN-S")
    db.session.commit()
    with pytest.raises(ValidationFailed, match="区级管理员将不属于任何区：wj_admin"):
        move_organisation(org("TN-S"), org("X"))


def test_the_tree_lists_children_under_their_parents(world):
    rows = [(o.code, depth, n) for o, depth, n in organisation_tree()]
    everyone = len(db.session.scalars(select(User)).all())
    assert rows[0] == ("X", 0, everyone)  # users in an organisation and below it
    assert rows.index(("WJ", 1, 4)) < rows.index(("WJ-S", 2, 3)) < rows.index(("WJ-U1", 3, 1))
    assert ("X-OU", 1, 2) in rows and len(rows) == len(db.session.scalars(
        select(Organisation)).all())
    assert {depth for _, depth, _ in rows} == {0, 1, 2, 3}
    assert db.session.scalar(select(User).filter_by(username="expert1")).org.code == "X-OU"
