"""A Hypothesis state machine drives 社区教育优秀团队遴选 through the API (and a few pages) as
seven users, and holds every answer to the reference model in tests/security/stateful_model.py.

Each rule picks an actor (the one who should act, or anyone, allowed or not) and an object.
An allowed request must succeed and the model moves with it; a refused one must answer
403/404/409/422 and leave the database exactly as it was, read back on a fresh connection.
After every step the invariants compare the database with the model: states, sheets, files,
the audit trail (one row per successful move), quotas, and what each user can list.

Runs are deterministic (derandomize) and bounded; PINGSHEN_MODEL_EXAMPLES and
PINGSHEN_MODEL_STEPS run it longer.
"""

from __future__ import annotations

import io
import os
import re
from collections import Counter
from datetime import timedelta
from typing import Any, ClassVar

from flask import Flask
from flask.testing import FlaskClient
from hypothesis import HealthCheck, Phase, settings
from hypothesis import strategies as st
from hypothesis.stateful import (
    Bundle,
    RuleBasedStateMachine,
    initialize,
    invariant,
    multiple,
    precondition,
    rule,
    run_state_machine_as_test,
)
from openpyxl import load_workbook
from sqlalchemy import select, text

from app.extensions import db
from app.models import Application, Attachment, AuditEntry, ReviewAssignment
from app.models.base import utcnow
from app.services.accounts import add_organisation, add_user, issue_token
from app.services.calls import open_call
from app.services.demo import SAMPLE_PDF, team_data
from tests.api.conftest import Api, Caller
from tests.conftest import csrf_from, login
from tests.security.stateful_model import (
    DISTRICT,
    EXPERTS,
    QUOTAS,
    RECOMMENDED,
    ROLE,
    STEPS,
    USERS,
    Entry,
    Model,
    Sheet,
)

PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 64
SCORES = {"organisation": 18, "resources": 12, "activities": 30, "impact": 25}
# "rightful": whoever the model says should act (two draws in three), else anyone at all
ACTORS = ("rightful",) * 2 * len(USERS) + tuple(USERS)
HTML_STEPS = [t for t, step in STEPS.items() if step.role != "applicant"]
REFUSED = {403, 404, 409, 422}
MAX_ENTRIES = 6  # more would spread the steps thin: few entries, each taken further
# What a refused request must leave exactly as it was.
WATCHED = ("applications", "attachments", "review_assignments", "sheet_revisions",
           "audit_entries", "notifications", "outbox", "certificates", "jobs")
FIGURES: Counter[str] = Counter()  # requests by rule and outcome, for docs/security.md


def reset_database() -> None:
    """Empty every table, so that each example starts from the same seeded world."""
    tables = [t.name for t in reversed(db.metadata.sorted_tables)]
    if db.engine.dialect.name == "postgresql":
        db.session.execute(text(f"TRUNCATE {', '.join(tables)} RESTART IDENTITY CASCADE"))
    else:
        for name in tables:
            db.session.execute(text(f"DELETE FROM {name}"))
    db.session.commit()
    db.session.expunge_all()


def seed_world() -> tuple[int, dict[str, str]]:
    """Two districts with a unit each, the seven users, an open call; the call id and tokens."""
    add_organisation("X", "X市", "city", None)
    add_organisation("X-OU", "X市开放大学", "unit", "X")
    for district, name in (("WJ", "武进区"), ("TN", "天宁区")):
        add_organisation(district, name, "district", "X")
        add_organisation(f"{district}-U1", f"{name}单位1", "unit", district)
    orgs = {"applicant": "{d}-U1", "district_admin": "{d}", "city_admin": "X", "expert": "X-OU"}
    users = {name: add_user(name, ROLE[name], orgs[ROLE[name]].format(d=DISTRICT.get(name)),
                            "correct-horse-1", name)
             for name in USERS}
    now = utcnow()
    call = open_call("excellent_team", "2026年度X市社区教育优秀团队遴选", 2026,
                     now - timedelta(days=1), now + timedelta(days=30), dict(QUOTAS),
                     users["city"])
    tokens = {name: issue_token(user) for name, user in users.items()}
    db.session.commit()
    return call.id, tokens


def snapshot() -> dict[str, list[tuple[Any, ...]]]:
    """Every row of the watched tables, read on a fresh connection."""
    with db.engine.connect() as connection:
        return {name: sorted(tuple(map(repr, row)) for row in
                              connection.execute(text(f"SELECT * FROM {name}")))
                for name in WATCHED}


class ModelMachine(RuleBasedStateMachine):
    """The app against the model, one request per rule."""

    app: ClassVar[Flask]
    api: ClassVar[Api]
    entries = Bundle("entries")
    sheets = Bundle("sheets")

    def __init__(self) -> None:
        super().__init__()
        reset_database()
        self.call_id, tokens = seed_world()
        self.callers: dict[str, Caller] = {n: self.api.caller(t) for n, t in tokens.items()}
        self.pages: dict[str, FlaskClient] = {}  # logged-in browsers, made when first used
        self.model = Model()
        self.changed = True  # the database changed since the lists were last compared

    # --- helpers -------------------------------------------------------------------------
    def outcome(self, rule_name: str, expected: int, response: Any, before: Any) -> bool:
        """Hold the answer to the model's; a refusal must change nothing. Allowed or not."""
        status = response.status_code
        FIGURES[f"{rule_name} {'allowed' if expected < 400 else 'refused'}"] += 1
        assert status == expected, (rule_name, expected, status,
                                    response.get_data(as_text=True)[:600])
        if expected >= 400:
            assert expected in REFUSED
            assert snapshot() == before, f"{rule_name}: a refused request changed the database"
            return False
        self.changed = True
        return True

    def actor(self, who: str, rightful: str) -> str:
        """The drawn actor, or the one who should act."""
        return rightful if who == "rightful" else who

    def rightful_for(self, entry: Entry, trigger: str) -> str:
        """Who the workflow lets fire `trigger` on `entry`."""
        role = STEPS[trigger].role
        if role == "applicant":
            return entry.owner
        if role == "district_admin":
            return {"WJ": "wj_admin", "TN": "tn_admin"}[entry.district]
        return "city"

    def page_client(self, user: str) -> FlaskClient:
        """A browser session of `user`, logged in through the form."""
        if user not in self.pages:
            client = self.app.test_client()
            assert login(client, user).status_code == 302
            self.pages[user] = client
        return self.pages[user]

    def entry_version(self, entry: Entry) -> int:
        """The entry's row version now, on a fresh connection."""
        with db.engine.connect() as connection:
            return int(connection.scalar(select(Application.version)
                                         .where(Application.id == entry.id)))

    # --- the applicant's form ------------------------------------------------------------
    @initialize(target=entries)
    def first_entries(self) -> Any:
        """Each applicant starts with a complete draft and its charter, and one more of
        those submitted to the district; the last one is recommended to the city too."""
        entries = []
        for name in (n for n in USERS if ROLE[n] == "applicant"):
            for submitted in (False, True):
                entry = self.start(name, "complete")
                assert entry is not None
                self.send_file(entry, name, "charter")
                if submitted:
                    self.move(entry, "submit", name, comment=False, form=False)
                entries.append(entry)
        self.move(entries[-1], "recommend", self.rightful_for(entries[-1], "recommend"),
                  comment=False, form=True)
        return multiple(*entries)

    @precondition(lambda self: len(self.model.entries) < MAX_ENTRIES)
    @rule(target=entries, who=st.sampled_from(ACTORS),
          kind=st.sampled_from(["complete", "partial", "invalid"]))
    def create(self, who: str, kind: str) -> Any:
        """Start a draft: full data, data without the leader, or a value out of range."""
        entry = self.start(self.actor(who, "wj1"), kind)
        return multiple() if entry is None else entry

    def start(self, user: str, kind: str) -> Entry | None:
        """POST a new application; the model's entry when allowed."""
        data = team_data("湖塘太极拳队", "某中心", "张三")
        if kind == "partial":
            del data["leader"]
        elif kind == "invalid":
            data["member_count"] = 2
        before = snapshot()
        response = self.callers[user].post("/api/v1/applications",
                                           json={"call_id": self.call_id, "data": data})
        if not self.outcome("create", self.model.may_create(user, kind != "invalid"),
                            response, before):
            return None
        body = response.get_json()
        assert body["state"] == "draft"
        entry = Entry(body["id"], user, complete=kind == "complete")
        self.model.entries[entry.id] = entry
        return entry

    @rule(entry=entries, who=st.sampled_from(ACTORS),
          kind=st.sampled_from(["complete", "clear", "invalid", "stale"]))
    def edit(self, entry: Entry, who: str, kind: str) -> None:
        """Change the form: fill the leader in, clear it, a bad value, or a stale version."""
        user = self.actor(who, entry.owner)
        data = {"complete": {"leader": "李四"}, "clear": {"leader": None},
                "invalid": {"member_count": 2}, "stale": {"leader": "王五"}}[kind]
        body: dict[str, Any] = {"data": data}
        if kind == "stale":
            body["version"] = self.entry_version(entry) - 1
        before = snapshot()
        response = self.callers[user].patch(f"/api/v1/applications/{entry.id}", json=body)
        expected = self.model.may_edit(user, entry, kind != "invalid", kind == "stale")
        if self.outcome("edit", expected, response, before):
            entry.complete = kind != "clear"
            assert response.get_json()["data"].get("leader") == data["leader"]

    @rule(entry=entries, who=st.sampled_from(ACTORS),
          kind=st.sampled_from(["charter", "photo", "fake_charter"]))
    def upload(self, entry: Entry, who: str, kind: str) -> None:
        """Upload the charter (a PDF), a photo, or a PNG that calls itself a PDF."""
        self.send_file(entry, self.actor(who, entry.owner), kind)

    def send_file(self, entry: Entry, user: str, kind: str) -> None:
        """POST one file; the model keeps it when allowed."""
        field, content, name = {"charter": ("charter", SAMPLE_PDF, "章程.pdf"),
                                "photo": ("photos", PNG, "合影.png"),
                                "fake_charter": ("charter", PNG, "章程.pdf")}[kind]
        before = snapshot()
        response = self.callers[user].post(f"/api/v1/applications/{entry.id}/attachments",
                                           data={field: (io.BytesIO(content), name)},
                                           content_type="multipart/form-data")
        if self.outcome("upload", self.model.may_upload(user, entry, kind), response, before):
            self.model.apply_upload(entry, kind)

    # --- transitions ---------------------------------------------------------------------
    @rule(entry=entries, data=st.data())
    def fire(self, entry: Entry, data: st.DataObject) -> None:
        """Fire a step over the API (often one possible from the state, by its rightful actor)."""
        trigger = self.draw_trigger(entry, data, list(STEPS))
        user = self.actor(data.draw(st.sampled_from(ACTORS), "who"),
                          self.rightful_for(entry, trigger))
        comment, form = self.draw_input(trigger, data)
        self.move(entry, trigger, user, comment, form)

    def move(self, entry: Entry, trigger: str, user: str, comment: bool, form: bool) -> None:
        """POST a transition; the model moves when allowed."""
        body: dict[str, Any] = {"trigger": trigger}
        if comment:
            body["comment"] = "意见：材料齐全"
        if form:
            body["data"] = {"rank": 1, "opinion": "同意推荐"}
        before = snapshot()
        response = self.callers[user].post(f"/api/v1/applications/{entry.id}/transitions",
                                           json=body)
        expected = self.model.may_fire(user, entry, trigger, comment, form)
        if self.outcome(f"fire {trigger}", expected, response, before):
            self.model.apply_fire(entry, trigger)
            assert response.get_json()["state"] == entry.state

    @rule(entry=entries, data=st.data())
    def fire_in_page(self, entry: Entry, data: st.DataObject) -> None:
        """An administrator's step through its page: GET the form, POST it with the token."""
        trigger = self.draw_trigger(entry, data, HTML_STEPS)
        user = self.actor(data.draw(st.sampled_from(
            ("rightful", "wj_admin", "tn_admin", "city", "wj1", "expert1")), "who"),
            self.rightful_for(entry, trigger))
        comment, form = self.draw_input(trigger, data)
        client = self.page_client(user)
        url = f"/applications/{entry.id}/transitions/{trigger}"
        expected_get, expected_post = self.model.may_fire_html(user, entry, trigger, comment,
                                                               form)
        before = snapshot()
        page = client.get(url)
        if not self.outcome(f"open page {trigger}", expected_get, page, before):
            return
        html = page.get_data(as_text=True)
        version = re.search(r'name="expected_version"[^>]*value="(\d+)"', html)
        assert version, "the step page carries the version it shows"
        fields = {"csrf_token": csrf_from(html), "expected_version": version.group(1),
                  "comment": "意见：请补充材料" if comment else ""}
        if form:
            fields |= {"rank": "1", "opinion": "同意推荐"}
        response = client.post(url, data=fields)
        if self.outcome(f"page {trigger}", expected_post, response, before):
            self.model.apply_fire(entry, trigger)

    def draw_trigger(self, entry: Entry, data: st.DataObject, triggers: list[str]) -> str:
        """A trigger possible from the entry's state (mostly), or any."""
        possible = [t for t in triggers if entry.state in STEPS[t].sources]
        return data.draw(st.sampled_from(possible * 6 + triggers), "trigger")

    def draw_input(self, trigger: str, data: st.DataObject) -> tuple[bool, bool]:
        """A comment and the step form: as the step asks (mostly), or the other way round."""
        step = STEPS[trigger]
        proper = data.draw(st.sampled_from([True, True, True, False]), "proper input")
        comment = step.comment == "required" or (step.comment == "optional"
                                                 and data.draw(st.booleans(), "comment"))
        return (comment, step.form) if proper else (not comment, not step.form)

    # --- experts -------------------------------------------------------------------------
    @precondition(lambda self: self.model.entries)
    @rule(target=sheets, data=st.data(), who=st.sampled_from(ACTORS),
          expert=st.sampled_from([*EXPERTS, "wj1"]))
    def assign(self, data: st.DataObject, who: str, expert: str) -> Any:
        """The city asks an expert (or, wrongly, an applicant) to score an entry (mostly one
        in city review)."""
        entries = list(self.model.entries.values())
        in_review = [e for e in entries if e.state == "city_review"]
        entry = data.draw(st.sampled_from(in_review * 3 + entries), "entry")
        user = self.actor(who, "city")
        before = snapshot()
        response = self.callers[user].post(f"/api/v1/applications/{entry.id}/assignments",
                                           json={"expert": expert})
        if not self.outcome("assign", self.model.may_assign(user, entry, expert), response,
                            before):
            return multiple()
        sheet = Sheet(response.get_json()["id"], expert, entry.id)
        self.model.sheets[sheet.id] = sheet
        return sheet

    @rule(sheet=sheets, who=st.sampled_from(ACTORS),
          conflict=st.sampled_from([False, False, True]))
    def declare(self, sheet: Sheet, who: str, conflict: bool) -> None:
        """The expert confirms having no conflict of interest, or declares one."""
        user = self.actor(who, sheet.expert)
        before = snapshot()
        response = self.callers[user].post(f"/api/v1/reviews/{sheet.id}/conflict",
                                           json={"conflict": conflict, "reason": "曾任该团队顾问"})
        if self.outcome("declare", self.model.may_declare(user, sheet), response, before):
            self.model.apply_declare(sheet, conflict)

    @rule(sheet=sheets, who=st.sampled_from(ACTORS), submit=st.booleans(),
          complete=st.sampled_from([True, True, False]))
    def score(self, sheet: Sheet, who: str, submit: bool, complete: bool) -> None:
        """The expert saves or submits scores (all four criteria, or one missing)."""
        user = self.actor(who, sheet.expert)
        scores = dict(SCORES) if complete else {"organisation": 18}
        before = snapshot()
        response = self.callers[user].put(f"/api/v1/reviews/{sheet.id}", json={
            "scores": scores, "comment": "", "submit": submit})
        if self.outcome("score", self.model.may_score(user, sheet, complete, submit),
                        response, before):
            sheet.status = "submitted" if submit else "draft"

    @rule(sheet=sheets, who=st.sampled_from(ACTORS))
    def withdraw_sheet(self, sheet: Sheet, who: str) -> None:
        """The city takes an open sheet back from its expert."""
        user = self.actor(who, "city")
        before = snapshot()
        response = self.callers[user].post(f"/api/v1/reviews/{sheet.id}/withdraw",
                                           json={"reason": "专家临时出差"})
        if self.outcome("withdraw sheet", self.model.may_withdraw_sheet(user, sheet),
                        response, before):
            sheet.status = "withdrawn"

    @rule(sheet=sheets, who=st.sampled_from(ACTORS))
    def reopen(self, sheet: Sheet, who: str) -> None:
        """The city returns a submitted sheet to its expert."""
        user = self.actor(who, "city")
        before = snapshot()
        response = self.callers[user].post(f"/api/v1/reviews/{sheet.id}/reopen",
                                           json={"reason": "请复核学习活动一项"})
        if self.outcome("reopen", self.model.may_reopen(user, sheet), response, before):
            sheet.status = "draft"

    # --- reading -------------------------------------------------------------------------
    @rule(entry=entries, who=st.sampled_from(USERS))
    def view(self, entry: Entry, who: str) -> None:
        """Open another user's (or one's own) entry over the API and as a page."""
        expected = 200 if self.model.may_view(who, entry) else 403
        before = snapshot()
        response = self.callers[who].get(f"/api/v1/applications/{entry.id}")
        if self.outcome("view", expected, response, before):
            assert response.get_json()["state"] == entry.state
        page = self.page_client(who).get(f"/applications/{entry.id}")
        self.outcome("view page", expected, page, before)

    @rule(sheet=sheets, who=st.sampled_from(USERS))
    def read_sheet(self, sheet: Sheet, who: str) -> None:
        """Read a score sheet: its expert's and the city's only."""
        before = snapshot()
        response = self.callers[who].get(f"/api/v1/reviews/{sheet.id}")
        if self.outcome("read sheet", self.model.may_read_sheet(who, sheet), response, before):
            assert response.get_json()["status"] == sheet.status

    @rule(who=st.sampled_from(USERS))
    def export(self, who: str) -> None:
        """The call's applications workbook: administrators, each for their own reach."""
        expected = 200 if ROLE[who] in ("city_admin", "district_admin") else 403
        before = snapshot()
        response = self.callers[who].get(f"/api/v1/calls/{self.call_id}/applications.xlsx")
        if self.outcome("export", expected, response, before):
            sheet = load_workbook(io.BytesIO(response.data), read_only=True).worksheets[0]
            rows = list(sheet.iter_rows(min_row=2, values_only=True))
            assert {int(row[0]) for row in rows if row[0]} == self.model.visible(who)

    # --- invariants ----------------------------------------------------------------------
    @invariant()
    def database_matches_model(self) -> None:
        """States, first submission, sheets, files and the audit trail equal the model's."""
        with db.engine.connect() as connection:
            rows = connection.execute(select(Application.id, Application.state,
                                             Application.submitted_at)).all()
            assert {r.id: r.state for r in rows} == \
                {e.id: e.state for e in self.model.entries.values()}
            assert {r.id for r in rows if r.submitted_at} == \
                {e.id for e in self.model.entries.values() if e.submitted}
            sheets = connection.execute(select(ReviewAssignment.id, ReviewAssignment.status,
                                               ReviewAssignment.conflict_checked_at)).all()
            assert {s.id: (s.status, s.conflict_checked_at is not None) for s in sheets} == \
                {s.id: (s.status, s.confirmed) for s in self.model.sheets.values()}
            files = Counter(connection.execute(select(Attachment.application_id,
                                                      Attachment.field_key)).all())
            assert files == Counter({**{(e.id, "charter"): 1 for e in
                                        self.model.entries.values() if e.charter},
                                     **{(e.id, "photos"): e.photos for e in
                                        self.model.entries.values() if e.photos}})
            audit = connection.execute(select(AuditEntry.application_id, AuditEntry.from_state,
                                              AuditEntry.to_state).order_by(AuditEntry.id)).all()
        moves: dict[int, list[tuple[str | None, str]]] = {}
        for application_id, source, dest in audit:
            moves.setdefault(application_id, []).append((source, dest))
        assert moves == {e.id: e.moves for e in self.model.entries.values()}

    @invariant()
    def quota_never_exceeded(self) -> None:
        """No district has more entries recommended than its quota, in the database."""
        with db.engine.connect() as connection:
            rows = connection.execute(select(Application.id, Application.state)
                                      .where(Application.state.in_(RECOMMENDED))).all()
        used = Counter(self.model.entries[r.id].district for r in rows)
        assert all(used[district] <= quota for district, quota in QUOTAS.items()), used

    @invariant()
    def lists_match_model(self) -> None:
        """Each user lists exactly the entries the model lets them see, and experts their
        own sheets (compared whenever the database changed: lists follow from its rows)."""
        if not self.changed:
            return
        self.changed = False
        for user, caller in self.callers.items():
            listed = caller.get("/api/v1/applications?per_page=100").get_json()["items"]
            assert {item["id"] for item in listed} == self.model.visible(user), user
            if ROLE[user] == "expert":
                sheets = caller.get("/api/v1/reviews").get_json()
                assert {s["id"] for s in sheets} == \
                    {s.id for s in self.model.sheets.values() if s.expert == user}


def machine_settings() -> settings:
    """Bounded and deterministic in CI; longer with PINGSHEN_MODEL_EXAMPLES / _STEPS;
    PINGSHEN_MODEL_SHRINK=0 reports a failure as found, without shrinking it (faster)."""
    phases = [p for p in Phase if os.environ.get("PINGSHEN_MODEL_SHRINK") != "0"
              or p != Phase.shrink]
    return settings(phases=phases, max_examples=int(os.environ.get("PINGSHEN_MODEL_EXAMPLES", 30)),
                    stateful_step_count=int(os.environ.get("PINGSHEN_MODEL_STEPS", 25)),
                    derandomize=True, database=None, deadline=None, print_blob=False,
                    suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much])


def test_the_app_follows_the_reference_model(app: Flask) -> None:
    ModelMachine.app, ModelMachine.api = app, Api(app)
    FIGURES.clear()
    run_state_machine_as_test(ModelMachine, settings=machine_settings())
    print("\nstateful model:", dict(sorted(FIGURES.items())))
