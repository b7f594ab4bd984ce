"""Changing people and organisations after they exist: profiles, moves in the tree, passwords.

Creating them stays in accounts.py (add_organisation, add_user); the Excel import and the
administrators' pages both change existing rows through the functions here, so the rules are
checked the same way whichever door a change comes through.
"""

from __future__ import annotations

import re
import secrets
from collections.abc import Iterable
from concurrent.futures import ThreadPoolExecutor

from flask import current_app
from sqlalchemy import select
from werkzeug.security import generate_password_hash

from app.engine.errors import ValidationFailed
from app.extensions import db
from app.models import Organisation, OrgKind, Role, User
from app.models.accounts import ORG_LEVEL
from app.services.accounts import check_email, clean_expertise

# No 0/O, 1/l/I: generated passwords are read off a screen or a printout and typed in.
PASSWORD_ALPHABET = "abcdefghjkmnpqrstuvwxyzABCDEFGHJKLMNPQRSTUVWXYZ23456789"
GENERATED_LENGTH = 12
PHONE = re.compile(r"^[0-9+\-() 转]{3,30}$")
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


def check_phone(phone: str) -> str:
    """The phone number trimmed and checked: digits, + - ( ) spaces and 转, at most 30."""
    phone = phone.strip()
    if phone and (not PHONE.match(phone) or sum(c.isdigit() for c in phone) < 3):
        raise ValidationFailed(f"电话号码格式不正确：{phone}", {"phone": phone})
    return phone


def check_text(value: str, limit: int, what: str) -> str:
    """A trimmed text of at most ``limit`` characters (the column's size)."""
    value = value.strip()
    if len(value) > limit:
        raise ValidationFailed(f"{what}不能超过 {limit} 个字", {what: len(value)})
    return value


def move_organisation(org: Organisation, parent: Organisation | None) -> None:
    """Hang an organisation (with its subtree) under another parent, keeping levels in order.

    The district of every node below is worked out again; district administrators sitting in
    the subtree must still be inside a district afterwards.
    """
    if parent is None:
        if org.kind != OrgKind.CITY:
            raise ValidationFailed("只有市级机构可以没有上级", {"parent": None})
    elif ORG_LEVEL[OrgKind(parent.kind)] >= ORG_LEVEL[OrgKind(org.kind)]:
        raise ValidationFailed("上级机构的层级必须高于本机构", {"parent": parent.code})
    org.parent = parent
    subtree = _set_districts(org, parent.district_id if parent else None)
    stranded = db.session.scalars(select(User.username).where(
        User.role == Role.DISTRICT_ADMIN, User.org_id.in_(
            [node.id for node in subtree if node.district_id is None]))).all()
    if stranded:
        raise ValidationFailed("移动后以下区级管理员将不属于任何区：" + "、".join(stranded),
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
                role: str | None = None) -> list[str]:
    """Change the given fields of a user (None leaves a field alone); return the changed ones.

    District administrators must sit in a district; the role is changed only when asked for.
    """
    wanted: dict[str, object] = {}
    if name is not None:
        wanted["name"] = check_text(name, 100, "姓名")
    if email is not None:
        wanted["email"] = check_email(email)
    if phone is not None:
        wanted["phone"] = check_phone(phone)
    if title is not None:
        wanted["title"] = check_text(title, 100, "职称")
    if expertise is not None:
        wanted["expertise"] = clean_expertise(expertise)
    if role is not None:
        if role not in {r.value for r in Role}:
            raise ValidationFailed(f"未知的角色：{role}", {"role": role})
        wanted["role"] = role
    target_org = org or user.org
    if (role or user.role) == Role.DISTRICT_ADMIN and target_org.district_id is None:
        raise ValidationFailed("区级管理员必须属于某个区", {"org": target_org.code})
    changed = [key for key, value in wanted.items() if getattr(user, key) != value]
    for key in changed:
        setattr(user, key, wanted[key])
    if org is not None and org.id != user.org_id:
        user.org = org
        changed.append("org")
    db.session.flush()
    return changed
