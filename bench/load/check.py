"""After the load: the database must hold exactly what the server acknowledged, and no 5xx.

Usage: .venv/bin/python bench/load/check.py PLAN.json LEDGER.json   (same PINGSHEN_INSTANCE /
DATABASE_URL as the server; run after the server has stopped, so it reads on a fresh connection)

Counts rows made by the load accounts since the ledger started and compares each with the
acknowledged writes of its kind; then reads back the last value each entry and score sheet was
left with. Prints one line per check and the figures as JSON on the last line; exits 1 if any
check fails.
"""

from __future__ import annotations

import json
import sys
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

from sqlalchemy import func, select  # noqa: E402

from app import create_app  # noqa: E402
from app.extensions import db  # noqa: E402
from app.models import (  # noqa: E402
    Application,
    Attachment,
    AuditEntry,
    Objection,
    ReviewAssignment,
    User,
)


def main(plan_path: Path, ledger_path: Path) -> int:
    """Run every check; 0 when all hold."""
    plan = json.loads(plan_path.read_text(encoding="utf-8"))
    ledger = json.loads(ledger_path.read_text(encoding="utf-8"))
    with create_app().app_context():
        results = checks(plan, ledger)
    failed = [name for name, ok, _ in results if not ok]
    for name, ok, detail in results:
        print(f"{'ok  ' if ok else 'FAIL'} {name}: {detail}")
    print(json.dumps({"checks": len(results), "failed": failed, "acked": ledger["acked"],
                      "server_errors": ledger["server_errors"]}, ensure_ascii=False))
    return 1 if failed else 0


def checks(plan: dict[str, Any], ledger: dict[str, Any]) -> list[tuple[str, bool, str]]:
    """Each check as (name, passed, what was compared)."""
    since = datetime.fromtimestamp(ledger["started"], UTC)
    acked = ledger["acked"]
    people = {role: _ids(plan[role]) for role in
              ("applicants", "district_admins", "experts", "city_admins")}
    mine = select(Application.id).where(Application.applicant_id.in_(people["applicants"]))
    sheets = select(ReviewAssignment).where(ReviewAssignment.expert_id.in_(people["experts"]))

    def audit(trigger: str, role: str) -> int:
        return _count(select(AuditEntry).where(
            AuditEntry.trigger == trigger, AuditEntry.actor_id.in_(people[role]),
            AuditEntry.at >= since))

    counted = {
        "create": _count(select(Application).where(Application.id.in_(mine))),
        "submit": audit("submit", "applicants"),
        "resubmit": audit("resubmit", "applicants"),
        "upload": _count(select(Attachment).where(Attachment.application_id.in_(mine))),
        "recommend": audit("recommend", "district_admins"),
        "return_for_correction": audit("return_for_correction", "district_admins"),
        "publish_notice": audit("publish_notice", "city_admins"),
        "assign": _count(select(ReviewAssignment).where(
            ReviewAssignment.assigned_by_id.in_(people["city_admins"]),
            ReviewAssignment.assigned_at >= since)),
        "no_conflict": _count(sheets.where(ReviewAssignment.conflict_checked_at >= since)),
        "score_submit": _count(sheets.where(ReviewAssignment.submitted_at >= since)),
        "objection": _count(select(Objection).where(Objection.name == "压测市民")),
    }
    results = [(f"{kind} rows = acknowledged", n == acked.get(kind, 0),
                f"{n} stored, {acked.get(kind, 0)} acknowledged")
               for kind, n in counted.items()]
    results.append(_last_values(ledger))
    results.append(_sheets(ledger))
    receipts = set(db.session.scalars(select(Objection.receipt)))
    lost = [r for r in ledger["receipts"] if r not in receipts]
    results.append(("every receipt given reads back", not lost,
                    f"{len(ledger['receipts'])} receipts, {len(lost)} missing"))
    errors = sum(ledger["server_errors"].values())
    results.append(("no server errors (5xx or no answer)", errors == 0,
                    json.dumps(ledger["server_errors"], ensure_ascii=False) or "none"))
    return results


def _last_values(ledger: dict[str, Any]) -> tuple[str, bool, str]:
    """Every entry holds the text of its last acknowledged save."""
    wrong = []
    for key, text in ledger["achievements"].items():
        application = db.session.get(Application, int(key))
        if application is None or application.data.get("achievements") != text:
            wrong.append(key)
    return ("each entry holds its last acknowledged save", not wrong,
            f"{len(ledger['achievements'])} entries read back, {len(wrong)} differ {wrong[:5]}")


def _sheets(ledger: dict[str, Any]) -> tuple[str, bool, str]:
    """Every score sheet holds the points and status of its last acknowledged save."""
    wrong = []
    for key, saved in ledger["sheets"].items():
        sheet = db.session.get(ReviewAssignment, int(key))
        stored = {k: Decimal(v) for k, v in (sheet.scores if sheet else {}).items()}
        if sheet is None or sheet.status != saved["status"] \
                or stored != {k: Decimal(v) for k, v in saved["scores"].items()}:
            wrong.append(key)
    return ("each score sheet holds its last acknowledged scores", not wrong,
            f"{len(ledger['sheets'])} sheets read back, {len(wrong)} differ {wrong[:5]}")


def _ids(usernames: list[str]) -> list[int]:
    """The ids of the named accounts."""
    return list(db.session.scalars(select(User.id).where(User.username.in_(usernames))))


def _count(query: Any) -> int:
    """The number of rows a select returns."""
    return db.session.scalar(select(func.count()).select_from(query.subquery())) or 0


if __name__ == "__main__":
    sys.exit(main(Path(sys.argv[1]), Path(sys.argv[2])))
