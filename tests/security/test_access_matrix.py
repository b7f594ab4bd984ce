"""Every route × every role: who gets in, who is refused. Fails when a route is missing here.

Each route is called once per role with the objects of one scene (an entry in city review, a
draft, a named entry with its certificate). The outcome is one of:
  ok      — let in: neither 401/403 nor a redirect to the login page (input errors count as ok,
            since they come after the permission check)
  login   — sent to log in (HTML: 302 to /login; API: 401)
  denied  — 403
"""

from __future__ import annotations

import io
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import select

from app.engine.runtime import fire
from app.extensions import db
from app.models import Certificate
from app.services.accounts import issue_token
from app.services.applications import create_application
from app.services.attachments import store_attachment
from app.services.demo import SAMPLE_PDF
from app.services.panels import create_panel
from app.services.reviews import assign_expert, save_review
from tests.conftest import confirmed, csrf_from, login
from tests.security.test_headers import header_problems

ROLES = {  # matrix column → username (None: anonymous)
    "anon": None, "owner": "wj1", "applicant": "wj2", "district": "wj_admin",
    "other_district": "tn_admin", "city": "city", "expert": "expert1", "other_expert": "expert2",
}
ALL = set(ROLES)
USERS = ALL - {"anon"}
APPLICANTS = {"owner", "applicant"}
VIEWERS = {"owner", "district", "city", "expert"}  # who may open the entry in city review
ADMINS = {"city", "district", "other_district"}  # a call's exports: each for their own reach

# endpoint → {method: set of roles let in}; the rest are refused (login for anon, else 403).
HTML: dict[str, dict[str, set[str]]] = {
    "public.home": {"GET": ALL},
    "public.verify": {"GET": ALL},
    "public.verify_search": {"GET": ALL},
    "public.notices_page": {"GET": ALL},
    "public.objection_form": {"GET": ALL, "POST": ALL},
    "public.objection_status": {"GET": ALL},
    "admin.call_objections": {"GET": {"city"}},
    "admin.decide_objection": {"POST": {"city"}},
    "admin.objection_evidence": {"GET": {"city"}},
    "admin.recommended_dossiers": {"GET": {"city"}},
    "admin.call_exports": {"GET": ADMINS},
    "admin.export_applications": {"GET": ADMINS},
    "admin.export_summary": {"GET": ADMINS},
    "admin.export_notice": {"GET": ADMINS},
    "admin.start_dossiers": {"POST": ADMINS},
    "admin.start_application_export": {"POST": ADMINS},
    "admin.dossier_job": {"GET": ADMINS},
    "admin.dossier_job_file": {"GET": ADMINS},
    "auth.login": {"GET": ALL, "POST": ALL},
    "auth.login_code": {"GET": ALL, "POST": ALL},  # without a pending login: back to log in
    "auth.login_enrol": {"GET": ALL, "POST": ALL},
    "auth.account_totp": {"GET": USERS, "POST": USERS},
    "auth.logout": {"POST": USERS},
    "auth.password": {"GET": USERS, "POST": USERS},
    "auth.language": {"POST": ALL},
    "auth.forgot_password": {"GET": ALL, "POST": ALL},
    "auth.reset_password": {"GET": ALL, "POST": ALL},
    "applicant.home": {"GET": APPLICANTS},
    "applicant.apply": {"POST": APPLICANTS},
    "applications.detail": {"GET": VIEWERS},
    "applications.attachment": {"GET": VIEWERS},
    "applications.print_pdf": {"GET": {"owner", "district", "city"}},
    "applications.certificate": {"GET": {"owner", "district", "city", "expert"}},
    "applications.edit": {"GET": {"owner"}, "POST": {"owner"}},
    "applications.transition": {"GET": {"city"}, "POST": {"city"}},
    "district.home": {"GET": {"district", "other_district"}},
    "district.call_overview_page": {"GET": {"district", "other_district"}},
    "admin.home": {"GET": {"city"}},
    "admin.audit": {"GET": {"city"}},
    "admin.security_events": {"GET": {"city"}},
    "admin.user_totp_reset": {"POST": {"city"}},
    "admin.people_import": {"GET": {"city"}, "POST": {"city"}},
    "admin.people_import_template": {"GET": {"city"}},
    "admin.people_import_preview": {"GET": {"city"}},
    "admin.people_import_confirm": {"POST": {"city"}},
    "admin.people_import_cancel": {"POST": {"city"}},
    "admin.people_import_credentials": {"POST": {"city"}},
    "admin.users": {"GET": {"city"}},
    "admin.user_edit": {"GET": {"city"}, "POST": {"city"}},
    "admin.user_active": {"POST": {"city"}},
    "admin.user_password": {"POST": {"city"}},
    "admin.organisations": {"GET": {"city"}, "POST": {"city"}},
    "admin.organisation_edit": {"GET": {"city"}, "POST": {"city"}},
    "admin.calendar": {"GET": {"city"}},
    "admin.call_overview_page": {"GET": {"city"}},
    "admin.outbox": {"GET": {"city"}},
    "admin.retry_mail": {"POST": {"city"}},
    "admin.notification_templates": {"GET": {"city"}},
    "admin.notification_template": {"GET": {"city"}, "POST": {"city"}},
    "admin.reset_notification_template": {"POST": {"city"}},
    "inbox.index": {"GET": USERS},
    "inbox.read": {"POST": USERS},
    "inbox.read_all": {"POST": USERS},
    "inbox.settings": {"GET": USERS, "POST": USERS},
    "admin.new_call": {"GET": {"city"}, "POST": {"city"}},
    "admin.call": {"GET": {"city"}},
    "admin.bulk": {"POST": {"city"}},
    "admin.call_ranking": {"GET": {"city"}},
    "admin.assign": {"POST": {"city"}},
    "admin.auto_assign": {"GET": {"city"}, "POST": {"city"}},
    "admin.reopen_sheet": {"POST": {"city"}},
    "admin.withdraw_sheet": {"POST": {"city"}},
    "admin.review_progress_page": {"GET": {"city"}},
    "admin.round_page": {"GET": {"city"}},
    "admin.round_deadline": {"POST": {"city"}},
    "admin.round_close": {"POST": {"city"}},
    "admin.round_reopen": {"POST": {"city"}},
    "admin.dispersion_waiver": {"POST": {"city"}},
    "admin.result_page": {"GET": {"city"}},
    "admin.result_verify": {"POST": {"city"}},
    "admin.propose": {"POST": {"city"}},
    "admin.award_proposal": {"GET": {"city"}},
    "admin.confirm_awards": {"POST": {"city"}},
    "admin.export_sheets": {"GET": {"city"}},
    "admin.call_certificates": {"GET": {"city"}},
    "admin.certificates_zip": {"GET": {"city"}},
    "admin.print_certificates": {"POST": {"city"}},
    "admin.job_file": {"GET": {"city"}},
    "admin.issue_certificates": {"POST": {"city"}},
    "admin.certificate_templates": {"GET": {"city"}},
    "admin.new_certificate_template": {"POST": {"city"}},
    "admin.certificate_template": {"GET": {"city"}, "POST": {"city"}},
    "admin.preview_certificate_template": {"GET": {"city"}, "POST": {"city"}},
    "admin.reset_certificate_template": {"POST": {"city"}},
    "admin.upload_template_asset": {"POST": {"city"}},
    "admin.save_issuer_seal": {"POST": {"city"}},
    "admin.delete_issuer_seal": {"POST": {"city"}},
    "admin.seal_image": {"GET": {"city"}},
    "admin.job_state": {"GET": {"city"}},
    "admin.revoke": {"POST": {"city"}},
    "admin.reissue": {"POST": {"city"}},
    "admin.export_ranking": {"GET": {"city"}},
    "admin.new_panel": {"POST": {"city"}},
    "admin.assign_to_panel": {"POST": {"city"}},
    "admin.call_experts": {"GET": {"city"}, "POST": {"city"}},
    "reviewer.live": {"GET": {"expert", "city"}},  # the panel's members and the city
    "reviewer.live_state": {"GET": {"expert", "city"}},
    "reviewer.live_draw": {"POST": {"expert", "city"}},
    "reviewer.live_open": {"POST": {"expert", "city"}},
    "reviewer.answer_invitation": {"POST": {"expert", "other_expert"}},
    "admin.programmes": {"GET": {"city"}},
    "admin.programme": {"GET": {"city"}},
    "reviewer.queue": {"GET": {"expert", "other_expert"}},
    "reviewer.sheet": {"GET": {"expert"}, "POST": {"expert"}},
    "reviewer.conflict": {"POST": {"expert"}},
}
API: dict[str, dict[str, set[str]]] = {
    "api.openapi": {"GET": ALL},
    "api.create_token": {"POST": ALL},
    "api.delete_token": {"DELETE": USERS},
    "api.verify_certificate": {"GET": ALL},
    "api.revoke_certificate": {"POST": {"city"}},
    "api.call_certificates_zip": {"GET": {"city"}},
    "api.print_call_certificates": {"POST": {"city"}},
    "api.call_recommended_dossiers": {"GET": {"city"}},
    "api.list_notices": {"GET": ALL},
    "api.raise_objection": {"POST": ALL},
    "api.objection_by_receipt": {"GET": ALL},
    "api.call_objections": {"GET": {"city"}},
    "api.decide_objection": {"POST": {"city"}},
    "api.job_file": {"GET": ADMINS},  # the city's jobs, a district's own export jobs
    "api.issue_call_certificates": {"POST": {"city"}},
    "api.job": {"GET": ADMINS},
    "api.export_applications": {"GET": ADMINS},
    "api.export_summary": {"GET": ADMINS},
    "api.export_notice": {"GET": ADMINS},
    "api.print_application": {"GET": {"owner", "district", "city"}},
    "api.start_dossiers": {"POST": ADMINS},
    "api.start_application_export": {"POST": ADMINS},
    "api.reissue_certificate": {"POST": {"city"}},
    "api.me": {"GET": USERS},
    "api.list_programmes": {"GET": USERS},
    "api.get_programme": {"GET": USERS},
    "api.list_calls": {"GET": USERS},
    "api.create_call": {"POST": {"city"}},
    "api.get_call": {"GET": USERS},
    "api.call_ranking": {"GET": {"city"}},
    "api.list_applications": {"GET": USERS},
    "api.create_application": {"POST": APPLICANTS},
    "api.get_application": {"GET": VIEWERS},
    "api.patch_application": {"PATCH": {"owner"}},
    "api.upload_attachments": {"POST": {"owner"}},
    "api.download_attachment": {"GET": VIEWERS},
    "api.remove_attachment": {"DELETE": {"owner"}},
    "api.certificate_pdf": {"GET": {"owner", "district", "city", "expert"}},
    "api.transition": {"POST": {"city"}},
    "api.list_assignments": {"GET": {"city"}},
    "api.create_assignment": {"POST": {"city"}},
    "api.auto_assign": {"POST": {"city"}},
    "api.reopen_review": {"POST": {"city"}},
    "api.withdraw_review": {"POST": {"city"}},
    "api.list_rounds": {"GET": {"city"}},
    "api.get_round": {"GET": {"city"}},
    "api.put_round": {"PUT": {"city"}},
    "api.close_round": {"POST": {"city"}},
    "api.reopen_round": {"POST": {"city"}},
    "api.get_result": {"GET": {"city"}},
    "api.verify_result": {"POST": {"city"}},
    "api.waive_dispersion": {"POST": {"city"}},
    "api.propose_awards": {"POST": {"city"}},
    "api.get_award_proposal": {"GET": {"city"}},
    "api.confirm_award_proposal": {"POST": {"city"}},
    "api.export_review_sheets": {"GET": {"city"}},
    "api.export_ranking": {"GET": {"city"}},
    "api.list_invitations": {"GET": {"city"}},
    "api.create_invitations": {"POST": {"city"}},
    "api.my_invitations": {"GET": {"expert", "other_expert"}},
    "api.answer_invitation": {"POST": {"expert", "other_expert"}},
    "api.list_panels": {"GET": {"city"}},
    "api.create_panel": {"POST": {"city"}},
    "api.assign_panel": {"POST": {"city"}},
    "api.draw_panel_order": {"POST": {"expert", "city"}},
    "api.open_panel_entry": {"POST": {"expert", "city"}},
    "api.get_panel_live": {"GET": {"expert", "city"}},
    "api.bulk_transition": {"POST": {"city", "district", "other_district"}},
    "api.list_reviews": {"GET": {"expert", "other_expert"}},
    "api.get_review": {"GET": {"expert", "city"}},  # the city sees every sheet
    "api.put_review": {"PUT": {"expert"}},
    "api.declare_conflict": {"POST": {"expert"}},
    "api.list_notifications": {"GET": USERS},
    "api.read_notification": {"POST": USERS},
    "api.read_all_notifications": {"POST": USERS},
}
MATRIX = {**HTML, **API}


@pytest.fixture
def scene(app: Flask, world: dict[str, Any], make_application) -> dict[str, Any]:
    """An entry in city review (expert1 assigned), a draft, a named entry with a certificate."""
    users = world["users"]
    reviewing = make_application("wj1", name="评审中的队")
    named = make_application("wj1", name="已命名的队")
    for entry in (reviewing, named):
        fire(entry, "submit", users["wj1"])
        fire(entry, "recommend", users["wj_admin"], data={"rank": 1, "opinion": "推荐"})
    sheet = confirmed(assign_expert(reviewing, users["expert1"], users["city"]))
    done = confirmed(assign_expert(named, users["expert1"], users["city"]))
    save_review(done, users["expert1"], {"organisation": 18, "resources": 12,
                                         "activities": 30, "impact": 25}, "", submit=True)
    fire(named, "publish_notice", users["city"])
    fire(named, "name_team", users["city"])
    panel = create_panel(world["call"], "city_review", "甲组", users["expert1"], [users["expert1"]],
                         users["city"])
    draft = create_application(world["call"], users["wj1"], {"team_name": "草稿队"})
    draft_file = store_attachment(draft, "charter", "章程.pdf", io.BytesIO(SAMPLE_PDF),
                                  users["wj1"])
    db.session.commit()
    return {
        "reviewing": reviewing, "draft": draft, "named": named, "sheet": sheet,
        "attachment": reviewing.attachments[0], "draft_attachment": draft_file,
        "certificate": db.session.scalars(select(Certificate)).one(),
        "call": world["call"], "panel": panel,
    }


def _values(endpoint: str, method: str, scene: dict[str, Any]) -> dict[str, Any]:
    """URL parameters for a route: the scene's objects, chosen per endpoint."""
    application = scene["reviewing"]
    attachment = scene["attachment"]
    if endpoint in {"applications.edit", "api.patch_application", "api.upload_attachments",
                    "api.remove_attachment"}:
        application, attachment = scene["draft"], scene["draft_attachment"]
    if endpoint in {"applications.certificate", "api.certificate_pdf"}:
        application = scene["named"]
    return {
        "application_id": application.id, "attachment_id": attachment.id,
        "certificate_id": scene["certificate"].id, "assignment_id": scene["sheet"].id,
        "review_id": scene["sheet"].id, "call_id": scene["call"].id, "key": "excellent_team",
        "trigger": "publish_notice", "code": scene["certificate"].code, "filename": "app.css",
        "name": "city_review", "result_id": 999999, "proposal_id": 999999,
        "panel_id": scene["panel"].id, "invitation_id": 999999, "job_id": 999999,
        "seal_id": 999999, "objection_id": 999999, "receipt": "no-such-receipt",
        "token": "no-such-token",
        "user_id": 999999, "org_id": 999999,
        "message_id": 999999, "notification_id": 999999, "event": "submitted",
    }


API_BODIES = {
    "api.transition": {"trigger": "publish_notice"},
    "api.create_assignment": {"expert": "expert2"},
    "api.bulk_transition": {"application_ids": [], "trigger": "publish_notice", "dry_run": True},
    "api.put_review": {"scores": {}, "comment": "", "submit": False},
    "api.patch_application": {"data": {}},
}


def _call(client: FlaskClient, token: str | None, endpoint: str, method: str, url: str) -> Any:
    """Make one request the way that kind of client would."""
    if endpoint.startswith("api."):
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        body = API_BODIES.get(endpoint, {}) if method in {"POST", "PUT", "PATCH"} else None
        return client.open(url, method=method, json=body, headers=headers)
    if method == "POST":
        page = client.get("/account/password") if token else client.get("/login")
        if page.status_code != 200:
            page = client.get("/login")
        return client.post(url, data={"csrf_token": csrf_from(page.get_data(as_text=True))})
    return client.get(url)


def _outcome(response: Any, endpoint: str) -> str:
    """Classify a response as ok, login or denied (and close its file, if it streams one)."""
    response.close()
    if response.status_code == 401:
        return "login"
    if response.status_code == 403:
        return "denied"
    if response.status_code in (301, 302, 303) and "/login" in response.headers["Location"] \
            and endpoint not in {"auth.login", "auth.language", "auth.login_code",
                                 "auth.login_enrol"}:
        return "login"
    return "ok"


def test_every_route_is_in_the_matrix(app: Flask):
    routes = {(rule.endpoint, method) for rule in app.url_map.iter_rules()
              if rule.endpoint != "static" for method in rule.methods - {"HEAD", "OPTIONS"}}
    listed = {(endpoint, method) for endpoint, methods in MATRIX.items() for method in methods}
    assert routes - listed == set(), "routes missing from the access matrix"
    assert listed - routes == set(), "the matrix lists routes that do not exist"


def test_each_role_gets_exactly_what_the_matrix_says(app: Flask, world, scene):
    """…and every response, whatever its status (pages, JSON, files, PDFs, redirects, errors),
    carries the security headers."""
    clients, tokens = {}, {}
    for role, username in ROLES.items():
        clients[role] = app.test_client()
        if username:
            assert login(clients[role], username).status_code == 302
            tokens[role] = issue_token(world["users"][username])
            db.session.commit()  # release SQLite's write lock before the next login request
    wrong, headers = [], []  # wrong outcomes; responses without the security headers
    for rule in app.url_map.iter_rules():
        if rule.endpoint == "static":
            continue
        for method in sorted(rule.methods - {"HEAD", "OPTIONS"}):
            allowed = MATRIX[rule.endpoint][method]
            url = rule.build(_values(rule.endpoint, method, scene), append_unknown=False)[1]
            for role in ROLES:
                if rule.endpoint in {"auth.logout", "api.delete_token"} and role != "anon":
                    continue  # checked last, so the other rows keep their sessions
                expected = "ok" if role in allowed else ("login" if role == "anon" else "denied")
                response = _call(clients[role], tokens.get(role), rule.endpoint, method, url)
                headers.extend(f"{method} {url} as {role}: {problem}"
                               for problem in header_problems(response))
                got = _outcome(response, rule.endpoint)
                if got != expected:
                    wrong.append(f"{method} {url} as {role}: expected {expected}, got {got}")
                db.session.rollback()
    for role in USERS:
        got = _outcome(_call(clients[role], tokens[role], "api.delete_token", "DELETE",
                             "/api/v1/tokens"), "api.delete_token")
        if got != "ok":
            wrong.append(f"DELETE /api/v1/tokens as {role}: expected ok, got {got}")
    assert not wrong, "\n" + "\n".join(wrong)
    assert not headers, "\n" + "\n".join(headers)
