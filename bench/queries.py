"""Count the SQL statements of the main pages on a seeded database: no page may run a query per
row it shows (issue 8), so the counts are the same at 1,000 and at 10,000 entries.

Usage (after bench/seed.py built FOLDER; bench/run.py runs it at both sizes):
    .venv/bin/python bench/queries.py --folder /tmp/pingshen-10k [--database-url URL] [--sql]

The objects to visit are found in the data (`find_targets`): the call with the most submitted
score sheets, its most common state (the filtered list: page 2 when it holds more than 50), its
entry with the most sheets and that entry's applicant, the expert and the applicant with the
most entries, an open sheet of that expert, the administrator of the call's largest district and
a valid certificate. Each page is requested once to warm up (login, definition caches), then
once counted, as the user who would open it (logged in through the form, with bench/seed.py's
password). Prints a table, then one JSON line: per page the statements of the counted request
and the rows it listed (distinct entries, sheets or calls linked; null for pages without a
list), with ``--sql`` the statements themselves. Page names are bench/pages.py's where it times
the same page. tests/test_query_counts.py holds these pages, found the same way, to exact
numbers. The database gains what visiting does: login events, a certificate lookup logged.
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

PASSWORD = "bench-password"  # bench/seed.py's, for every account
PER_PAGE = 50
ENTRY_LINK = r'href="/applications/(\d+)"'
PAGES: dict[str, tuple[str, str, str | None]] = {
    # page → (who opens it, its URL, the link each listed row carries; None: no list)
    "login page": ("anonymous", "/login", None),
    "applicant home": ("applicant", "/my/", ENTRY_LINK),
    "application detail": ("owner", "/applications/{entry}", None),
    "application detail, city": ("city", "/applications/{entry}",
                                 r'action="/admin/reviews/(\d+)/(?:reopen|withdraw)"'),  # sheets
    "reviewer queue": ("expert", "/reviews/", r'href="/reviews/(\d+)"'),
    "scoring form": ("expert", "/reviews/{sheet}", None),
    "city's calls": ("city", "/admin/", r'href="/admin/calls/(\d+)"'),
    "call list, filtered, page 2": ("city", "/admin/calls/{call}?state={state}&page={page}",
                                    ENTRY_LINK),
    "ranking of a call": ("city", "/admin/calls/{call}/ranking", ENTRY_LINK),
    "district dashboard": ("district", "/district/", ENTRY_LINK),
    "district call overview": ("district", "/district/calls/{call}", None),
    "public notice page": ("anonymous", "/notices", r'href="/notices/(\d+)/objection"'),
    "verify page": ("anonymous", "/verify/{code}", None),
}


@dataclass(frozen=True)
class Targets:
    """Who opens the pages and what they open."""

    users: dict[str, str | None]  # role in PAGES → username (None: not logged in)
    call: int
    state: str
    page: int  # of the call's entries in that state: 2 when there are more than 50
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
    state, in_state = db.session.execute(
        select(Application.state, func.count()).where(Application.call_id == call,
                                                      Application.submitted_at.is_not(None))
        .group_by(Application.state).order_by(func.count().desc(), Application.state)
        .limit(1)).one()
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
        "owner": _username(User.id == select(Application.applicant_id).where(
            Application.id == entry).scalar_subquery()),
        "expert": _username(User.id == expert),
        "city": _username(User.role == Role.CITY_ADMIN),
        "district": _username(User.role == Role.DISTRICT_ADMIN, User.org_id == district),
    }
    code = _first(select(Certificate.code).where(Certificate.status == "valid")
                  .order_by(Certificate.id))
    return Targets(usernames, call, state, 2 if in_state > PER_PAGE else 1, entry, sheet, code)


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
    """Count the pages on the seeded database and print the figures."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--folder", type=Path, required=True, help="bench/seed.py's folder")
    parser.add_argument("--database-url", default=None,
                        help="default: sqlite:///FOLDER/pingshen.db, as bench/seed.py")
    parser.add_argument("--sql", action="store_true", help="print the statements too")
    options = parser.parse_args()
    from bench.seed import make_app

    app = make_app(options.database_url or f"sqlite:///{options.folder / 'pingshen.db'}",
                   options.folder)
    app.config["VERIFY_MAX_PER_MINUTE"] = 1000
    with app.app_context():
        targets = find_targets()
        entries = db.session.scalar(select(func.count()).select_from(Application))
        dialect = db.engine.dialect.name
    figures = count_pages(app, targets, PASSWORD)
    print(f"{entries} entries ({dialect})\n{'page':30}{'statements':>11}{'rows':>7}  url")
    for page, row in figures.items():
        print(f"{page:30}{row['statements']:>11}{row['rows'] if row['rows'] is not None else '':>7}"
              f"  {row['url']}")
    result: dict[str, Any] = {
        "database": dialect, "entries": entries, "users": targets.users,
        "statements": {page: row["statements"] for page, row in figures.items()},
        "rows": {page: row["rows"] for page, row in figures.items()},
        "urls": {page: row["url"] for page, row in figures.items()}}
    if options.sql:
        result["sql"] = {page: row["sql"] for page, row in figures.items()}
    print(json.dumps(result, ensure_ascii=False))


if __name__ == "__main__":
    main()
