"""Who may call what: every API route × every role, and object-level refusals."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from app.engine.runtime import fire
from app.extensions import db
from app.models import Application, Certificate
from app.services.reviews import assign_expert, save_review
from tests.api.conftest import openapi_path, problem
from tests.conftest import confirmed

SCORES = {"organisation": 18, "resources": 12, "activities": 30, "impact": 25}
ROLES = ["anonymous", "wj1", "wj2", "tn1", "wj_admin", "tn_admin", "city", "expert1", "expert2"]
REST = "*"  # every role not named
ADMINS_200 = {"city": 200, "wj_admin": 200, "tn_admin": 200, REST: 403}  # a call's exports

# (method, path, body, {role: status}). Allowed callers get a harmless request (an empty body
# gives 400 once authorised), so nothing changes. D: wj1's draft; R: wj2's entry under review
# scored by expert1 (sheet S); N: tn1's named entry with certificate C, scored by expert2.
MATRIX = [
    ("POST", "/api/v1/tokens", {}, {REST: 400}),
    ("GET", "/api/v1/me", None, {REST: 200}),
    ("GET", "/api/v1/programmes", None, {REST: 200}),
    ("GET", "/api/v1/programmes/excellent_team", None, {REST: 200}),
    ("GET", "/api/v1/calls", None, {REST: 200}),
    ("POST", "/api/v1/calls", {}, {"city": 400, REST: 403}),
    ("GET", "/api/v1/calls/{call}", None, {REST: 200}),
    ("GET", "/api/v1/calls/{call}/ranking", None, {"city": 200, REST: 403}),
    ("GET", "/api/v1/calls/{call}/rounds", None, {"city": 200, REST: 403}),
    ("GET", "/api/v1/calls/{call}/rounds/{round}", None, {"city": 200, REST: 403}),
    ("PUT", "/api/v1/calls/{call}/rounds/{round}", {"deadline": "soon"},
     {"city": 422, REST: 403}),
    ("POST", "/api/v1/calls/{call}/rounds/{round}/close", {}, {"city": 409, REST: 403}),
    ("POST", "/api/v1/calls/{call}/rounds/{round}/reopen", {}, {"city": 409, REST: 403}),
    ("GET", "/api/v1/results/{res}", None, {"city": 404, REST: 403}),
    ("POST", "/api/v1/results/{res}/verify", {}, {"city": 404, REST: 403}),
    ("POST", "/api/v1/applications/{R}/dispersion-waiver", {}, {"city": 400, REST: 403}),
    ("POST", "/api/v1/calls/{call}/award-proposals", {}, {"city": 409, REST: 403}),
    ("GET", "/api/v1/calls/{call}/review-sheets.xlsx", None, {"city": 200, REST: 403}),
    ("GET", "/api/v1/calls/{call}/ranking.xlsx", None, {"city": 200, REST: 403}),
    ("GET", "/api/v1/calls/{call}/invitations", None, {"city": 200, REST: 403}),
    ("POST", "/api/v1/calls/{call}/invitations", {}, {"city": 400, REST: 403}),
    ("GET", "/api/v1/invitations", None, {"expert1": 200, "expert2": 200, REST: 403}),
    ("POST", "/api/v1/invitations/{res}/answer", {}, {"expert1": 404, "expert2": 404,
                                                      REST: 403}),
    ("GET", "/api/v1/calls/{call}/panels", None, {"city": 200, REST: 403}),
    ("POST", "/api/v1/calls/{call}/panels", {}, {"city": 400, REST: 403}),
    ("POST", "/api/v1/panels/{res}/assign", {}, {"city": 404, REST: 403}),
    ("POST", "/api/v1/panels/{res}/draw", {}, {"anonymous": 401, REST: 404}),
    ("POST", "/api/v1/panels/{res}/open", {}, {"anonymous": 401, REST: 404}),
    ("GET", "/api/v1/panels/{res}/live", None, {"anonymous": 401, REST: 404}),
    ("GET", "/api/v1/award-proposals/{res}", None, {"city": 404, REST: 403}),
    ("POST", "/api/v1/award-proposals/{res}/confirm", {}, {"city": 404, REST: 403}),
    ("GET", "/api/v1/applications", None, {REST: 200}),
    ("POST", "/api/v1/applications", {}, {"wj1": 400, "wj2": 400, "tn1": 400, REST: 403}),
    ("GET", "/api/v1/applications/{D}", None, {"wj1": 200, REST: 403}),
    ("GET", "/api/v1/applications/{R}", None,
     {"wj2": 200, "wj_admin": 200, "city": 200, "expert1": 200, REST: 403}),
    ("PATCH", "/api/v1/applications/{D}", {}, {"wj1": 400, REST: 403}),
    ("PATCH", "/api/v1/applications/{R}", {}, {REST: 403}),
    ("POST", "/api/v1/applications/{R}/transitions", {},
     {"wj2": 400, "wj_admin": 400, "city": 400, "expert1": 400, REST: 403}),
    ("POST", "/api/v1/applications/{D}/attachments", None, {"wj1": 400, REST: 403}),
    ("GET", "/api/v1/applications/{D}/attachments/{att_D}", None,
     {"wj1": 200, REST: 403}),
    ("GET", "/api/v1/applications/{R}/attachments/{att_R}", None,
     {"wj2": 200, "wj_admin": 200, "city": 200, "expert1": 200, REST: 403}),
    ("DELETE", "/api/v1/applications/{D}/attachments/999999", None, {"wj1": 404, REST: 403}),
    ("GET", "/api/v1/applications/{N}/certificates/{C}/pdf", None,
     {"tn1": 200, "tn_admin": 200, "city": 200, "expert2": 200, REST: 403}),
    ("GET", "/api/v1/certificates/{code}", None, {REST: 200, "anonymous": 200}),
    ("POST", "/api/v1/certificates/{C}/revoke", {}, {"city": 400, REST: 403}),
    ("GET", "/api/v1/calls/{call}/certificates.zip", None, {"city": 200, REST: 403}),
    ("GET", "/api/v1/calls/{call}/recommended.zip", None, {"city": 409, REST: 403}),
    ("GET", "/api/v1/notices", None, {REST: 200}),
    ("POST", "/api/v1/applications/{R}/objections", {}, {REST: 400}),
    ("GET", "/api/v1/objections/no-such-receipt", None, {REST: 404}),
    ("GET", "/api/v1/calls/{call}/objections", None, {"city": 200, REST: 403}),
    ("POST", "/api/v1/objections/{res}/decide", {}, {"city": 404, REST: 403}),
    ("POST", "/api/v1/calls/{call}/certificates/print", {"order": "by size"},
     {"city": 422, REST: 403}),
    ("GET", "/api/v1/jobs/{res}/file", None, {"city": 404, "wj_admin": 404, "tn_admin": 404,
                                               REST: 403}),
    ("POST", "/api/v1/calls/{call}/certificates/issue", {}, {"city": 409, REST: 403}),
    ("GET", "/api/v1/jobs/{res}", None, {"city": 404, "wj_admin": 404, "tn_admin": 404,
                                         REST: 403}),
    ("GET", "/api/v1/calls/{call}/applications.xlsx", None, ADMINS_200),
    ("GET", "/api/v1/calls/{call}/summary.xlsx", None, ADMINS_200),
    ("GET", "/api/v1/calls/{call}/notice.xlsx", None,  # N's notice is over: nothing to list
     {"city": 409, "wj_admin": 409, "tn_admin": 409, REST: 403}),
    ("GET", "/api/v1/applications/{D}/print.pdf", None, {"wj1": 200, REST: 403}),
    ("GET", "/api/v1/applications/{R}/print.pdf", None,  # expert1 may open R, not print it
     {"wj2": 200, "wj_admin": 200, "city": 200, REST: 403}),
    ("POST", "/api/v1/calls/{call}/dossiers", None,
     {"city": 202, "wj_admin": 202, "tn_admin": 202, REST: 403}),
    ("POST", "/api/v1/calls/{call}/application-exports", None,
     {"city": 202, "wj_admin": 202, "tn_admin": 202, REST: 403}),
    ("POST", "/api/v1/certificates/{C}/reissue", {}, {"city": 400, REST: 403}),
    ("GET", "/api/v1/applications/{R}/assignments", None, {"city": 200, REST: 403}),
    ("POST", "/api/v1/applications/{R}/assignments", {}, {"city": 400, REST: 403}),
    ("GET", "/api/v1/reviews", None, {"expert1": 200, "expert2": 200, REST: 403}),
    ("GET", "/api/v1/reviews/{S}", None, {"expert1": 200, "city": 200, REST: 403}),
    ("PUT", "/api/v1/reviews/{S}", {}, {"expert1": 400, REST: 403}),
    ("POST", "/api/v1/reviews/{S}/conflict", {}, {"expert1": 400, REST: 403}),
    ("POST", "/api/v1/calls/{call}/auto-assign", {}, {"city": 200, REST: 403}),
    ("POST", "/api/v1/reviews/{S}/reopen", {}, {"city": 400, REST: 403}),
    ("POST", "/api/v1/reviews/{S}/withdraw", {}, {"city": 400, REST: 403}),
    ("POST", "/api/v1/bulk-transitions", {},
     {"city": 400, "wj_admin": 400, "tn_admin": 400, REST: 403}),
    ("GET", "/api/v1/notifications", None, {REST: 200}),
    ("POST", "/api/v1/notifications/{res}/read", {}, {REST: 404}),
    ("POST", "/api/v1/notifications/read-all", {}, {REST: 200}),
    ("GET", "/api/v1/openapi.json", None, {REST: 200, "anonymous": 200}),
    ("DELETE", "/api/v1/tokens", None, {REST: 204}),  # last: it ends the token
]
PUBLIC = {("POST", "/api/v1/tokens"), ("GET", "/api/v1/certificates/{code}"),
          ("GET", "/api/v1/openapi.json"), ("GET", "/api/v1/notices"),
          ("POST", "/api/v1/applications/{R}/objections"),
          ("GET", "/api/v1/objections/no-such-receipt")}


def expected(method, path, statuses, role):
    """The status a role should get: 401 without a token except on public routes."""
    if role == "anonymous" and (method, path) not in PUBLIC:
        return 401
    return statuses.get(role, statuses[REST])


@pytest.fixture
def scene(world, make_application):
    """D, R, S, N and C as described above the matrix."""
    users = world["users"]
    draft = make_application("wj1", name="甲队")
    review = make_application("wj2", name="乙队")
    fire(review, "submit", users["wj2"])
    fire(review, "recommend", users["wj_admin"], data={"rank": 1, "opinion": "推荐"})
    sheet = confirmed(assign_expert(review, users["expert1"], users["city"]))
    named = make_application("tn1", name="丙队")
    fire(named, "submit", users["tn1"])
    fire(named, "recommend", users["tn_admin"], data={"rank": 1, "opinion": "推荐"})
    save_review(confirmed(assign_expert(named, users["expert2"], users["city"])), users["expert2"],
                SCORES, "", submit=True)
    fire(named, "publish_notice", users["city"])
    fire(named, "name_team", users["city"])
    db.session.commit()
    certificate = db.session.scalar(select(Certificate))
    return {"call": world["call"].id, "D": draft.id, "R": review.id, "S": sheet.id,
            "N": named.id, "C": certificate.id, "code": certificate.code,
            "att_D": draft.attachments[0].id, "att_R": review.attachments[0].id,
            "res": 999999, "round": "city_review"}


def test_the_matrix_covers_every_api_route(app):
    routes = {(method, openapi_path(rule.rule)) for rule in app.url_map.iter_rules()
              if rule.rule.startswith("/api/v1")
              for method in rule.methods - {"HEAD", "OPTIONS"}}
    covered = {(method, _template(path)) for method, path, _body, _statuses in MATRIX}
    assert routes == covered


def _template(path):
    """A matrix path with its placeholders named like the route's."""
    names = {"{call}": "{call_id}", "{D}": "{application_id}", "{R}": "{application_id}",
             "{N}": "{application_id}", "{S}": "{review_id}", "{C}": "{certificate_id}",
             "{att_D}": "{attachment_id}", "{att_R}": "{attachment_id}",
             "999999": "{attachment_id}", "excellent_team": "{key}", "{res}": "{result_id}",
             "award-proposals/{result_id}": "award-proposals/{proposal_id}",
             "invitations/{result_id}": "invitations/{invitation_id}",
             "panels/{result_id}": "panels/{panel_id}",
             "jobs/{result_id}": "jobs/{job_id}",
             "objections/{result_id}": "objections/{objection_id}",
             "notifications/{result_id}": "notifications/{notification_id}",
             "no-such-receipt": "{receipt}",
             "{round}": "{name}"}
    for short, long in names.items():
        path = path.replace(short, long)
    return path


@pytest.mark.parametrize("role", ROLES)
def test_each_role_gets_the_expected_status_on_every_route(api, scene, role):
    caller = api.anonymous if role == "anonymous" else api.login(role)
    outcomes = []
    for method, path, body, statuses in MATRIX:
        url = path.format(**scene)
        response = caller.request(method, url, json=body) if body is not None \
            else caller.request(method, url)
        outcomes.append((method, path, response.status_code, expected(method, path, statuses,
                                                                      role)))
    assert [o for o in outcomes if o[2] != o[3]] == []


def test_an_applicant_cannot_reach_another_applicants_entry(api, make_application):
    application = make_application("wj1")
    other = api.login("wj2")
    base = f"/api/v1/applications/{application.id}"
    assert problem(other.get(base), 403)["message"] == "您无权查看该申报"
    attachment = application.attachments[0].id
    assert problem(other.get(f"{base}/attachments/{attachment}"), 403)
    assert problem(other.patch(base, json={"data": {"team_name": "抢注"}}), 403)
    assert problem(other.post(f"{base}/transitions", json={"trigger": "withdraw"}), 403)
    db.session.expire_all()
    stored = db.session.get(Application, application.id)
    assert (stored.state, stored.title) == ("draft", "湖塘太极拳队")


def test_a_district_cannot_act_on_another_districts_entry(api, make_application):
    application = make_application("tn1")
    fire(application, "submit", application.applicant)
    db.session.commit()
    wj_admin = api.login("wj_admin")
    base = f"/api/v1/applications/{application.id}"
    assert problem(wj_admin.get(base), 403)
    assert problem(wj_admin.post(f"{base}/transitions", json={
        "trigger": "recommend", "data": {"rank": 1, "opinion": "推荐"}}), 403)
    tn_admin = api.login("tn_admin")
    moves = tn_admin.get(base).get_json()["available_transitions"]
    assert "recommend" in {m["trigger"] for m in moves}
    db.session.expire_all()
    assert db.session.get(Application, application.id).state == "district_review"


def test_an_expert_sees_only_assigned_entries_and_sheets(api, world, make_application):
    users = world["users"]
    application = make_application("wj1")
    fire(application, "submit", users["wj1"])
    fire(application, "recommend", users["wj_admin"], data={"rank": 1, "opinion": "推荐"})
    sheet = confirmed(assign_expert(application, users["expert1"], users["city"]))
    db.session.commit()
    expert2 = api.login("expert2")
    assert expert2.get("/api/v1/reviews").get_json() == []
    assert problem(expert2.get(f"/api/v1/reviews/{sheet.id}"), 403)
    assert problem(expert2.put(f"/api/v1/reviews/{sheet.id}", json={"scores": SCORES}), 403)
    assert problem(expert2.get(f"/api/v1/applications/{application.id}"), 403)
    assert expert2.get("/api/v1/applications").get_json()["total"] == 0
    expert1 = api.login("expert1")
    shown = expert1.get(f"/api/v1/applications/{application.id}").get_json()
    assert shown["score"] is None  # experts see the mean only once the entry is final


def test_applicants_see_their_score_only_when_final(api, world, make_application):
    users = world["users"]
    application = make_application("wj1")
    fire(application, "submit", users["wj1"])
    fire(application, "recommend", users["wj_admin"], data={"rank": 1, "opinion": "推荐"})
    sheet = confirmed(assign_expert(application, users["expert1"], users["city"]))
    save_review(sheet, users["expert1"], SCORES, "", submit=True)
    db.session.commit()
    url = f"/api/v1/applications/{application.id}"
    assert api.login("wj1").get(url).get_json()["score"] is None
    assert api.login("city").get(url).get_json()["score"] == 85
    assert api.login("wj_admin").get(url).get_json()["score"] == 85
    fire(application, "decline", users["city"], comment="分数不足")
    db.session.commit()
    assert api.login("wj1").get(url).get_json()["score"] == 85
