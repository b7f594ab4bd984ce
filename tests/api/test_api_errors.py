"""Tokens, and errors as JSON {error, message, details} with the right status."""

from __future__ import annotations

import io

from sqlalchemy import select

from app.extensions import db
from app.models import ApiToken, Application, LoginAttempt
from app.services.demo import SAMPLE_PDF
from tests.api.conftest import problem
from tests.conftest import login, team_data


def test_token_carries_the_user_and_its_expiry(api, world):
    response = api.anonymous.post("/api/v1/tokens",
                                  json={"username": "wj_admin", "password": "correct-horse-1"})
    assert response.status_code == 201
    body = response.get_json()
    assert body["token_type"] == "Bearer"
    assert body["user"] == {"username": "wj_admin", "name": "", "role": "district_admin",
                            "org": {"code": "WJ", "name": "武进区", "kind": "district",
                                    "district": "WJ"}}
    stored = db.session.scalar(select(ApiToken))
    assert body["expires_at"] == stored.expires_at.isoformat()
    assert body["token"] not in stored.token_hash  # only the hash is kept
    assert response.headers["Cache-Control"] == "no-store"
    assert "Set-Cookie" not in response.headers  # tokens only, no session


def test_wrong_password_is_401_and_repeated_failures_are_429(api, world):
    for _ in range(5):
        body = problem(api.anonymous.post("/api/v1/tokens",
                                          json={"username": "wj1", "password": "nope"}), 401)
        assert body["error"] == "unauthorized"
    assert db.session.scalar(select(LoginAttempt).filter_by(succeeded=False)) is not None
    limited = api.anonymous.post("/api/v1/tokens",
                                 json={"username": "wj1", "password": "correct-horse-1"})
    assert problem(limited, 429)["error"] == "too_many_attempts"
    assert limited.headers["Retry-After"] == "900"


def test_calls_without_a_valid_bearer_token_are_401(api, world):
    for headers in ({}, {"Authorization": "Bearer not-a-token"},
                    {"Authorization": "Basic d2oxOmNvcnJlY3QtaG9yc2UtMQ=="}):
        response = api.anonymous.get("/api/v1/applications", headers=headers)
        assert problem(response, 401)["error"] == "unauthorized"
        assert response.headers["WWW-Authenticate"].startswith("Bearer")


def test_a_browser_session_is_not_an_api_login(api, world, client):
    assert login(client, "wj1").status_code == 302  # logged in, with a session cookie
    assert problem(client.get("/api/v1/me"), 401)


def test_logout_revokes_the_token(api, world):
    wj1 = api.login("wj1")
    assert wj1.get("/api/v1/me").get_json()["username"] == "wj1"
    assert wj1.delete("/api/v1/tokens").status_code == 204
    assert problem(wj1.get("/api/v1/me"), 401)


def test_malformed_bodies_are_400_and_wrong_kinds_422(api, world):
    city = api.login("city")
    raw = {"headers": {"Content-Type": "application/json"}}
    assert problem(city.post("/api/v1/calls", data="{not json", **raw), 400)["error"] \
        == "bad_request"
    assert problem(city.post("/api/v1/calls", data="[1, 2]", **raw), 400)
    assert problem(city.post("/api/v1/calls", data="", **raw), 400)
    missing = problem(city.post("/api/v1/calls", json={"programme": "excellent_team"}), 400)
    assert set(missing["details"]) == {"title", "year", "opens_at", "closes_at", "quotas"}
    wrong = problem(city.post("/api/v1/calls", json={
        "programme": "excellent_team", "title": "T", "year": "2027", "opens_at": "yesterday",
        "closes_at": "2027-01-01T00:00:00Z", "quotas": []}), 422)
    assert set(wrong["details"]) == {"year", "quotas"}
    bad_time = problem(city.post("/api/v1/calls", json={
        "programme": "excellent_team", "title": "T", "year": 2027, "opens_at": "yesterday",
        "closes_at": "2027-01-01T00:00:00Z", "quotas": {"WJ": -1, "ZZ": 1}}), 422)
    assert set(bad_time["details"]) == {"opens_at"}
    bad_quota = problem(city.post("/api/v1/calls", json={
        "programme": "excellent_team", "title": "T", "year": 2027,
        "opens_at": "2027-01-01T00:00:00Z", "closes_at": "2026-01-01T00:00:00Z",
        "quotas": {"WJ": -1, "ZZ": 1}}), 422)
    assert set(bad_quota["details"]) == {"closes_at", "quotas.WJ", "quotas.ZZ"}
    unknown = problem(city.post("/api/v1/calls", json={
        "programme": "nope", "title": "T", "year": 2027, "opens_at": "2027-01-01T00:00:00Z",
        "closes_at": "2027-02-01T00:00:00Z", "quotas": {}}), 422)
    assert unknown["details"] == {"programme": "没有这个项目"}


def test_unknown_paths_methods_and_objects_are_json(api, world):
    city = api.login("city")
    assert problem(city.get("/api/v1/nothing-here"), 404)["error"] == "not_found"
    assert problem(city.delete("/api/v1/calls"), 405)["error"] == "method_not_allowed"
    assert problem(city.get("/api/v1/applications/999999"), 404)["message"] == "申报不存在"
    assert problem(city.get("/api/v1/calls/2147483647000"), 404)
    assert problem(city.get("/api/v1/applications/1/attachments/99999999999"), 404)
    assert problem(city.post("/api/v1/applications/99999999999/transitions", json={}), 404)
    assert problem(city.get("/api/v1/reviews/5"), 404)
    # an id no column holds matches no route, whatever the method (it once gave 405 Allow: GET)
    assert problem(city.put("/api/v1/reviews/2147483648", json={}), 404)
    assert problem(city.post("/api/v1/certificates/99999999999/revoke", json={}), 404)
    assert problem(city.get("/api/v1/programmes/nope"), 404)
    assert problem(city.get("/api/v1/certificates/nope"), 404)


def test_bad_query_parameters_are_422(api, world):
    city = api.login("city")
    assert set(problem(city.get("/api/v1/applications?page=0"), 422)["details"]) == {"page"}
    assert problem(city.get("/api/v1/applications?call_id=x"), 422)
    assert problem(city.get("/api/v1/programmes/excellent_team?version=abc"), 422)


def test_too_large_uploads_are_413(api, app, make_application):
    application = make_application("wj1")
    wj1 = api.login("wj1")
    app.config["MAX_CONTENT_LENGTH"] = 2000
    response = wj1.post(f"/api/v1/applications/{application.id}/attachments",
                        content_type="multipart/form-data",
                        data={"charter": (io.BytesIO(b"%PDF-1.4" + b"x" * 5000), "big.pdf")})
    assert problem(response, 413)["error"] == "request_entity_too_large"


def test_uploads_are_all_or_nothing(api, app, make_application):
    from pathlib import Path

    application = make_application("wj1")
    folder = Path(app.config["UPLOAD_FOLDER"])
    before = sorted(p for p in folder.rglob("*") if p.is_file())
    response = api.login("wj1").post(
        f"/api/v1/applications/{application.id}/attachments", content_type="multipart/form-data",
        data={"charter": (io.BytesIO(SAMPLE_PDF), "new.pdf"),
              "photos": (io.BytesIO(SAMPLE_PDF), "photo.png")})
    assert set(problem(response, 422)["details"]) == {"photos"}
    assert sorted(p for p in folder.rglob("*") if p.is_file()) == before
    db.session.expire_all()
    assert [a.original_name for a in db.session.get(Application, application.id).attachments] \
        == ["章程.pdf"]


def test_uploads_need_a_file_and_a_known_field(api, make_application):
    application = make_application("wj1")
    wj1 = api.login("wj1")
    url = f"/api/v1/applications/{application.id}/attachments"
    assert problem(wj1.post(url, content_type="multipart/form-data", data={}), 400)
    unknown = problem(wj1.post(url, content_type="multipart/form-data",
                               data={"nope": (io.BytesIO(b"%PDF-1.4 x"), "a.pdf")}), 422)
    assert set(unknown["details"]) == {"nope"}
    disguised = problem(wj1.post(url, content_type="multipart/form-data",
                                 data={"charter": (io.BytesIO(b"MZ\x90\x00" * 20), "a.pdf")}),
                        422)
    assert set(disguised["details"]) == {"charter"}


def test_errors_are_english_when_the_client_asks_for_english(api, world):
    wj1 = api.login("wj1")
    created = wj1.post("/api/v1/applications", json={
        "call_id": world["call"].id, "data": team_data("湖塘太极拳队", "湖塘中心", "张三")})
    base = f"/api/v1/applications/{created.get_json()['id']}"
    bad = {"data": {"phone": "123"}}
    chinese = problem(wj1.patch(base, json=bad), 422)
    assert chinese["message"] == "表单填写有误，请检查标出的字段"
    assert chinese["details"]["phone"].startswith("电话号码格式不正确")
    for headers in ({"Accept-Language": "en-GB,en;q=0.9"}, {"Accept-Language": "en"}):
        english = problem(wj1.patch(base, json=bad, headers=headers), 422)
        assert english["message"] == ("Some fields are not filled in correctly; "
                                      "check the marked fields")
        assert english["details"]["phone"] == ("This is not a valid phone number "
                                               "(11-digit mobile, or area code-number)")
    assert problem(wj1.patch(f"{base}?lang=en", json=bad), 422)["details"]["phone"] \
        .startswith("This is not")
    reasons = wj1.get(base, headers={"Accept-Language": "en"}).get_json()[
        "available_transitions"][0]["reasons"]
    assert reasons[0].startswith("These required fields are not complete yet: ")
    # a Chinese (or unknown) Accept-Language keeps Chinese
    for language in ("zh-CN,zh;q=0.9,en;q=0.8", "fr"):
        assert problem(wj1.patch(base, json=bad, headers={"Accept-Language": language}),
                       422)["details"]["phone"].startswith("电话号码格式不正确")
