"""The rules each imported row is checked against, with the database and the file's other rows.

Organisations are checked from the top of the tree down (a parent may stand anywhere in the
file), then users and experts; a row that depends on an invalid row is invalid too, so importing
only the valid rows never leaves a user without an organisation.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import select

from app.engine.errors import ValidationFailed
from app.extensions import db
from app.i18n import joined, zh
from app.models import Organisation, OrgKind, Role, User
from app.models.accounts import ORG_LEVEL
from app.services.accounts import check_email, check_password_rules, check_phone, clean_expertise
from app.services.import_sheets import ParsedFile, Problem, Row, SheetSpec
from app.services.import_specs import (
    EXPERTISE_SEPARATORS,
    EXPERTS,
    KIND_LABELS,
    KINDS,
    ORGS,
    ROLE_LABELS,
    ROLES,
    USERS,
)

NEW, UPDATED, UNCHANGED, INVALID = "new", "updated", "unchanged", "invalid"
IDENTIFIER = re.compile(r"^[^\s#][^\s]*$")
ORG_FIELDS = (("name", "机构名称"), ("parent", "上级机构代码"))
USER_FIELDS = (("name", "姓名"), ("org", "所属机构代码"), ("email", "电子邮箱"), ("phone", "手机"),
               ("title", "职称"), ("expertise", "专长"))


@dataclass
class Change:
    """One field a row changes on an existing organisation or user."""

    key: str
    column: str
    old: str
    new: str


@dataclass
class RowCheck:
    """What importing one row would do, and what is wrong with it."""

    sheet: str
    row: int
    key: str = ""
    name: str = ""
    status: str = UNCHANGED
    values: dict[str, Any] = field(default_factory=dict)
    changes: list[Change] = field(default_factory=list)
    errors: list[Problem] = field(default_factory=list)
    notes: list[Problem] = field(default_factory=list)

    def error(self, spec: SheetSpec, key: str, message: str) -> None:
        """Record an error in the column ``key`` (the first one only: a cell with no value
        because of a formula is not also reported as empty)."""
        header = spec.column(key).header
        if all(e.column != header for e in self.errors):
            self.errors.append(Problem(self.sheet, self.row, header, message))

    def note(self, spec: SheetSpec, key: str, message: str) -> None:
        """Record something worth knowing that does not stop the row."""
        self.notes.append(Problem(self.sheet, self.row, spec.column(key).header, message))


@dataclass
class _Node:
    """An organisation as the tree will be: its kind and its parent's code."""

    kind: str
    parent: str | None


class Checker:
    """Checks the rows of one parsed file against the database, writing nothing."""

    def __init__(self, parsed: ParsedFile) -> None:
        """Load what the checks compare with: the tree, and the users the file names."""
        self.parsed = parsed
        orgs = list(db.session.scalars(select(Organisation)))
        code_of = {org.id: org.code for org in orgs}
        self.existing = {org.code: org for org in orgs}
        self.tree = {org.code: _Node(org.kind, code_of.get(org.parent_id or 0)) for org in orgs}
        self.children: dict[str, list[str]] = {}
        for org in orgs:
            if org.parent_id:
                self.children.setdefault(code_of[org.parent_id], []).append(org.code)
        self.admins: dict[str, list[str]] = {}
        for username, code in db.session.execute(
                select(User.username, Organisation.code).join(User.org)
                .where(User.role == Role.DISTRICT_ADMIN)):
            self.admins.setdefault(code, []).append(username)
        self.declared = self._first_rows(ORGS, "code")
        self.people = {**self._first_rows(EXPERTS, "username"),
                       **self._first_rows(USERS, "username")}
        self.users = self._load_users(list(self.people))

    def _first_rows(self, spec: SheetSpec, key: str) -> dict[str, tuple[str, int, Row]]:
        """Each identifier of a sheet with the first row that holds it."""
        sheet = self.parsed.sheets.get(spec.name)
        found: dict[str, tuple[str, int, Row]] = {}
        for row in sheet.rows if sheet else []:
            found.setdefault(row.values.get(key, ""), (spec.name, row.number, row))
        found.pop("", None)
        return found

    def _load_users(self, usernames: list[str]) -> dict[str, User]:
        """The stored users among ``usernames`` (in chunks: databases limit parameters)."""
        users: dict[str, User] = {}
        for start in range(0, len(usernames), 500):
            chunk = usernames[start:start + 500]
            users.update((u.username, u) for u in db.session.scalars(
                select(User).where(User.username.in_(chunk))))
        return users

    def run(self) -> list[RowCheck]:
        """Check every row; organisations from the top of the tree down, then people."""
        checks: list[RowCheck] = []
        if (sheet := self.parsed.sheets.get(ORGS.name)) is not None:
            def level(row: Row) -> int:
                """The row's level in the tree (unknown kinds last)."""
                kind = KINDS.get(row.values.get("kind", "").lower())
                return ORG_LEVEL[OrgKind(kind)] if kind else len(ORG_LEVEL)
            checks.extend(self.check_org(row) for row in sorted(sheet.rows, key=level))
        for spec in (USERS, EXPERTS):
            if (sheet := self.parsed.sheets.get(spec.name)) is not None:
                checks.extend(self.check_user(spec, row) for row in sheet.rows)
        order = {spec.name: n for n, spec in enumerate((ORGS, USERS, EXPERTS))}
        return sorted(checks, key=lambda c: (order[c.sheet], c.row))

    def check_org(self, row: Row) -> RowCheck:
        """One organisation row."""
        v, spec = row.values, ORGS
        check = self._start(spec, row, "code", "name")
        code = self._identifier(check, spec, "code", v["code"], 40, self.declared)
        name = self._text(check, spec, "name", v["name"], 200, required=True)
        kind = KINDS.get(v["kind"].lower()) if v["kind"] else None
        if not v["kind"]:
            check.error(spec, "kind", zh("必填"))
        elif kind is None:
            check.error(spec, "kind", zh("未知的机构类型“%(kind)s”（应为 市、区、街道 或 单位）",
                                         kind=v['kind']))
        existing = self.existing.get(code)
        if existing is not None and kind and kind != existing.kind:
            check.error(spec, "kind", zh("机构已存在，类型为“%(kind)s”；导入不修改机构类型",
                                         kind=KIND_LABELS[OrgKind(existing.kind)]))
        parent = v.get("parent", "")
        if not parent and existing is not None:
            parent = self.tree[code].parent or ""  # an empty cell keeps the stored parent
        if kind:
            parent = self._parent(check, code, kind, parent)
        check.values = {"code": code, "name": name, "kind": kind, "parent": parent}
        if not check.errors and existing is not None:
            self._compare(check, ORG_FIELDS, {"name": existing.name,
                                              "parent": self.tree[code].parent or ""},
                          check.values)
            if any(c.key == "parent" for c in check.changes):
                self._check_move(check, code, kind or "", parent)
        elif not check.errors:
            check.status = NEW
        if check.errors:
            return self._invalid(check)
        self.tree[code] = _Node(kind or "", parent or None)
        return check

    def _parent(self, check: RowCheck, code: str, kind: str, parent: str) -> str:
        """The parent's code, checked: it exists (stored or in the file) and sits higher."""
        spec = ORGS
        if kind == OrgKind.CITY:
            if parent:
                check.error(spec, "parent", zh("市级机构不能有上级机构"))
            return ""
        if not parent:
            check.error(spec, "parent", zh("必填（只有市级机构可以没有上级）"))
            return ""
        if parent == code:
            check.error(spec, "parent", zh("上级机构不能是本机构"))
            return parent
        declared = self.declared.get(parent)
        parent_kind = self.tree[parent].kind if parent in self.tree else (
            KINDS.get(declared[2].values.get("kind", "").lower()) if declared else None)
        if parent_kind is None and declared is None:
            check.error(spec, "parent", zh("上级机构不存在：%(parent)s", parent=parent))
        elif parent_kind and ORG_LEVEL[OrgKind(parent_kind)] >= ORG_LEVEL[OrgKind(kind)]:
            check.error(spec, "parent", zh("上级机构“%(parent)s”是%(parent_kind)s，层级必须高于"
                                           "本机构（%(kind)s）", parent=parent,
                                           parent_kind=KIND_LABELS[OrgKind(parent_kind)],
                                           kind=KIND_LABELS[OrgKind(kind)]))
        elif parent not in self.tree and declared is not None:
            check.error(spec, "parent", zh("上级机构“%(parent)s”所在行（第 %(row)s 行）有错误",
                                           parent=parent, row=declared[1]))
        return parent

    def _check_move(self, check: RowCheck, code: str, kind: str, parent: str) -> None:
        """A move must not leave district administrators of the subtree outside a district."""
        if kind == OrgKind.DISTRICT or self.district_of(parent) is not None:
            return
        stranded, pending = [], [code]
        while pending:
            node = pending.pop()
            stranded.extend(self.admins.get(node, []))
            pending.extend(self.children.get(node, []))
        if stranded:
            check.error(ORGS, "parent", zh("移动后以下区级管理员将不属于任何区：%(stranded)s",
                                           stranded=joined(sorted(stranded))))

    def district_of(self, code: str | None) -> str | None:
        """The district an organisation will belong to (None for the city and its units)."""
        for _ in range(len(ORG_LEVEL) + 1):
            node = self.tree.get(code or "")
            if node is None or node.kind == OrgKind.CITY:
                return None
            if node.kind == OrgKind.DISTRICT:
                return code
            code = node.parent
        return None

    def check_user(self, spec: SheetSpec, row: Row) -> RowCheck:
        """One row of the user or expert sheet."""
        v = row.values
        check = self._start(spec, row, "username", "name")
        username = self._identifier(check, spec, "username", v["username"], 80, self.people)
        role = self._role(check, spec, v)
        org = v["org"]
        if not org:
            check.error(spec, "org", zh("必填"))
        elif org not in self.tree and org in self.declared:
            check.error(spec, "org", zh("机构“%(org)s”所在行（【机构】第 %(row)s 行）有错误",
                                        org=org, row=self.declared[org][1]))
        elif org not in self.tree:
            check.error(spec, "org", zh("机构不存在：%(org)s", org=org))
        elif role == Role.DISTRICT_ADMIN and self.district_of(org) is None:
            check.error(spec, "org", zh("区级管理员必须属于某个区（或其下的街道、单位）"))
        check.values = {
            "username": username, "role": role, "org": org,
            "name": self._text(check, spec, "name", v.get("name", ""), 100),
            "email": self._checked(check, spec, "email", v.get("email", ""), check_email),
            "phone": self._checked(check, spec, "phone", v.get("phone", ""), check_phone),
            "title": self._text(check, spec, "title", v.get("title", ""), 100),
            "expertise": self._expertise(check, spec, v.get("expertise", "")),
            "password": v.get("password", "")}
        user = self.users.get(username)
        if user is None:
            self._checked(check, spec, "password", check.values["password"],
                          lambda password: check_password_rules(password, username,
                                                                check.values["name"]))
            check.status = NEW
        else:
            self._compare_user(check, spec, user, check.values)
        return self._invalid(check) if check.errors else check

    def _role(self, check: RowCheck, spec: SheetSpec, v: dict[str, str]) -> str:
        """The row's role: from the 角色 column, or expert on the expert sheet."""
        if spec is EXPERTS:
            return Role.EXPERT.value
        text = v.get("role", "")
        if not text:
            check.error(spec, "role", zh("必填"))
        elif text.lower() not in ROLES:
            check.error(spec, "role", zh("未知的角色“%(role)s”（应为 申报人、区级管理员、"
                                         "市级管理员 或 评审专家）", role=text))
        return ROLES.get(text.lower(), "")

    def _compare_user(self, check: RowCheck, spec: SheetSpec, user: User,
                      values: dict[str, Any]) -> None:
        """Changes to an existing user; the role and password are never changed here."""
        if values["role"] and values["role"] != user.role:
            column = "role" if spec is USERS else "username"
            check.error(spec, column, zh("用户已存在，角色为“%(role)s”；导入不修改角色，"
                                         "请在用户管理页面修改",
                                         role=ROLE_LABELS[Role(user.role)]))
        if values["password"]:
            check.note(spec, "password", zh("用户已存在，导入不修改密码，本列已忽略"))
        if not user.active:
            check.note(spec, "username", zh("该账号已停用，导入不会启用它"))
        old = {"name": user.name, "org": user.org.code, "email": user.email,
               "phone": user.phone, "title": user.title, "expertise": "、".join(user.expertise)}
        new = {**values, "expertise": "、".join(values["expertise"])}
        # An empty optional cell leaves the stored value alone.
        fields = [(key, header) for key, header in USER_FIELDS if new.get(key)]
        self._compare(check, tuple(fields), old, new)

    def _start(self, spec: SheetSpec, row: Row, key: str, name: str) -> RowCheck:
        """A check for a row, with formulas that have no value reported."""
        check = RowCheck(spec.name, row.number, row.values.get(key, ""),
                         row.values.get(name, ""))
        for column in row.unresolved:
            check.error(spec, column, zh("公式没有计算结果，请在 Excel 或 WPS 中打开并保存后"
                                         "再导入，或直接填写数值"))
        return check

    def _identifier(self, check: RowCheck, spec: SheetSpec, key: str, value: str, limit: int,
                    first: dict[str, tuple[str, int, Row]]) -> str:
        """A code or username: required, no spaces, not too long, once in the file."""
        if not value:
            check.error(spec, key, zh("必填"))
        elif len(value) > limit:
            check.error(spec, key, zh("不能超过 %(limit)s 个字符", limit=limit))
        elif not IDENTIFIER.match(value):
            check.error(spec, key, zh("“%(value)s”不能含空格，也不能以 # 开头", value=value))
        elif (first[value][0], first[value][1]) != (check.sheet, check.row):
            check.error(spec, key, zh("与【%(sheet)s】第 %(row)s 行重复",
                                      sheet=first[value][0], row=first[value][1]))
        return value

    def _text(self, check: RowCheck, spec: SheetSpec, key: str, value: str, limit: int,
              required: bool = False) -> str:
        """A name or title: required when asked, not longer than the column allows."""
        if required and not value:
            check.error(spec, key, zh("必填"))
        elif len(value) > limit:
            check.error(spec, key, zh("不能超过 %(limit)s 个字", limit=limit))
        return value

    def _checked(self, check: RowCheck, spec: SheetSpec, key: str, value: str,
                 rule: Callable[[str], object]) -> str:
        """A value passed through an accounts rule; its refusal becomes the cell's error."""
        if not value:
            return ""
        try:
            result = rule(value)
        except ValidationFailed as exc:
            check.error(spec, key, exc.message)
            return value
        return result if isinstance(result, str) else value

    def _expertise(self, check: RowCheck, spec: SheetSpec, text: str) -> list[str]:
        """Expertise tags split at 、，,;； or line breaks."""
        tags = re.split(f"[{re.escape(EXPERTISE_SEPARATORS)}]", text) if text else []
        try:
            return clean_expertise(tags)
        except ValidationFailed as exc:
            check.error(spec, "expertise", exc.message)
            return []

    def _compare(self, check: RowCheck, fields: tuple[tuple[str, str], ...],
                 old: dict[str, Any], new: dict[str, Any]) -> None:
        """Record the fields whose value differs; the row is updated when any does."""
        for key, header in fields:
            if (old[key] or "") != (new[key] or ""):
                check.changes.append(Change(key, header, old[key] or "", new[key] or ""))
        check.status = UPDATED if check.changes else UNCHANGED

    def _invalid(self, check: RowCheck) -> RowCheck:
        """Mark a row invalid; it changes nothing."""
        check.status = INVALID
        check.changes = []
        return check
