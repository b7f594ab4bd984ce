"""Each main page runs a fixed number of SQL statements, whatever the number of entries it lists
(issue 8: no query per row). The pages and the objects they show are those bench/queries.py
counts on bench/seed.py's 1,000 and 10,000 entries; here they are counted at 6 and at 60
entries per call and held to exact numbers, the same (timings are measured by the benchmarks,
never here).

The scene grows between the two counts: more entries in each call, more units and applicants
(one per entry, but for wj1 who has every third), more experts, more sheets on the first entry
and more calls, so that a query per entry, unit, applicant, expert, sheet or call shows as a
difference.
"""

from __future__ import annotations

import io
import secrets
import shutil
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import inspect, select
from sqlalchemy.orm import strategies

from app.engine.runtime import fire
from app.extensions import db
from app.jobs import EXTENSION, JobQueue
from app.models import Application, Call, Certificate, ReviewAssignment, User
from app.models.base import utcnow
from app.services.accounts import add_user
from app.services.applications import create_application
from app.services.attachments import attachment_path, store_attachment
from app.services.calls import open_call
from app.services.certificates import next_serial
from app.services.demo import SAMPLE_PDF, team_data
from app.services.reviews import assign_expert, save_review
from bench.queries import PAGES, count_pages, find_targets
from tests.conftest import PASSWORD, build_world, configured_app, confirmed, empty_tables

pytestmark = pytest.mark.slow  # both scenes are built once for all pages: ~10 s

SIZES = (6, 60)  # entries per call
SCORES = {"organisation": 18, "resources": 12, "activities": 30, "impact": 25}

# page → statements of one request, the same at both sizes. Most logged-in pages begin with
# the user (with their unit) and end with the unread messages counted for the menu; "+" is a
# relationship loaded with the rows (joined, as an entry's call and unit, or in one more query
# for all of them, as the calls' quotas).
STATEMENTS = {
    "login page": 0,  # the form needs no database
    # user; a page of my entries (+ their calls' quotas); their count; the definitions'
    # checksums; the open calls (+ quotas); my entries per call; unread messages
    "applicant home": 9,
    # user; the entry (+ call, quotas); checksums; its history (+ actors); certificates;
    # attachments; unread messages
    "application detail": 8,
    # user; the entry (+ call, quotas); checksums; sheets counted for two moves' guards; the
    # history (+ actors); the sheets (+ experts); the call's rounds; the sheets again for the
    # scores; the call's invitations; the experts one may add; certificates; attachments;
    # unread messages; the sheets' reopened versions
    "application detail, city": 16,
    # user; my sheets (+ entries, calls; + the calls' quotas); which of them I see blind;
    # checksums; rounds with deadlines; invitations; live panels; unread messages
    "reviewer queue": 9,
    # user; the sheet (+ expert); its entry (+ call, quotas); checksums; my next sheet to score;
    # attachments; my sheets on the entry (blind or not); unread messages; the sheet's revisions
    "scoring form": 10,
    # user; the calls (+ quotas); submitted entries by call and state; the programmes in use;
    # the open rounds with deadlines and the entries in timed states (for what falls due);
    # unread messages
    "city's calls": 8,
    # user; the call (+ quotas); a page of entries (+ calls, units, districts; + the calls'
    # quotas); their count; the districts; checksums; sheets by round and status; experts per
    # round; the call's rounds; unread messages
    "call list, filtered, page 2": 12,
    # user; the call (+ quotas); its rounds; its submitted sheets (+ experts); their entries
    # (+ calls, units, districts; + the calls' quotas); the last award proposals; unread
    # messages; checksums
    "ranking of a call": 10,
    # user; all calls (+ quotas); a page of the district's entries (+ calls, units; + the
    # calls' quotas); their count; checksums; the quota used in every call; unread messages
    "district dashboard": 9,
    # user; the call (+ quotas); the district; entries by version, state and submission;
    # checksums; sheets by round and status; experts per round; rounds; the dates of the
    # entries in states with deadlines; objections counted and the latest; unread messages
    "district call overview": 13,
    # definition versions; their checksums; entries in notice (+ calls, units; + the calls'
    # quotas)
    "public notice page": 4,
    # lookups from this address in the last minute; the certificate; the log row; the
    # certificate again (the commit of the log row expired it)
    "verify page": 4,
}
ROWS = {  # list page → rows it shows at each size (a page holds 50)
    "applicant home": (4, 40),  # wj1's every third entry of both calls
    "application detail, city": (3, 6),  # the first entry's sheets: 3/5 of the experts
    "reviewer queue": (12, 120),  # expert1 sits on every entry of both calls
    "city's calls": (3, 5),
    "call list, filtered, page 2": (6, 10),  # the review call's: page 1 of 6, page 2 of 60
    "ranking of a call": (6, 60),
    "district dashboard": (8, 50),  # the entries of both calls in 武进区
    "public notice page": (5, 50),  # the notice call's entries but every sixth (named)
}


class Scene:
    """Two excellent_team calls that grow: one in city review (every entry scored by three
    experts, expert1 always, who submits every other sheet and keeps the rest as drafts; the
    first entry by more as the experts grow), one in public notice (scored by expert1; every
    sixth entry named, with its certificate); and a new empty call for every 30 entries.

    The first entry of each kind is walked there through the services and the engine; the
    others are its copies, row for row (entry, files, log, sheets, certificate) with their own
    applicant, unit, experts, serial and code: the services take a tenth of a second per move,
    and the pages read the rows, not how they came to be.
    """

    def __init__(self) -> None:
        """The `world` of the other tests and the two calls."""
        self.world = build_world()
        self.users: dict[str, User] = self.world["users"]
        self.calls = [self._open_call(title) for title in ("评审中的批次", "公示中的批次")]
        self.empty_calls: list[Call] = []
        self.experts = [self.users["expert1"], self.users["expert2"]]
        self.templates: dict[str, Application] = {}
        self.size = 0
        db.session.commit()

    def _open_call(self, title: str) -> Call:
        """An excellent_team call open for a month, with room for every entry."""
        now = utcnow()
        return open_call("excellent_team", title, 2026, now - timedelta(days=1),
                         now + timedelta(days=30), {"WJ": 1000, "TN": 1000}, self.users["city"])

    def grow(self, size: int) -> None:
        """Bring both calls to ``size`` entries, the experts to size // 6 (four at least) and
        the other calls to size // 30."""
        while len(self.experts) < max(4, size // 6):
            n = len(self.experts) + 1
            self.experts.append(add_user(f"expert{n}", "expert", "X-OU", PASSWORD, f"专家{n}"))
        while len(self.empty_calls) < size // 30:
            self.empty_calls.append(self._open_call(f"第{len(self.empty_calls) + 3}个批次"))
        copies = []
        for i in range(self.size, size):
            review = "scored" if i % 2 == 0 else "draft"
            notice = "named" if i % 6 == 5 else "notice"
            for call, kind in zip(self.calls, (review, notice), strict=True):
                if kind not in self.templates:
                    self.templates[kind] = self._walk(kind, call, i)
                else:
                    copies.append((self._copy(self.templates[kind], call, i), kind, i))
        db.session.flush()  # the copies' ids, and their applicants'
        rows = {kind: _rows_of(template) for kind, template in self.templates.items()}
        for entry, kind, i in copies:
            self._copy_rows(self.templates[kind], rows[kind], entry, i)
        self._score_first()
        db.session.commit()
        self.size = size

    def _score_first(self) -> None:
        """Have three fifths of the experts score the first entry (three at least)."""
        first, city = self.templates["scored"], self.users["city"]
        on_it = set(db.session.scalars(select(ReviewAssignment.expert_id).filter_by(
            application_id=first.id)))
        for expert in self.experts[:max(3, len(self.experts) * 3 // 5)]:
            if expert.id not in on_it:
                sheet = confirmed(assign_expert(first, expert, city))
                save_review(sheet, expert, SCORES, "好", submit=True)

    def _walk(self, kind: str, call: Call, i: int) -> Application:
        """Take the i-th entry to where ``kind`` says through the services and the engine."""
        city, applicant = self.users["city"], self._applicant(call, i)
        db.session.flush()
        entry = create_application(call, applicant, team_data(_name(call, i), "某中心", "张三"))
        store_attachment(entry, "charter", "章程.pdf", io.BytesIO(SAMPLE_PDF), applicant)
        fire(entry, "submit", applicant)
        fire(entry, "recommend", self._district_admin(entry), data={"rank": 1, "opinion": "推荐"})
        experts = self._experts(i) if kind in ("scored", "draft") else self.experts[:1]
        for n, expert in enumerate(experts):
            sheet = confirmed(assign_expert(entry, expert, city))
            save_review(sheet, expert, SCORES, "好", submit=n > 0 or kind != "draft")
        if kind in ("notice", "named"):
            fire(entry, "publish_notice", city)
        if kind == "named":
            fire(entry, "name_team", city)
        db.session.commit()
        return entry

    def _district_admin(self, entry: Application) -> User:
        """The administrator of the entry's district."""
        wj = entry.district_id == self.users["wj_admin"].org.district_id
        return self.users["wj_admin" if wj else "tn_admin"]

    def _experts(self, i: int) -> list[User]:
        """The review call's i-th entry's experts: expert1 and two of the others in turn."""
        others = self.experts[1:]
        return [self.experts[0], others[i % len(others)], others[(i + 1) % len(others)]]

    def _applicant(self, call: Call, i: int) -> User:
        """Every third entry is wj1's; the others each come from a unit of their own (a copy
        of wj2's or tn2's, with its own code, name and applicant)."""
        if i % 3 == 0:
            return self.users["wj1"]
        like = self.users["wj2" if i % 2 == 0 else "tn2"]
        code = f"{like.org.district.code}-C{call.id}-{i}"
        unit = copied(like.org, code=code, name=f"第{call.id}批第{i}号单位")
        applicant = copied(like, username=code.lower(), name="", org=unit,
                           session_nonce=secrets.token_hex(8))
        db.session.add(applicant)
        return applicant

    def _copy(self, template: Application, call: Call, i: int) -> Application:
        """A copy of the template entry for the i-th applicant (its rows come after)."""
        name, applicant = _name(call, i), self._applicant(call, i)
        entry = copied(template, applicant=applicant, org=applicant.org,
                       district_id=applicant.org.district_id, title=name,
                       data={**template.data, "team_name": name})
        db.session.add(entry)
        return entry

    def _copy_rows(self, template: Application, rows: dict[str, list[Any]], entry: Application,
                   i: int) -> None:
        """Copy the template's log, files, sheets and certificate to the i-th entry."""
        applicant, call = entry.applicant, entry.call
        people = {template.applicant_id: applicant,
                  self._district_admin(template).id: self._district_admin(entry)}
        for row in rows["history"]:
            db.session.add(copied(row, application=entry,
                                  actor=people.get(row.actor_id, row.actor)))
        for attachment in rows["attachments"]:
            stored = copied(attachment, application=entry, uploaded_by_id=applicant.id,
                            stored_name=secrets.token_hex(16))
            attachment_path(stored).parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(attachment_path(attachment), attachment_path(stored))
            db.session.add(stored)
        for sheet, expert in zip(rows["sheets"], self._experts(i), strict=False):
            db.session.add(copied(sheet, application=entry, expert=expert))
        for certificate in rows["certificates"]:
            serial = certificate.serial.rsplit("-", 1)[0] + \
                f"-{next_serial(call.programme_key, call.year):04d}"
            db.session.add(copied(certificate, application=entry, serial=serial,
                                  code=secrets.token_urlsafe(20), holder=entry.title,
                                  organisation=applicant.org.name))


def _rows_of(template: Application) -> dict[str, list[Any]]:
    """The rows that make an entry what it is, beside its own."""
    return {"history": list(template.history), "attachments": list(template.attachments),
            "sheets": list(db.session.scalars(select(ReviewAssignment).filter_by(
                application_id=template.id).order_by(ReviewAssignment.id))),
            "certificates": list(db.session.scalars(select(Certificate).filter_by(
                application_id=template.id)))}


def _name(call: Call, i: int) -> str:
    """The i-th entry's team name in a call."""
    return f"第{call.id}批第{i}号团队"


def copied(row: Any, **changes: Any) -> Any:
    """A new row of the same model with the row's column values (but its key) and ``changes``
    (a relationship given replaces its foreign key)."""
    mapper = inspect(row).mapper
    replaced = {mapper.get_property_by_column(column).key
                for key in changes if key in mapper.relationships
                for column in mapper.relationships[key].local_columns}
    values = {column.key: getattr(row, column.key) for column in mapper.column_attrs
              if not any(c.primary_key for c in column.columns) and column.key not in replaced}
    return mapper.class_(**{**values, **changes})


@pytest.fixture(scope="module")
def counted(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, list[Any]]]:
    """Each page's figures (bench/queries.py's: statements, rows, SQL) at both sizes."""
    folder = Path(tmp_path_factory.mktemp("query-counts"))
    app = configured_app(folder)
    # A queue no worker reads: the certificates' PDFs wait to be drawn (no page here reads them).
    app.config["JOB_QUEUE_URL"] = f"sqlite:///{folder / 'jobs.db'}"
    app.extensions[EXTENSION] = JobQueue(app)
    figures: dict[str, list[Any]] = {page: [] for page in PAGES}
    with empty_tables(app), pytest.MonkeyPatch.context() as patch:
        # A selectin load asks for 500 keys at a time: a list of thousands of rows loading a
        # relationship that way runs a query per 500. At 25 keys, the lists here show it.
        patch.setattr(strategies._SelectInLoader, "_chunksize", 25)
        scene = Scene()
        for size in SIZES:
            scene.grow(size)
            targets = find_targets()
            for page, row in count_pages(app, targets, PASSWORD).items():
                figures[page].append(row)
    yield figures


@pytest.mark.parametrize("page", list(PAGES))
def test_page_runs_the_same_statements_for_6_and_60_entries(counted: dict[str, list[Any]],
                                                            page: str) -> None:
    small, large = counted[page]
    if page in ROWS:  # the list shows more rows at the larger size: a query per row would show
        assert (small["rows"], large["rows"]) == ROWS[page]
    assert (small["statements"], large["statements"]) == (STATEMENTS[page],) * 2, \
        "\n".join(large["sql"])
