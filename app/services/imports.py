"""Importing organisations, users and experts from Excel: read → check → apply.

Checking writes nothing: every row is compared with the database and with the rows before it
and comes out new, updated, unchanged or invalid, with its errors by column. Applying then either
takes the whole file (only when no row is invalid) or, when asked, only the valid rows — in the
caller's one transaction. Rows are matched by 机构代码 and 用户名, so importing a file again
changes nothing; an import never changes a user's role or password (see docs/people.md).
"""

from __future__ import annotations

import hashlib
import json
from collections import Counter
from dataclasses import dataclass
from typing import Any

from sqlalchemy import select

from app.engine.errors import ValidationFailed
from app.extensions import db
from app.i18n import zh
from app.models import Organisation, OrgKind, User
from app.models.accounts import ORG_LEVEL
from app.services.accounts import add_organisation, add_user
from app.services.import_rules import INVALID, NEW, UNCHANGED, UPDATED, Checker, RowCheck
from app.services.import_sheets import Problem, read_workbook
from app.services.import_specs import EXPERTS, ORGS, SPECS, USERS
from app.services.people import generate_password, hash_passwords, move_organisation, update_user

STATUS_LABELS = {NEW: "新增", UPDATED: "更新", UNCHANGED: "未变", INVALID: "有错误"}


@dataclass
class ImportReport:
    """The whole file checked: structural problems, notes and every row."""

    rows: list[RowCheck]
    problems: list[Problem]
    notes: list[Problem]
    sheets: list[str]

    @property
    def errors(self) -> list[Problem]:
        """Every error: the file's structure first, then row by row."""
        return self.problems + [e for row in self.rows for e in row.errors]

    @property
    def every_note(self) -> list[Problem]:
        """Every note: the file's (columns left out), then row by row."""
        return self.notes + [n for row in self.rows for n in row.notes]

    @property
    def valid(self) -> bool:
        """Whether the whole file may be imported as it is."""
        return not self.errors

    def counts(self) -> dict[str, Counter[str]]:
        """Rows per status for each sheet, and in all (key "")."""
        counts: dict[str, Counter[str]] = {sheet: Counter() for sheet in self.sheets}
        counts[""] = Counter()
        for row in self.rows:
            counts[row.sheet][row.status] += 1
            counts[""][row.status] += 1
        return counts

    @property
    def new_accounts(self) -> int:
        """How many users the import would create (each needs a slow password hash)."""
        return sum(1 for r in self.rows if r.status == NEW and r.sheet != ORGS.name)

    def fingerprint(self) -> str:
        """A digest of what the import would do, so a confirmation applies what was shown."""
        shape = [(r.sheet, r.row, r.status, [(c.key, c.new) for c in r.changes])
                 for r in self.rows] + [str(p) for p in self.problems]
        return hashlib.sha256(json.dumps(shape, ensure_ascii=False).encode()).hexdigest()[:16]


@dataclass
class Credential:
    """A new account's generated password, shown once and never stored."""

    username: str
    name: str
    role: str
    org: str
    password: str


@dataclass
class ImportOutcome:
    """What an import wrote."""

    report: ImportReport
    written: Counter[str]
    credentials: list[Credential]


def check_file(data: bytes) -> ImportReport:
    """Read and check a workbook against the database; nothing is written."""
    parsed = read_workbook(data, SPECS)
    rows = Checker(parsed).run()
    return ImportReport(rows, parsed.problems, parsed.notes, list(parsed.sheets))


def apply_import(report: ImportReport, *, valid_only: bool = False) -> ImportOutcome:
    """Write the file's new and changed rows (flushes; the caller commits or rolls back).

    The whole file only when it is valid; with ``valid_only`` the valid rows and nothing else.
    """
    if report.problems:
        raise ValidationFailed(zh("文件的结构有错误（缺少列或表头），未导入任何数据"),
                               {"errors": [str(p) for p in report.problems]})
    if not valid_only and not report.valid:
        raise ValidationFailed(zh("文件中有 %(errors)s 处错误，未导入任何数据",
                                  errors=len(report.errors)),
                               {"errors": [str(p) for p in report.errors[:50]]})
    rows = [r for r in report.rows if r.status in (NEW, UPDATED)]
    orgs = sorted((r for r in rows if r.sheet == ORGS.name),
                  key=lambda r: (ORG_LEVEL[OrgKind(r.values["kind"])], r.row))
    for check in orgs:
        _apply_org(check)
    people = [r for r in rows if r.sheet in (USERS.name, EXPERTS.name)]
    credentials = _add_users([r for r in people if r.status == NEW])
    for check in people:
        if check.status == UPDATED:
            _update_user(check)
    return ImportOutcome(report, Counter(r.status for r in rows), credentials)


def _apply_org(check: RowCheck) -> None:
    """Create or change one organisation."""
    values = check.values
    if check.status == NEW:
        add_organisation(values["code"], values["name"], values["kind"], values["parent"] or None)
        return
    org = _org(values["code"])
    for change in check.changes:
        if change.key == "name":
            org.name = values["name"]
        elif change.key == "parent":
            move_organisation(org, _org(values["parent"]))


def _add_users(checks: list[RowCheck]) -> list[Credential]:
    """Create the new users, hashing their passwords in parallel; return generated ones."""
    passwords = [c.values["password"] or generate_password() for c in checks]
    credentials = []
    for check, password, hashed in zip(checks, passwords, hash_passwords(passwords),
                                       strict=True):
        v = check.values
        add_user(v["username"], v["role"], v["org"], password, v["name"], v["title"],
                 v["expertise"], v["email"], v["phone"], password_hash=hashed)
        if not v["password"]:
            credentials.append(Credential(v["username"], v["name"], v["role"], v["org"],
                                          password))
    return credentials


def _update_user(check: RowCheck) -> None:
    """Change the fields of an existing user that the row changes."""
    user = db.session.scalars(select(User).filter_by(username=check.key)).one()
    fields: dict[str, Any] = {c.key: check.values[c.key] for c in check.changes}
    if "org" in fields:
        fields["org"] = _org(fields["org"])
    update_user(user, **fields)


def _org(code: str) -> Organisation:
    """The organisation with this code (checked to exist before)."""
    return db.session.scalars(select(Organisation).filter_by(code=code)).one()


def summary(outcome: ImportOutcome) -> str:
    """One line saying what an import wrote and what it left."""
    counts = outcome.report.counts()[""]
    return (f"导入完成：新增 {outcome.written[NEW]} 行，更新 {outcome.written[UPDATED]} 行；"
            f"未变 {counts[UNCHANGED]} 行，有错误未导入 {counts[INVALID]} 行")


def report_lines(report: ImportReport) -> list[str]:
    """The report as lines of text (the command line prints them)."""
    counts = report.counts()
    lines = []
    for sheet in report.sheets:
        c = counts[sheet]
        lines.append(f"【{sheet}】{sum(c.values())} 行：" + "，".join(
            f"{STATUS_LABELS[s]} {c[s]}" for s in (NEW, UPDATED, UNCHANGED, INVALID)))
    lines.extend(f"错误 {p}" for p in report.errors)
    lines.extend(f"提示 {p}" for p in report.every_note)
    for row in report.rows:
        if row.status == UPDATED:
            lines.append(f"更新 【{row.sheet}】第 {row.row} 行 {row.key}：" + "；".join(
                f"{c.column} “{c.old}” → “{c.new}”" for c in row.changes))
    return lines
