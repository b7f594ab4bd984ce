"""Schemathesis against /api/v1/openapi.json, once per role: no server error, every answer as
documented.

The document is read through the WSGI app (no network). The database holds the demo's objects
(three calls; entries from draft to named; review sheets; a closed round and a live panel; a
certificate) and a few more (an objection, invitations, an export job); every integer path id
is drawn half the time from the ids that exist, so generated requests reach real rows. Cases
come from the document alone, valid and invalid ones, in Schemathesis' examples, coverage and
fuzzing phases, derandomized with a fixed number of examples; each case is sent as each role,
in a fixed order, and every answer is checked: no 5xx, status, content type, headers and body
as documented, and no field the document does not list.
"""

from __future__ import annotations

from collections import Counter
from typing import Any

import pytest
import schemathesis
from flask import Flask
from schemathesis.checks import not_a_server_error
from schemathesis.config import SchemathesisConfig
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
    status_code_conformance,
)
from sqlalchemy import select

from app.blueprints.api.openapi import openapi_document
from app.extensions import db
from app.models import (
    Application,
    Attachment,
    AwardProposal,
    Call,
    CallInvitation,
    Certificate,
    Job,
    Notification,
    Objection,
    Panel,
    ReviewAssignment,
    ReviewResult,
    User,
)
from app.services.accounts import issue_token
from app.services.applications import EntryFilter
from app.services.demo import DEMO_PASSWORD, load_demo
from app.services.export_jobs import start_applications_job
from app.services.invitations import invite
from app.services.objections import submit_objection
from tests.api.conftest import DocumentChecker
from tests.conftest import FreshContextClient

# One user per role; None is the anonymous caller.
ROLES = {"anonymous": None, "applicant": "hutang", "district_admin": "wj_admin",
         "city_admin": "city", "expert": "expert1"}
MAX_EXAMPLES = 5  # fuzzing cases per operation, beyond those of the examples and coverage phases
CHECKS = [not_a_server_error, status_code_conformance, content_type_conformance,
          response_headers_conformance, response_schema_conformance]
# Path ids by parameter name, and the table whose ids are drawn for it.
ID_TABLES = {"application_id": Application, "attachment_id": Attachment, "call_id": Call,
             "certificate_id": Certificate, "review_id": ReviewAssignment,
             "invitation_id": CallInvitation, "job_id": Job, "notification_id": Notification,
             "result_id": ReviewResult, "proposal_id": AwardProposal, "panel_id": Panel,
             "objection_id": Objection}

CASES: Counter[str] = Counter()  # requests made per role, for the figures in docs/security.md
OPERATIONS: set[str] = set()

schema = schemathesis.pytest.from_fixture("api_schema")


@pytest.fixture
def seeded(app: Flask, request: pytest.FixtureRequest) -> dict[str, list[Any]]:
    """The demo's objects and a few more; the ids of each kind that exist."""
    load_demo()
    users = {u.username: u for u in db.session.scalars(select(User))}
    contest = db.session.scalar(select(Call).filter_by(programme_key="teacher_contest"))
    invite(contest, [users["expert4"], users["expert5"]], users["city"])
    noticed = db.session.scalar(select(Application).filter_by(state="notice"))
    submit_objection(noticed, "市民甲", "13800000000", "该团队的活动记录与实际不符，请核实。",
                     None, "192.0.2.1")
    team_call = db.session.scalar(select(Call).filter_by(programme_key="excellent_team"))
    start_applications_job(team_call, users["city"], EntryFilter())
    db.session.commit()
    # From here on jobs wait for a worker, as in production: a request that starts one (a ZIP
    # of dossiers, a print run) answers 202 without building the file inside the request.
    request.getfixturevalue("held_queue")
    known: dict[str, list[Any]] = {name: sorted(db.session.scalars(select(model.id)))
                                   for name, model in ID_TABLES.items()}
    known["key"] = sorted(set(db.session.scalars(select(Call.programme_key))))
    known["name"] = ["city_review", "city_preliminary", "city_final", "materials_review",
                     "defence_review"]
    known["code"] = list(db.session.scalars(select(Certificate.code)))
    known["receipt"] = list(db.session.scalars(select(Objection.receipt)))
    return known


class ReadingClient(FreshContextClient):
    """Each request in its own app context, as in production; each answer read and closed, as
    a real client does (Schemathesis reads the body of a streamed file but leaves it open)."""

    def open(self, *args: Any, **kwargs: Any) -> Any:
        """Send the request; read and close the answer."""
        response = super().open(*args, **kwargs)
        response.get_data()
        response.close()
        return response


@pytest.fixture
def reader(app: Flask) -> ReadingClient:
    """The client every generated request goes through."""
    return ReadingClient(app, app.response_class)


@pytest.fixture
def callers(app: Flask, seeded: dict[str, list[Any]]) -> dict[str, dict[str, str]]:
    """Each role's Authorization header, from a token issued by POST /api/v1/tokens."""
    headers = {}
    for role, username in ROLES.items():
        if username is None:
            headers[role] = {}
            continue
        response = app.test_client().post("/api/v1/tokens", json={
            "username": username, "password": DEMO_PASSWORD})
        assert response.status_code == 201, response.get_json()
        headers[role] = {"Authorization": f"Bearer {response.get_json()['token']}"}
    return headers


@pytest.fixture
def api_schema(app: Flask, seeded: dict[str, list[Any]]) -> Any:
    """The document as the app serves it, with ids drawn from the seeded rows."""
    config = SchemathesisConfig.from_dict({
        "seed": 20260601,
        "generation": {"mode": "all", "max-examples": MAX_EXAMPLES, "deterministic": True,
                       "database": "none"},
        "phases": {"stateful": {"enabled": False}},
        "dictionaries": {name: {"values": ids} for name, ids in seeded.items() if ids},
        "parameters": {f"path.{name}": {"dictionary": name, "probability": 0.5}
                       for name, ids in seeded.items() if ids},
    })
    return schemathesis.openapi.from_wsgi("/api/v1/openapi.json", app, config=config)


@pytest.fixture
def strict(app: Flask) -> Any:
    """A check that every field of a JSON answer is documented (the document stays open)."""
    checker = DocumentChecker(app)

    def documented_fields_only(ctx: Any, response: Any, case: Any) -> bool | None:
        operation = checker.document["paths"][case.operation.path].get(case.method.lower())
        if operation is None:
            return None  # a method the path does not have, sent on purpose (405)
        spec = operation["responses"].get(str(response.status_code))
        if spec is None or not response.headers.get("content-type", [""])[0].startswith(
                "application/json"):
            return None  # status_code_conformance and content_type_conformance report these
        schema_ = checker.resolve(spec)["content"]["application/json"]["schema"]
        try:
            checker.validate(response.json(), schema_)
        except Exception as error:  # jsonschema's ValidationError, as a check failure
            raise AssertionError(str(error)) from None
        return None

    return documented_fields_only


@pytest.fixture
def node_id_for_schemathesis(request: pytest.FixtureRequest) -> None:
    """Give the test item the `_nodeid` Schemathesis 4.32 reads and renames per operation.

    pytest 9.2 keeps the id in `_id` instead; without this the lazy schema fails before its
    first case (AttributeError). The names only label the reports.
    """
    node = request.node
    if not hasattr(node, "_nodeid"):
        node._nodeid = node.nodeid


@schema.parametrize()
@pytest.mark.slow
@pytest.mark.usefixtures("node_id_for_schemathesis", "report_figures")
def test_api_as_each_role(case: Any, reader: ReadingClient, callers: dict[str, dict[str, str]],
                          strict: Any) -> None:
    for role, headers in callers.items():
        if headers and case.method == "DELETE" and case.operation.path == "/api/v1/tokens":
            headers = {"Authorization": f"Bearer {_spare_token(headers)}"}  # keep the role's own
        try:
            case.call_and_validate(headers=headers, session=reader, checks=CHECKS,
                                   additional_checks=[strict])
        except BaseException as error:
            error.add_note(f"(as {role})")
            raise
        CASES[role] += 1
    OPERATIONS.add(case.operation.label)


@pytest.fixture
def report_figures(capsys: pytest.CaptureFixture[str]) -> Any:
    """After the run, print the requests made per role and any operation that sent none
    (run with -s to read them)."""
    CASES.clear()
    OPERATIONS.clear()
    yield
    documented = {f"{method.upper()} {path}"
                  for path, item in openapi_document()["paths"].items()
                  for method in item if method != "parameters"}
    with capsys.disabled():
        print(f"\nschemathesis: {len(OPERATIONS)} of {len(documented)} operations, "
              f"{CASES.total()} requests; per role: {dict(CASES)}; "
              f"no request sent for: {sorted(documented - OPERATIONS)}")


def _spare_token(headers: dict[str, str]) -> str:
    """A second token of the same user, for the case that logs out."""
    from app.services.accounts import user_for_token

    user = user_for_token(headers["Authorization"].removeprefix("Bearer "))
    assert user is not None
    token = issue_token(user)
    db.session.commit()
    return token

