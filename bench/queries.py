"""Count the SQL statements of the main pages on a seeded database: no page may run a query per
row it shows (issue 8), so the counts are the same at 1,000 and at 10,000 entries.

Usage:
    .venv/bin/python bench/seed.py --entries 10000 --database-url URL ...
    .venv/bin/python bench/queries.py --database-url URL [--password bench-password] [--sql]

The objects to visit are found in the data (`find_targets`): the call with the most submitted
score sheets, its most common state (the filtered list), its entry with the most sheets, the
expert and the applicant with the most entries, an open sheet of that expert, the
administrator of the call's largest district and a valid certificate. Each page is requested
once to warm up (login, definition caches), then once counted, as the user who would open it.
Prints one JSON object: per page its URL, the statements of the counted request and the rows it
listed (distinct entries or sheets linked; null for pages without a list); with ``--sql`` the
statements themselves. tests/test_query_counts.py holds the same pages, found the same way, to
exact numbers. The database gains what visiting does: login events, a certificate lookup logged.
"""

from __future__ import annotations

import argparse
import json
import re
import sys
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from flask import Flask  # noqa: E402
from flask.testing import FlaskClient  # noqa: E402
from sqlalchemy import func, select  # noqa: E402

from app.extensions import db  # noqa: E402
from app.models import (  # noqa: E402
    Application,
    Certificate,
    ReviewAssignment,
    Role,
    User,
)
from tests.statements import recorded  # noqa: E402

ENTRY_LINK = r'href="/applications/(\d+)"'
PAGES: dict[str, tuple[str, str, str | None]] = {
    # page → (who opens it, its URL, the link each listed row carries; None: no list)
    "login": ("anonymous", "/login", None),
    "applicant home": ("applicant", "/my/", ENTRY_LINK),
    "application detail": ("city", "/applications/{entry}",
                           r'action="/admin/reviews/(\d+)/(?:reopen|withdraw)"'),  # its sheets
    "reviewer queue": ("expert", "/reviews/", r'href="/reviews/(\d+)"'),
    "scoring form": ("expert", "/reviews/{sheet}", None),
    "admin home": ("city", "/admin/", r'href="/admin/calls/(\d+)"'),  # the calls
    "admin call list": ("city", "/admin/calls/{call}?state={state}&sort=-submitted", ENTRY_LINK),
    "ranking": ("city", "/admin/calls/{call}/ranking", ENTRY_LINK),
    "district list": ("district", "/district/?call={call}", ENTRY_LINK),
    "district dashboard": ("district", "/district/calls/{call}", None),
    "public notice": ("anonymous", "/notices", r'href="/notices/(\d+)/objection"'),
    "certificate verify": ("anonymous", "/verify/{code}", None),
}


@dataclass(frozen=True)
class Targets:
    """Who opens the pages and what they open."""

    users: dict[str, str | None]  # role in PAGES → username (None: not logged in)
    call: int
    state: str
    entry: int
    sheet: int
    code: str

    def url(self, page: str) -> str:
        """The page's URL for these objects."""
        return PAGES[page][1].format(**asdict(self))


def find_targets() -> Targets:
    """Choose in the data the objects with the most rows behind them (inside an app context)."""
    call = _first(select(Application.call_id).join(ReviewAssignment)
                  .where(ReviewAssignment.status == "submitted")
                  .group_by(Application.call_id).order_by(func.count().desc(),
                                                          Application.call_id))
    state = _first(select(Application.state).where(Application.call_id == call,
                                                   Application.submitted_at.is_not(None))
                   .group_by(Application.state).order_by(func.count().desc(), Application.state))
    entry = _first(select(ReviewAssignment.application_id).join(Application)
                   .where(Application.call_id == call)
                   .group_by(ReviewAssignment.application_id)
                   .order_by(func.count().desc(), ReviewAssignment.application_id))
    expert = _first(select(ReviewAssignment.expert_id).group_by(ReviewAssignment.expert_id)
                    .order_by(func.count().desc(), ReviewAssignment.expert_id))
    sheet = _first(select(ReviewAssignment.id).where(ReviewAssignment.expert_id == expert)
                   .order_by(ReviewAssignment.status.in_(("assigned", "draft")).desc(),
                             ReviewAssignment.conflict_checked_at.is_(None),
                             ReviewAssignment.id))
    applicant = _first(select(Application.applicant_id).group_by(Application.applicant_id)
                       .order_by(func.count().desc(), Application.applicant_id))
    district = _first(select(Application.district_id).where(Application.call_id == call)
                      .group_by(Application.district_id)
                      .order_by(func.count().desc(), Application.district_id))
    usernames = {
        "anonymous": None,
        "applicant": _username(User.id == applicant),
        "expert": _username(User.id == expert),
        "city": _username(User.role == Role.CITY_ADMIN),
        "district": _username(User.role == Role.DISTRICT_ADMIN, User.org_id == district),
    }
    code = _first(select(Certificate.code).where(Certificate.status == "valid")
                  .order_by(Certificate.id))
    return Targets(usernames, call, state, entry, sheet, code)


def _first(query: Any) -> Any:
    """The first value of a query; the data must have one."""
    value = db.session.scalar(query.limit(1))
    if value is None:
        raise SystemExit(f"the database has nothing for: {query}")
    return value


def _username(*where: Any) -> str:
    """The username of the first active user matching."""
    return str(_first(select(User.username).where(User.active.is_(True), *where)
                      .order_by(User.id)))


def count_pages(app: Flask, targets: Targets, password: str) -> dict[str, dict[str, Any]]:
    """Open each page as its user (once to warm up, once counted): URL, statements, rows."""
    with app.app_context():
        engine = db.engine
    clients: dict[str, FlaskClient] = {}
    figures = {}
    for page, (who, _url, row_link) in PAGES.items():
        if who not in clients:
            clients[who] = logged_in(app, targets.users[who], password)
        client, url = clients[who], targets.url(page)
        warm = client.get(url)
        assert warm.status_code == 200, (page, url, warm.status_code)
        with recorded(engine) as statements:
            response = client.get(url)
        assert response.status_code == 200, (page, url, response.status_code)
        html = response.get_data(as_text=True)
        figures[page] = {"url": url, "statements": len(statements),
                         "rows": len(set(re.findall(row_link, html))) if row_link else None,
                         "sql": statements}
    return figures


def logged_in(app: Flask, username: str | None, password: str) -> FlaskClient:
    """A client logged in through the login form (anonymous when username is None)."""
    client = app.test_client()
    if username is not None:
        page = client.get("/login").get_data(as_text=True)
        token = re.search(r'name="csrf_token"[^>]*value="([^"]+)"', page)
        assert token, "the login page has no CSRF token"
        response = client.post("/login", data={"username": username, "password": password,
                                               "csrf_token": token.group(1)})
        assert response.status_code == 302, f"login of {username} failed"
    return client


def main() -> None:
    """Count the pages on the database given and print the figures as JSON."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--database-url", required=True)
    parser.add_argument("--password", default="bench-password",
                        help="the password of the users found (bench/seed.py's by default)")
    parser.add_argument("--sql", action="store_true", help="print the statements too")
    options = parser.parse_args()
    from app import create_app

    app = create_app({"SQLALCHEMY_DATABASE_URI": options.database_url, "JOB_QUEUE_URL":
                      "immediate", "SECURITY_LOG": "", "VERIFY_MAX_PER_MINUTE": 1000})
    with app.app_context():
        targets = find_targets()
        entries = db.session.scalar(select(func.count()).select_from(Application))
        sheets = db.session.scalar(select(func.count()).select_from(ReviewAssignment))
        dialect = db.engine.dialect.name
    figures = count_pages(app, targets, options.password)
    if not options.sql:
        for row in figures.values():
            del row["sql"]
    print(json.dumps({"database": dialect, "entries": entries, "sheets": sheets,
                      "users": targets.users, "pages": figures}, ensure_ascii=False, indent=1))


if __name__ == "__main__":
    main()
