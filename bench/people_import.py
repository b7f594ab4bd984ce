"""Time the Excel import of a whole city's organisations and people: check, import, check again.

Usage: .venv/bin/python bench/people_import.py [SCALE]   (default 1)
Case (SCALE 1): one workbook with 1 city, 6 districts, 60 streets and 600 units (667 rows, in
reverse order so every parent comes after its children), 1,000 users (applicants and district
administrators) and 500 experts with titles and expertise, no passwords given (all 1,500 are
generated and hashed with scrypt, as in production). SQLite file in a temporary folder, or
PostgreSQL when BENCH_DATABASE_URL is set (a throwaway database: its public schema is dropped).
Steps: build the file; check it (the preview); import it in one transaction (the confirmation);
check the same file again (all unchanged, the re-import preview); import 20 changed rows.
Prints a table, then a last line of JSON; copy them to bench/RESULTS.md.
"""

from __future__ import annotations

import io
import json
import os
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from openpyxl import Workbook  # noqa: E402
from sqlalchemy import text  # noqa: E402

from app import create_app  # noqa: E402
from app.extensions import db  # noqa: E402
from app.services.imports import apply_import, check_file  # noqa: E402
from app.services.people import hash_passwords  # noqa: E402
from tests.people_files import EXPERT_HEADERS, ORG_HEADERS, USER_HEADERS  # noqa: E402


def build_file(scale: int, renamed: int = 0) -> bytes:
    """The city as one workbook; the first ``renamed`` users get another e-mail address."""
    orgs = [["X", "X市", "市", ""]]
    units = []
    for d in range(1, 6 * scale + 1):
        orgs.append([f"D{d}", f"第{d}区", "区", "X"])
        for s in range(1, 11):
            orgs.append([f"D{d}-S{s}", f"第{d}区第{s}街道", "街道", f"D{d}"])
            for u in range(1, 11):
                units.append(f"D{d}-S{s}-U{u}")
                orgs.append([units[-1], f"第{d}区第{s}街道社区学校{u}", "单位", f"D{d}-S{s}"])
    users = []
    for n in range(1000 * scale):
        district_admin = n % 100 == 0
        org = f"D{n // 100 % (6 * scale) + 1}" if district_admin else units[n % len(units)]
        mail = f"other{n}@example.cn" if n < renamed else f"user{n}@example.cn"
        users.append([f"user{n:05d}", f"用户{n}", "区级管理员" if district_admin else "申报人",
                      org, mail, 13800000000 + n, ""])
    experts = [[f"expert{n:04d}", f"专家{n}", units[n % len(units)], "副教授",
                "社区教育、老年教育、职业培训", "", "", ""] for n in range(500 * scale)]
    book = Workbook()
    for name, headers, rows in (("机构", ORG_HEADERS, list(reversed(orgs))),
                                ("用户", USER_HEADERS, users), ("专家", EXPERT_HEADERS, experts)):
        sheet = book.create_sheet(name)
        sheet.append(headers)
        for row in rows:
            sheet.append(row)
    book.remove(book.worksheets[0])
    buffer = io.BytesIO()
    book.save(buffer)
    return buffer.getvalue()


def timed(step: str, results: dict[str, float], action):  # type: ignore[no-untyped-def]
    """Run one step, keep its wall time in ms, return its value."""
    start = time.perf_counter()
    value = action()
    results[step] = round((time.perf_counter() - start) * 1000)
    return value


def main() -> None:
    """Build, check, import, check again; print the table and the JSON line."""
    scale = int(sys.argv[1]) if len(sys.argv) > 1 else 1
    with tempfile.TemporaryDirectory() as folder:
        url = os.environ.get("BENCH_DATABASE_URL") or f"sqlite:///{folder}/bench.db"
        app = create_app({"TESTING": True, "SQLALCHEMY_DATABASE_URI": url,
                          "SECRET_KEY": "bench", "IMPORT_FOLDER": folder})
        results: dict[str, float] = {}
        with app.app_context():
            if db.engine.dialect.name == "postgresql":
                db.session.execute(text("DROP SCHEMA public CASCADE; CREATE SCHEMA public"))
                db.session.commit()
            db.create_all()
            timed("reference: hash 100 passwords (scrypt, threads)", results,
                  lambda: hash_passwords(["a-password-1"] * 100))
            data = timed("build the file", results, lambda: build_file(scale))
            report = timed("check (preview)", results, lambda: check_file(data))
            assert report.valid, report.errors[:3]
            rows = len(report.rows)

            def confirm() -> None:
                """Import the whole file and commit, as the confirmation does."""
                apply_import(report)
                db.session.commit()

            timed("import, one transaction", results, confirm)
            again = timed("check again (all unchanged)", results, lambda: check_file(data))
            assert again.counts()[""]["unchanged"] == rows
            changed = build_file(scale, renamed=20)
            second = check_file(changed)
            assert second.counts()[""]["updated"] == 20
            timed("import 20 changed rows", results,
                  lambda: (apply_import(second), db.session.commit()))
            dialect = db.engine.dialect.name
    print(f"{rows} rows ({len(data) // 1024} KB), {dialect}, {os.cpu_count()} CPUs")
    for step, ms in results.items():
        print(f"| {step} | {ms:,.0f} ms |")
    print(json.dumps({"rows": rows, "dialect": dialect, **results}, ensure_ascii=False))


if __name__ == "__main__":
    main()
