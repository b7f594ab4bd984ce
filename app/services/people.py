"""Changing people and organisations after they exist: profiles, moves in the tree, passwords.

Creating them stays in accounts.py (add_organisation, add_user); the Excel import and the
administrators' pages both change existing rows through the functions here, so the rules are
checked the same way whichever door a change comes through.
"""

from __future__ import annotations

import secrets
from collections.abc import Iterable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

from flask import current_app
from sqlalchemy import Select, func, or_, select
from sqlalchemy.orm import contains_eager
from werkzeug.security import generate_password_hash

from app.engine.errors import ValidationFailed
from app.engine.formdata import hidden_character
from app.extensions import db
from app.i18n import joined, zh
from app.models import EventKind, Organisation, OrgKind, Role, User
from app.models.accounts import ORG_LEVEL
from app.services.accounts import change_password, check_email, check_phone, clean_expertise
from app.services.security_events import record_event

# No 0/O, 1/l/I: generated passwords are read off a screen or a printout and typed in.
PASSWORD_ALPHABET = "abcdefghjkmnpqrstuvwxyzABCDEFGHJKLMNPQRSTUVWXYZ23456789"
GENERATED_LENGTH = 12
HASH_THREADS = 8


def generate_password() -> str:
    """A random password of 12 letters and digits (at least one of each), for handing out."""
    while True:
        password = "".join(secrets.choice(PASSWORD_ALPHABET) for _ in range(GENERATED_LENGTH))
        if any(c.isdigit() for c in password) and any(c.isalpha() for c in password):
            return password


def hash_passwords(passwords: Iterable[str]) -> list[str]:
    """Hash many passwords at once; scrypt releases the GIL, so threads use every core."""
    method = current_app.config.get("PASSWORD_HASH_METHOD", "scrypt")
    with ThreadPoolExecutor(HASH_THREADS) as pool:
        return list(pool.map(lambda p: generate_password_hash(p, method=method), passwords))


def check_text(value: str, limit: int, what: str, field: str) -> str:
    """A trimmed text of at most ``limit`` characters (the column's size)."""
    value = value.strip()
    if len(value) > limit:
        raise ValidationFailed(zh("%(what)s不能超过 %(limit)s 个字",
                                  what=what, limit=limit), {field: f"at most {limit}"})
    if problem := hidden_character(value):
        raise ValidationFailed(zh("%(what)s%(problem)s", what=what, problem=problem),
                               {field: problem})
    return value


def move_organisation(org: Organisation, parent: Organisation | None) -> None:
    """Hang an organisation (with its subtree) under another parent, keeping levels in order.

    The district of every node below is worked out again; district administrators sitting in
    the subtree must still be inside a district afterwards.
    """
    if parent is None:
        if org.kind != OrgKind.CITY:
            raise ValidationFailed(zh("只有市级机构可以没有上级"), {"parent": None})
    elif ORG_LEVEL[OrgKind(parent.kind)] >= ORG_LEVEL[OrgKind(org.kind)]:
        raise ValidationFailed(zh("上级机构的层级必须高于本机构"), {"parent": parent.code})
    org.parent = parent
    subtree = _set_districts(org, parent.district_id if parent else None)
    stranded = db.session.scalars(select(User.username).where(
        User.role == Role.DISTRICT_ADMIN, User.org_id.in_(
            [node.id for node in subtree if node.district_id is None]))).all()
    if stranded:
        raise ValidationFailed(zh("移动后以下区级管理员将不属于任何区：%(stranded)s",
                                  stranded=joined(stranded)),
                               {"parent": parent.code if parent else None})
    db.session.flush()


def _set_districts(org: Organisation, inherited: int | None) -> list[Organisation]:
    """Recompute district_id for ``org`` and everything below it; return those nodes."""
    children: dict[int | None, list[Organisation]] = {}
    for node in db.session.scalars(select(Organisation)):
        children.setdefault(node.parent_id, []).append(node)
    done: list[Organisation] = []
    pending = [(org, inherited)]
    while pending:
        node, district = pending.pop()
        node.district_id = node.id if node.kind == OrgKind.DISTRICT else district
        done.append(node)
        pending.extend((child, node.district_id) for child in children.get(node.id, []))
    return done


def update_user(user: User, *, name: str | None = None, email: str | None = None,
                phone: str | None = None, title: str | None = None,
                expertise: list[str] | None = None, org: Organisation | None = None,
                role: str | None = None, actor: User | None = None) -> list[str]:
    """Change the given fields of a user (None leaves a field alone); return the changed ones.

    District administrators must sit in a district; the role is changed only when asked for,
    and never by the user themself (an administrator cannot lock themself out).
    """
    if actor is not None and actor.id == user.id and role not in (None, user.role):
        raise ValidationFailed(zh("不能修改自己的角色"), {"role": role})
    wanted: dict[str, object] = {}
    if name is not None:
        wanted["name"] = check_text(name, 100, zh("姓名"), "name")
    if email is not None:
        wanted["email"] = check_email(email)
    if phone is not None:
        wanted["phone"] = check_phone(phone)
    if title is not None:
        wanted["title"] = check_text(title, 100, zh("职称"), "title")
    if expertise is not None:
        wanted["expertise"] = clean_expertise(expertise)
    if role is not None:
        if role not in {r.value for r in Role}:
            raise ValidationFailed(zh("未知的角色：%(role)s", role=role), {"role": role})
        wanted["role"] = role
    target_org = org or user.org
    if (role or user.role) == Role.DISTRICT_ADMIN and target_org.district_id is None:
        raise ValidationFailed(zh("区级管理员必须属于某个区"), {"org": target_org.code})
    changed = [key for key, value in wanted.items() if getattr(user, key) != value]
    if "role" in changed:
        record_event(EventKind.ROLE_CHANGED, user, before=user.role, after=wanted["role"],
                     by=actor.username if actor is not None else "")
    for key in changed:
        setattr(user, key, wanted[key])
    if org is not None and org.id != user.org_id:
        user.org = org
        changed.append("org")
    db.session.flush()
    return changed


def rename_organisation(org: Organisation, name: str) -> None:
    """Give an organisation a new name (required, at most 200 characters)."""
    name = check_text(name, 200, zh("机构名称"), "name")
    if not name:
        raise ValidationFailed(zh("机构名称不能为空"), {"name": "required"})
    org.name = name
    db.session.flush()


def set_active(user: User, active: bool, actor: User) -> None:
    """Enable or disable an account; a disabled one cannot log in and its sessions and tokens
    end at once. Its history stays. Nobody disables their own account."""
    if user.id == actor.id and not active:
        raise ValidationFailed(zh("不能停用自己的账号"), {"user": user.username})
    if user.active != active:
        user.active = active
        user.session_nonce = secrets.token_hex(8)
        record_event(EventKind.ACCOUNT_ENABLED if active else EventKind.ACCOUNT_DISABLED, user,
                     by=actor.username)
    db.session.flush()


def reset_password(user: User, actor: User) -> str:
    """Give the user a new random password, ending their sessions; return it (shown once).
    One's own password is changed on the password page, with the current one."""
    if user.id == actor.id:
        raise ValidationFailed(zh("请在“密码”页面修改自己的密码"), {"user": user.username})
    password = generate_password()
    change_password(user, password, how=actor.username)
    db.session.flush()
    return password


def subtree_ids(org_id: int) -> list[int]:
    """The organisation and every organisation below it."""
    children: dict[int | None, list[int]] = {}
    for node_id, parent_id in db.session.execute(select(Organisation.id,
                                                        Organisation.parent_id)):
        children.setdefault(parent_id, []).append(node_id)
    found, pending = [], [org_id]
    while pending:
        node = pending.pop()
        found.append(node)
        pending.extend(children.get(node, []))
    return found


@dataclass(frozen=True)
class UserFilter:
    """What the administrator narrowed the user list to; empty values mean all."""

    q: str = ""  # part of the username, name, e-mail or phone (Chinese too)
    role: str = ""
    org_id: int | None = None  # this organisation and everything below it
    active: str = ""  # "1" enabled only, "0" disabled only
    sort: str = "username"


SORTS: dict[str, tuple[Any, ...]] = {
    "username": (User.username,),
    "name": (User.name, User.username),
    "role": (User.role, User.username),
    "org": (Organisation.code, User.username),
    "newest": (User.created_at.desc(), User.id.desc()),
}


def users_query(chosen: UserFilter) -> Select[Any]:
    """The matching users with their organisation, in the chosen order."""
    query = select(User).join(User.org).options(contains_eager(User.org))
    if chosen.q.strip():
        pattern = "%" + chosen.q.strip().replace("\\", "\\\\").replace("%", r"\%") \
            .replace("_", r"\_") + "%"
        query = query.where(or_(*(column.ilike(pattern, escape="\\") for column in (
            User.username, User.name, User.email, User.phone))))
    if chosen.role:
        query = query.where(User.role == chosen.role)
    if chosen.org_id:
        query = query.where(User.org_id.in_(subtree_ids(chosen.org_id)))
    if chosen.active in ("0", "1"):
        query = query.where(User.active.is_(chosen.active == "1"))
    return query.order_by(*SORTS.get(chosen.sort, SORTS["username"]))


def organisation_tree() -> list[tuple[Organisation, int, int]]:
    """Every organisation in tree order (children by code) with its depth and the users in it
    and below it."""
    orgs = list(db.session.scalars(select(Organisation).order_by(Organisation.code)))
    counts: dict[int, int] = {org_id: n for org_id, n in db.session.execute(
        select(User.org_id, func.count()).group_by(User.org_id))}
    children: dict[int | None, list[Organisation]] = {}
    for org in orgs:
        children.setdefault(org.parent_id, []).append(org)
    ordered: list[tuple[Organisation, int]] = []
    pending = [(org, 0) for org in reversed(children.get(None, []))]
    while pending:
        org, depth = pending.pop()
        ordered.append((org, depth))
        pending.extend((child, depth + 1) for child in reversed(children.get(org.id, [])))
    totals = dict(counts)
    for org, _ in reversed(ordered):  # children come after their parent: add them up first
        if org.parent_id is not None:
            totals[org.parent_id] = totals.get(org.parent_id, 0) + totals.get(org.id, 0)
    return [(org, depth, totals.get(org.id, 0)) for org, depth in ordered]
