"""The whole programme through the API only: call, application, district, experts, certificate."""

from __future__ import annotations

import io
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

from pypdf import PdfReader
from sqlalchemy import select

from app.engine.runtime import fire
from app.extensions import db
from app.models import Application, Certificate
from app.services.demo import SAMPLE_PDF, team_data
from app.services.reviews import assign_expert, reopen_sheet, save_review, withdraw_assignment
from tests.api.conftest import problem
from tests.conftest import TEAM_SCORES, confirmed
from tests.statements import recorded

PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 64
SCORES_1 = {"organisation": 18, "resources": 12.5, "activities": 30, "impact": 25}
SCORES_2 = {"organisation": 17, "resources": 13, "activities": 31, "impact": 26.5}


def test_programme_runs_from_call_to_verified_certificate(api, world):
    users = api.as_users("city", "wj_admin", "expert1", "expert2", "wj1", "wj2")
    city, district, wj1 = users["city"], users["wj_admin"], users["wj1"]

    call = _open_call(city)
    app_id = _prepare_application(wj1, call["id"])
    assert wj1.post(f"/api/v1/applications/{app_id}/transitions",
                    json={"trigger": "submit"}).get_json()["state"] == "district_review"
    rival = _submitted_rival(users["wj2"], call["id"])

    _recommend_within_quota(district, app_id, rival)
    _review_by_two_experts(city, users["expert1"], users["expert2"], app_id)
    for trigger, state in (("publish_notice", "notice"), ("name_team", "named")):
        moved = city.post(f"/api/v1/applications/{app_id}/transitions",
                          json={"trigger": trigger})
        assert moved.status_code == 200, moved.get_json()
        assert moved.get_json()["state"] == state

    _check_certificate(api, wj1, app_id)
    ranking = city.get(f"/api/v1/calls/{call['id']}/ranking").get_json()
    assert [(r["rank"], r["application"]["id"], r["score"]) for r in ranking] == \
        [(1, app_id, 86.5)]


def _open_call(city):
    """City admin opens a call; a naive time is read as Beijing time."""
    closes = (datetime.now(UTC) + timedelta(days=30)).astimezone(ZoneInfo("Asia/Shanghai"))
    response = city.post("/api/v1/calls", json={
        "programme": "excellent_team", "title": "2027年度X市社区教育优秀团队遴选", "year": 2027,
        "opens_at": "2020-01-01T09:00:00", "closes_at": closes.isoformat(),
        "quotas": {"WJ": 1, "TN": 1}, "description": "每区 1 个名额"})
    assert response.status_code == 201, response.get_json()
    call = response.get_json()
    assert call["opens_at"] == "2020-01-01T01:00:00+00:00"
    assert call["open"] is True and call["quotas"] == {"TN": 1, "WJ": 1}
    listed = city.get("/api/v1/calls").get_json()
    assert call["id"] in [c["id"] for c in listed]
    return call


def _prepare_application(wj1, call_id):
    """Applicant creates a draft, fails one patch (nothing lost), fixes it, uploads files."""
    data = team_data("湖塘太极拳队", "湖塘中心", "张三")
    created = wj1.post("/api/v1/applications", json={"call_id": call_id, "data": data})
    assert created.status_code == 201, created.get_json()
    application = created.get_json()
    app_id, base = application["id"], f"/api/v1/applications/{application['id']}"
    assert application["state"] == "draft" and application["title"] == "湖塘太极拳队"
    submit = {t["trigger"]: t for t in application["available_transitions"]}["submit"]
    assert submit["allowed"] is False and "团队章程" in submit["reasons"][0]

    refused = problem(wj1.patch(base, json={"data": {"member_count": 3, "phone": "123",
                                                     "leader": "李四"}}), 422)
    assert set(refused["details"]) == {"member_count", "phone"}
    kept = wj1.get(base).get_json()["data"]
    assert kept["member_count"] == 12 and kept["leader"] == "张三"

    patched = wj1.patch(base, json={"data": {"weekly_hours": "4.5", "email": None},
                                    "version": application["version"]})
    assert patched.status_code == 200, patched.get_json()
    assert patched.get_json()["data"]["weekly_hours"] == 4.5
    assert "email" not in patched.get_json()["data"]

    uploaded = wj1.post(f"{base}/attachments", content_type="multipart/form-data", data={
        "charter": (io.BytesIO(SAMPLE_PDF), "章程.pdf"),
        "photos": [(io.BytesIO(PNG), "a.png"), (io.BytesIO(PNG), "b.png")]})
    assert uploaded.status_code == 201, uploaded.get_json()
    assert sorted((a["field"], a["name"]) for a in uploaded.get_json()) == [
        ("charter", "章程.pdf"), ("photos", "a.png"), ("photos", "b.png")]
    charter = next(a for a in uploaded.get_json() if a["field"] == "charter")
    download = wj1.get(charter["url"])
    assert download.status_code == 200 and download.data == SAMPLE_PDF
    return app_id


def _submitted_rival(wj2, call_id):
    """A second entry of the same district, submitted."""
    created = wj2.post("/api/v1/applications", json={
        "call_id": call_id, "data": team_data("牛塘锡剧团", "牛塘中心", "刘美华")}).get_json()
    base = f"/api/v1/applications/{created['id']}"
    wj2.post(f"{base}/attachments", content_type="multipart/form-data",
             data={"charter": (io.BytesIO(SAMPLE_PDF), "charter.pdf")})
    version = wj2.get(base).get_json()["version"]
    submitted = wj2.post(f"{base}/transitions", json={"trigger": "submit", "version": version})
    assert submitted.status_code == 200, submitted.get_json()
    return created["id"]


def _recommend_within_quota(district, app_id, rival):
    """The district recommends one entry; the second one is beyond the quota of 1."""
    listed = district.get("/api/v1/applications?state=district_review").get_json()
    assert {item["id"] for item in listed["items"]} == {app_id, rival}
    recommend = {"trigger": "recommend", "data": {"rank": 1, "opinion": "推荐"}}
    moved = district.post(f"/api/v1/applications/{app_id}/transitions", json=recommend)
    assert moved.status_code == 200, moved.get_json()
    assert moved.get_json()["history_entry"]["data"] == {"rank": 1, "opinion": "推荐"}
    refused = problem(district.post(f"/api/v1/applications/{rival}/transitions",
                                    json={**recommend, "data": {"rank": 2, "opinion": "也推荐"}}),
                      422)
    assert refused["error"] == "guards_failed"
    assert "名额为 1 个，已推荐 1 个" in refused["details"]["reasons"][0]
    stored = db.session.get(Application, rival)
    db.session.refresh(stored)
    assert stored.state == "district_review"


def _review_by_two_experts(city, expert1, expert2, app_id):
    """City assigns two experts; each scores, one drafts first; a submitted sheet is locked."""
    for name in ("expert1", "expert2"):
        assigned = city.post(f"/api/v1/applications/{app_id}/assignments", json={"expert": name})
        assert assigned.status_code == 201, assigned.get_json()
        assert assigned.get_json()["status"] == "assigned"
    blocked = city.get(f"/api/v1/applications/{app_id}").get_json()["available_transitions"]
    assert not {t["trigger"]: t for t in blocked}["publish_notice"]["allowed"]

    sheets = expert1.get("/api/v1/reviews").get_json()
    assert [s["application"]["id"] for s in sheets] == [app_id]
    sheet_url = f"/api/v1/reviews/{sheets[0]['id']}"
    assert [c["key"] for c in sheets[0]["rubric"]["criteria"]] == list(SCORES_1)
    assert problem(expert1.get(f"/api/v1/applications/{app_id}"), 403)  # materials still shut
    assert problem(expert1.put(sheet_url, json={"scores": {"organisation": 18}}), 409)
    confirmed = expert1.post(f"{sheet_url}/conflict", json={"conflict": False})
    assert confirmed.status_code == 200 and confirmed.get_json()["conflict"]["declared"] is False
    assert expert1.get(f"/api/v1/applications/{app_id}").status_code == 200
    draft = expert1.put(sheet_url, json={"scores": {"organisation": 18}, "comment": "初评"})
    assert draft.get_json()["status"] == "draft" and draft.get_json()["total"] == 18
    done = expert1.put(sheet_url, json={"scores": SCORES_1, "comment": "好", "submit": True})
    assert done.status_code == 200 and done.get_json()["total"] == 85.5
    assert done.get_json()["locked"] is True
    assert problem(expert1.put(sheet_url, json={"scores": SCORES_1, "submit": True}), 409)

    other = expert2.get("/api/v1/reviews").get_json()[0]
    expert2.post(f"/api/v1/reviews/{other['id']}/conflict", json={"conflict": False})
    assert expert2.put(f"/api/v1/reviews/{other['id']}",
                       json={"scores": SCORES_2, "submit": True}).status_code == 200
    listed = city.get(f"/api/v1/applications/{app_id}/assignments").get_json()
    assert sorted((a["expert"], a["status"], a["total"]) for a in listed) == [
        ("expert1", "submitted", 85.5), ("expert2", "submitted", 87.5)]


def _check_certificate(api, wj1, app_id):
    """The applicant sees the certificate; the PDF and public verification show the holder."""
    application = wj1.get(f"/api/v1/applications/{app_id}").get_json()
    assert application["state"] == "named" and application["final"] is True
    assert application["score"] == 86.5
    assert [h["trigger"] for h in application["history"]] == [
        "create", "submit", "recommend", "publish_notice", "name_team"]
    [certificate] = application["certificates"]
    stored = db.session.scalar(select(Certificate).where(Certificate.application_id == app_id))
    assert certificate["serial"] == stored.serial == "YXTD-2027-0001"
    assert certificate["verify_url"] == f"http://pingshen.test/verify/{stored.code}"

    pdf = wj1.get(certificate["pdf_url"])
    assert pdf.status_code == 200 and pdf.mimetype == "application/pdf"
    text = "".join(page.extract_text() for page in PdfReader(io.BytesIO(pdf.data)).pages)
    assert "YXTD-2027-0001" in text

    facts = api.anonymous.get(f"/api/v1/certificates/{certificate['code']}")
    assert facts.status_code == 200
    assert facts.get_json()["holder"] == "湖塘太极拳队" and facts.get_json()["valid"] is True


def test_an_experts_sheets_cost_as_many_statements_for_three_as_for_two(api, world,
                                                                         make_application):
    users = world["users"]
    entries = []
    for who, admin in (("wj1", "wj_admin"), ("wj2", "wj_admin"), ("tn1", "tn_admin")):
        entry = make_application(who, name=f"{who}的团队")
        fire(entry, "submit", users[who])
        fire(entry, "recommend", users[admin], data={"rank": 1, "opinion": "推荐"})
        entries.append(entry)
    for expert, count in (("expert1", 2), ("expert2", 3)):  # reopened, withdrawn, submitted
        sheets = [confirmed(assign_expert(e, users[expert], users["city"]))
                  for e in entries[:count]]
        save_review(sheets[0], users[expert], TEAM_SCORES, "", submit=True)
        reopen_sheet(sheets[0], users["city"], "请复核第一项")
        withdraw_assignment(sheets[1], users["city"], "改派")
        if count == 3:
            save_review(sheets[2], users[expert], TEAM_SCORES, "", submit=True)
    db.session.commit()

    counts = []
    for expert, count in (("expert1", 2), ("expert2", 3)):
        caller = api.login(expert)
        assert len(caller.get("/api/v1/reviews").get_json()) == count  # warm: caches
        with recorded(db.engine) as statements:
            caller.get("/api/v1/reviews")
        counts.append(len(statements))
    # token (+ user); the sheets (+ experts, who withdrew them, entries, calls); their
    # revisions (+ who reopened); the calls' quotas; which entries I see blind; checksums
    assert counts == [6, 6]
