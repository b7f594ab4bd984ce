"""Object sweep (ASVS V8.2.2, V8.2.3): other users' ids, on every route that takes an id.

The routes come from `app.url_map`, so a new route is swept without anyone listing it. Each
id-taking route is called, in each of its methods, with the ids of every object of its kind in a
population owned by two applicants of two districts, two district administrators, two experts
and the city (tests/security/population.py), as each of nine requesters. Who the requester is
for that object (owner, its district, its own expert, a stranger...) is a column of the route
matrix (tests/security/test_access_matrix.py); when the matrix does not let that column in, the
answer must be a refusal (403/404; the API's JSON error; anonymous callers are sent to log in)
and, for a write (with a valid CSRF token or API token and a body that would work), nothing in
the database or on disk may have changed. Mixed ids (one entry's id with another entry's file or
certificate) are refused to everyone. Writes the matrix allows are not sent (they would change
the population); reads it allows are sent, and each such route must let someone in, so the
sweep cannot pass by sending ids that do not exist.
"""

from __future__ import annotations

import io
import os
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import select

from app.extensions import db
from app.models import Application, SecurityEvent, User
from app.services.accounts import issue_token
from app.services.demo import SAMPLE_PDF
from tests.conftest import TEAM_SCORES, csrf_from, login
from tests.security import population
from tests.security.population import (
    REQUESTERS,
    Population,
    entry_column,
    generic_column,
    job_column,
    panel_column,
    personal_column,
    sheet_column,
)
from tests.security.test_access_matrix import MATRIX

# Parameters that name no object: one fixed value each.
FIXED = {"key": "excellent_team", "name": "city_review", "event": "submitted"}
# The move asked for at each stage, and who may make it (the matrix lists one trigger only).
TRIGGERS = {"draft": ("withdraw", {"owner"}), "district": ("return_for_correction", {"district"}),
            "review": ("publish_notice", {"city"}), "notice": ("name_team", {"city"}),
            "named": ("publish_notice", {"city"})}
TRANSITIONS = {"applications.transition", "api.transition"}
SECURITY_EVENTS = SecurityEvent.__table__
MISSING = 999_999  # kinds the population has none of (city-only routes): a missing id


@dataclass
class Target:
    """One set of URL values, and the matrix column each user plays for it (None: nobody)."""

    label: str
    values: dict[str, Any]
    column: Callable[[User | None], str | None]
    allowed: set[str] | None = None  # overrides the matrix (transitions: per trigger)
    real: bool = True


def _entry_targets(pop: Population, args: set[str]) -> list[Target]:
    """Each entry with its own file, certificate and trigger; then mixed pairs of two sides."""
    found = []
    for (side, stage), entry in pop.entries.items():
        if "certificate_id" in args and stage != "named":
            continue
        trigger, roles = TRIGGERS[stage]
        found.append(Target(f"{side}-{stage}", {**_entry_values(pop, entry, side),
                                                "trigger": trigger},
                            lambda user, e=entry: entry_column(user, e), roles))
    if args & {"attachment_id", "certificate_id"}:
        stage = "named" if "certificate_id" in args else "review"
        for side, other in (("wj", "tn"), ("tn", "wj")):
            values = {**_entry_values(pop, pop.entries[other, stage], other),
                      "application_id": pop.entries[side, stage].id, "trigger": "publish_notice"}
            found.append(Target(f"{side}-{stage} with {other}'s file or certificate", values,
                                lambda user: None))
    return found


def _entry_values(pop: Population, entry: Application, side: str) -> dict[str, Any]:
    """An entry's id with its first file and its side's certificate."""
    certificate = pop.certificates.get(side)
    return {"application_id": entry.id, "attachment_id": entry.attachments[0].id,
            "certificate_id": certificate.id if certificate else MISSING}


def targets(pop: Population, args: set[str]) -> list[Target]:
    """The objects to substitute into a route taking these parameters."""
    args = args - set(FIXED)
    if "application_id" in args:
        return _entry_targets(pop, args)
    by_kind: dict[str, Callable[[], list[Target]]] = {
        "assignment_id": lambda: [Target(f"sheet {side}-{stage}", {"assignment_id": s.id,
                                                                   "review_id": s.id},
                                         lambda u, s=s: sheet_column(u, s))
                                  for (side, stage), s in pop.sheets.items()],
        "certificate_id": lambda: [Target(f"certificate {side}", {"certificate_id": c.id},
                                          lambda u, c=c: entry_column(u, c.application))
                                   for side, c in pop.certificates.items()],
        "job_id": lambda: [Target(f"job {who}", {"job_id": j.id},
                                  lambda u, j=j: job_column(u, j))
                           for who, j in pop.jobs.items()],
        "notification_id": lambda: [Target(f"notification of {who}", {"notification_id": n.id},
                                           lambda u, n=n: personal_column(u, n.user_id))
                                    for who, n in pop.notifications.items()],
        "invitation_id": lambda: [Target(f"invitation {side}", {"invitation_id": i.id},
                                         lambda u, i=i: personal_column(u, i.expert_id))
                                  for side, i in pop.invitations.items()],
        "panel_id": lambda: [Target(f"panel {side}", {"panel_id": p.id},
                                    lambda u, p=p: panel_column(u, p))
                             for side, p in pop.panels.items()],
        "objection_id": lambda: [Target(f"objection {side}", {"objection_id": o.id},
                                        generic_column) for side, o in pop.objections.items()],
        "receipt": lambda: [Target(f"receipt {side}", {"receipt": o.receipt}, generic_column)
                            for side, o in pop.objections.items()],
        "call_id": lambda: [Target("call", {"call_id": pop.call.id}, generic_column)],
        "user_id": lambda: [Target(f"user {name}", {"user_id": pop.users[name].id},
                                   generic_column) for name in ("wj1", "tn_admin", "expert2")],
        "org_id": lambda: [Target(f"district {u.district_id}", {"org_id": u.district_id},
                                  generic_column)
                           for u in (pop.users["wj_admin"], pop.users["tn_admin"])],
        "message_id": lambda: [Target(f"message {m.id}", {"message_id": m.id}, generic_column)
                               for m in pop.messages],
    }
    by_kind["review_id"] = by_kind["assignment_id"]
    for missing in ("result_id", "proposal_id", "seal_id"):
        by_kind[missing] = lambda m=missing: [Target(f"missing {m}", {m: MISSING},
                                                     generic_column, real=False)]
    kinds = [name for name in by_kind if name in args]
    assert kinds, f"the sweep does not know the parameters {sorted(args)}: teach it their kind"
    return by_kind[kinds[0]]()


def api_body(endpoint: str, values: dict[str, Any]) -> dict[str, Any]:
    """A JSON body that would do something if the caller were let in."""
    return {
        "api.patch_application": {"data": {"team_name": "遍历改名"}},
        "api.transition": {"trigger": values.get("trigger"), "comment": "遍历"},
        "api.put_review": {"scores": TEAM_SCORES, "comment": "遍历", "submit": True},
        "api.declare_conflict": {"conflict": True, "reason": "遍历"},
        "api.reopen_review": {"reason": "遍历"}, "api.withdraw_review": {"reason": "遍历"},
        "api.answer_invitation": {"accept": False, "reason": "遍历"},
        "api.open_panel_entry": {"application_id": values.get("application_id", 0)},
        "api.create_assignment": {"expert": "expert2"},
        "api.waive_dispersion": {"reason": "遍历"},
        "api.revoke_certificate": {"reason": "遍历"}, "api.reissue_certificate": {"reason": "遍历"},
        "api.decide_objection": {"sustained": True, "outcome": "遍历"},
        "api.put_round": {"deadline": "2030-01-01T00:00:00Z"},
    }.get(endpoint, {})


def form_body(endpoint: str, values: dict[str, Any]) -> dict[str, Any]:
    """Form fields that would do something if the caller were let in."""
    scores = {f"criterion_{key}": value for key, value in TEAM_SCORES.items()}
    return {
        "applications.edit": {"team_name": "遍历改名", "action": "save"},
        "applications.transition": {"comment": "遍历"},
        "reviewer.sheet": {**scores, "comment": "遍历", "action": "submit"},
        "reviewer.conflict": {"answer": "declare", "reason": "遍历"},
        "reviewer.answer_invitation": {"answer": "decline", "reason": "遍历"},
        "reviewer.live_open": {"application": values.get("application_id", 0)},
        "admin.revoke": {"reason": "遍历"}, "admin.reissue": {"reason": "遍历"},
        "admin.decide_objection": {"sustained": "1", "outcome": "遍历"},
        "admin.reopen_sheet": {"reason": "遍历"}, "admin.withdraw_sheet": {"reason": "遍历"},
    }.get(endpoint, {})


class Requester:
    """One user (or nobody) with a logged-in browser session and an API token."""

    def __init__(self, app: Flask, name: str, user: User | None) -> None:
        self.name, self.user = name, user
        self.client: FlaskClient = app.test_client()
        self.token: str | None = None
        if user is not None:
            assert login(self.client, name).status_code == 302
            self.token = issue_token(user)
            db.session.commit()
        page = self.client.get("/account/password" if user else "/login")
        self.csrf = csrf_from(page.get_data(as_text=True))

    def send(self, endpoint: str, method: str, url: str, values: dict[str, Any]) -> Any:
        """Make the request as this kind of client would, with a body that would work."""
        if endpoint.startswith("api."):
            headers = {"Authorization": f"Bearer {self.token}"} if self.token else {}
            if endpoint == "api.upload_attachments":
                return self.client.post(url, headers=headers, content_type="multipart/form-data",
                                        data={"charter": (io.BytesIO(SAMPLE_PDF), "遍历.pdf")})
            body = api_body(endpoint, values) if method in {"POST", "PUT", "PATCH"} else None
            return self.client.open(url, method=method, json=body, headers=headers)
        if method == "GET":
            return self.client.get(url)
        return self.client.post(url, data={**form_body(endpoint, values), "csrf_token": self.csrf})


def snapshot(app: Flask) -> tuple[dict[str, list[tuple[Any, ...]]], list[str]]:
    """Every row of every table, read on a fresh connection, and every stored file; a refusal
    is itself recorded as a security event, so those rows are the one change allowed."""
    with db.engine.connect() as connection:
        rows = {table.name: [tuple(row) for row in connection.execute(
            _rows_of(table).order_by(*table.primary_key.columns))]
            for table in db.metadata.sorted_tables}
    files = sorted(str(Path(folder, name)) for key in ("UPLOAD_FOLDER", "CERTIFICATE_FOLDER",
                                                       "EXPORT_FOLDER")
                   for folder, _dirs, names in os.walk(app.config[key]) for name in names)
    return rows, files


def _rows_of(table: Any) -> Any:
    """The rows compared: all of them, but the refusals among the security events."""
    if table is SECURITY_EVENTS:
        return select(table).where(table.c.kind != "refused")
    return select(table)


def refusal(response: Any, endpoint: str, requester: Requester) -> str | None:
    """What is wrong with this answer as a refusal (None: properly refused)."""
    status = response.status_code
    # A move its caller may not make is refused by the engine with its reasons (409), after the
    # check that the caller may see the entry; the database check below still applies.
    moves = {409} if endpoint in TRANSITIONS else set()
    if endpoint.startswith("api."):
        wanted = {401} if requester.user is None else {403, 404} | moves
        if status not in wanted:
            return f"got {status}"
        body = response.get_json(silent=True)
        if not isinstance(body, dict) or set(body) != {"error", "message", "details"}:
            return "not the JSON error shape"
        return None
    if requester.user is None:
        location = response.headers.get("Location", "")
        return None if status == 302 and "/login" in location else f"got {status} {location}"
    return None if status in {403, 404} | moves else f"got {status}"


@pytest.mark.slow
def test_other_users_ids_are_refused_on_every_route(app: Flask, world):
    pop = population.build(world)
    requesters = [Requester(app, name, None if name == "anon" else world["users"][name])
                  for name in REQUESTERS]
    counts: Counter[str] = Counter()
    wrong: list[str] = []
    admitted: dict[str, int] = {}
    baseline = None
    spent: Counter[str] = Counter()
    for rule in sorted(app.url_map.iter_rules(), key=lambda r: r.rule):
        args = set(rule.arguments)
        if rule.endpoint == "static" or not args - set(FIXED) - {"code", "token"}:
            continue  # no object id: the access matrix covers these
        for method in sorted(rule.methods - {"HEAD", "OPTIONS"}):
            for target in targets(pop, args):
                values = {**FIXED, **target.values}
                url = rule.build({k: values[k] for k in args}, append_unknown=False)[1]
                allowed = target.allowed if rule.endpoint in TRANSITIONS and target.allowed \
                    else MATRIX[rule.endpoint][method]
                if target.real and method == "GET":
                    admitted.setdefault(rule.endpoint, 0)
                tried: list[str] = []  # who was refused a write of this target
                for requester in requesters:
                    column = target.column(requester.user)
                    may = column is not None and column in allowed
                    if may and (method != "GET" or admitted.get(rule.endpoint)):
                        counts["allowed, not sent"] += 1  # writes would change the population
                        continue
                    if not may and method != "GET" and baseline is None:
                        baseline = snapshot(app)  # refused writes of this group compared after
                    started = time.perf_counter()
                    response = requester.send(rule.endpoint, method, url, values)
                    response.get_data()
                    response.close()
                    db.session.rollback()
                    spent["requests"] += time.perf_counter() - started
                    case = f"{method} {url} ({target.label}) as {requester.name}"
                    if response.status_code >= 500:
                        wrong.append(f"{case}: server error")
                    if may:
                        counts["allowed reads"] += 1
                        baseline = None  # a read may log a download
                        if refusal(response, rule.endpoint, requester) and target.real:
                            admitted[rule.endpoint] += 1
                        continue
                    counts["refusals checked"] += 1
                    problem = refusal(response, rule.endpoint, requester)
                    if problem:
                        wrong.append(f"{case}: not refused, {problem}")
                    if method != "GET":
                        counts["refused writes, database compared"] += 1
                        tried.append(requester.name)
                if tried:
                    started = time.perf_counter()
                    after = snapshot(app)
                    spent["snapshots"] += time.perf_counter() - started
                    if after != baseline:
                        wrong.append(f"{method} {url} ({target.label}): a refused write by one "
                                     f"of {tried} changed the database")
                        baseline = after
    print(f"\nobject sweep: {dict(counts)}; id-taking routes read: {len(admitted)}; "
          f"seconds: {dict(spent)}")
    assert not wrong, "\n" + "\n".join(wrong)
    assert [endpoint for endpoint, n in admitted.items() if n == 0] == []
    assert counts["refusals checked"] > 3000


def test_an_expert_cannot_answer_another_experts_invitation(app: Flask, world):
    """Found by the sweep: the page flashed the refusal and redirected; it is a 403 now."""
    from app.models.reviews import CallInvitation
    from app.services.invitations import invite

    users = world["users"]
    invitation = invite(world["call"], [users["expert2"]], users["city"])[0]
    db.session.commit()
    other = Requester(app, "expert1", users["expert1"])

    response = other.send("reviewer.answer_invitation", "POST",
                          f"/reviews/invitations/{invitation.id}", {})

    assert response.status_code == 403
    db.session.expire_all()
    assert db.session.get(CallInvitation, invitation.id).status == "invited"
