"""Rounds over the API: progress, deadline, closing with a stored result, verifying, ranking."""

from __future__ import annotations

import io
import zipfile

import openpyxl
from pypdf import PdfReader
from sqlalchemy import select

from app.extensions import db
from app.models import ReviewAssignment
from app.services.panels import open_entry
from app.services.reviews import assign_expert, save_review
from tests.api.conftest import problem
from tests.conftest import confirmed, live_final

ONLINE = {"design": 30, "materials": 25, "presentation": 25}  # 80


def test_a_round_over_the_api_from_deadline_to_verified_result(api, world, contest):
    users, judges = world["users"], contest["judges"]
    entry = contest["enter"]("wj1", "太极拳入门")
    for judge, design in zip(judges[:3], (30, 34, 38), strict=True):  # totals 80, 84, 88
        sheet = confirmed(assign_expert(entry, judge, users["city"]))
        save_review(sheet, judge, {**ONLINE, "design": design}, "", submit=design != 38)
    db.session.commit()
    city = api.login("city")
    base = f"/api/v1/calls/{contest['call'].id}/rounds"

    rounds = city.get(base).get_json()
    assert [(r["name"], r["weight"], r["blind"], r["quorum"]) for r in rounds] == [
        ("city_preliminary", "0.3", True, 3), ("city_final", "0.7", False, None)]
    assert rounds[0]["entries_in_round"] == 1 and rounds[0]["entries_complete"] == 0

    moved = city.put(f"{base}/city_preliminary", json={"deadline": "2026-05-20T17:00:00"})
    assert moved.get_json()["deadline"] == "2026-05-20T09:00:00+00:00"  # Beijing time, stored UTC
    assert problem(city.put(f"{base}/city_preliminary", json={"deadline": "next week"}),
                   422)["details"] == {
        "deadline": "应为 ISO 8601 时间，例如 2026-05-20T17:00:00+08:00"}

    assert problem(city.put(f"{base}/city_preliminary", json={}), 400)["details"] == {
        "deadline": "此项为必填项"}
    refused = problem(city.post(f"{base}/city_preliminary/close"), 409)
    assert refused["details"]["reasons"] == ["1 个申报的专家评分尚未收齐"]
    detail = city.get(f"{base}/city_preliminary").get_json()
    assert detail["entries"][0]["submitted"] == 2 and detail["entries"][0]["needed"] == 3

    last = next(s for s in entry_sheets(entry) if s.status != "submitted")
    save_review(last, last.expert, {**ONLINE, "design": 38}, "", submit=True)
    db.session.commit()
    closed = city.post(f"{base}/city_preliminary/close")
    assert closed.status_code == 201, closed.get_json()
    result = closed.get_json()
    assert result["results"][0]["score"] == "84" and result["round"] == "city_preliminary"
    assert (result["programme"], result["version"]) == ("teacher_contest", 4)

    stored = city.get(f"/api/v1/results/{result['id']}").get_json()
    assert sorted(s["total"] for s in stored["inputs"]["sheets"]) == ["80", "84", "88"]
    assert city.post(f"/api/v1/results/{result['id']}/verify").get_json() == {
        "result_id": result["id"], "same": True, "fingerprint_matches": True,
        "results_match": True, "differences": []}

    ranking = city.get(f"/api/v1/calls/{contest['call'].id}/ranking").get_json()
    assert ranking[0]["rank"] is None and ranking[0]["score"] is None  # no final round yet
    assert ranking[0]["missing_rounds"] == ["city_final"]
    assert ranking[0]["rounds"]["city_preliminary"]["score"] == 84

    problem(city.post(f"{base}/city_preliminary/close"), 409)  # already closed
    reopened = city.post(f"{base}/city_preliminary/reopen").get_json()
    assert reopened["closed"] is False and reopened["result_id"] is None
    problem(city.get(f"{base}/no_such_round"), 404)
    problem(api.login("expert1").get(base), 403)


def test_a_waiver_over_the_api(api, world, contest):
    users, judges = world["users"], contest["judges"]
    entry = contest["enter"]("wj1", "太极拳入门")
    for judge, design in zip(judges[:3], (5, 35, 40), strict=True):  # 55, 85, 90: spread 35
        sheet = confirmed(assign_expert(entry, judge, users["city"]))
        save_review(sheet, judge, {**ONLINE, "design": design}, "理由", submit=True)
    db.session.commit()
    city = api.login("city")
    url = f"/api/v1/applications/{entry.id}/dispersion-waiver"

    assert problem(city.post(url, json={"round": "city_preliminary"}), 400)
    made = city.post(url, json={"round": "city_preliminary", "reason": "专家组复议后维持"})
    assert made.status_code == 201 and made.get_json()["created_by"] == "city"
    problem(city.post(url, json={"round": "city_preliminary", "reason": "again"}), 409)
    closed = city.post(f"/api/v1/calls/{contest['call'].id}/rounds/city_preliminary/close")
    assert closed.status_code == 201
    assert closed.get_json()["results"][0]["flagged_dispersion"] is True


def entry_sheets(entry):
    """The entry's score sheets."""
    return db.session.scalars(select(ReviewAssignment).filter_by(application_id=entry.id)).all()


FINAL = {"analysis": 20, "process": 25, "guidance": 12, "resources": 4, "delivery": 8,
         "technology": 11}  # 80


def test_the_contest_from_rounds_to_confirmed_awards_and_certificates(api, world, contest):
    judges, city_user = contest["judges"], world["users"]["city"]
    skill = [contest["enter"](who, f"{who}的技能课") for who in ("wj1", "wj2", "tn1")]
    general = [contest["enter"](who, f"{who}的通识课", category="通识课程说课展示")
               for who in ("wj3", "tn2")]
    entries = skill + general
    for n, entry in enumerate(entries):  # preliminary: 80 + n for every judge
        for judge in judges[:3]:
            sheet = confirmed(assign_expert(entry, judge, city_user))
            save_review(sheet, judge, {**ONLINE, "design": 30 + n}, "", submit=True)
    db.session.commit()
    city = api.login("city")
    call_id = contest["call"].id
    assert city.post(f"/api/v1/calls/{call_id}/rounds/city_preliminary/close").status_code == 201
    moved = city.post("/api/v1/bulk-transitions", json={
        "application_ids": [e.id for e in entries], "trigger": "advance", "dry_run": False})
    assert moved.status_code == 200, moved.get_json()
    db.session.expire_all()  # the API moved them in its own session
    panel = live_final(contest, judges[2:], entries, city_user)
    for n, entry in enumerate(entries):  # final, on site: 75 + 2n for every judge
        open_entry(panel, entry, city_user)
        for judge in judges[2:]:
            sheet = db.session.scalar(select(ReviewAssignment).filter_by(
                application_id=entry.id, expert_id=judge.id, round="city_final"))
            save_review(sheet, judge, {**FINAL, "process": 20 + 2 * n}, "", submit=True)
    db.session.commit()

    made = city.post(f"/api/v1/calls/{call_id}/award-proposals")
    assert made.status_code == 201, made.get_json()
    proposal = made.get_json()
    # final = 0.3 × (80 + n) + 0.7 × (75 + 2n); ranked within each category. Skill (3 entries):
    # 15 % → 0.45 → 0, 25 % → 0.75 → 1, 30 % → 0.9 → 1; general (2): 0, 1 (0.5 → 1), 1 (0.6).
    levels = {row["entry"]: (row["group"], row["level"]) for row in proposal["rows"]}
    assert levels == {
        skill[2].id: ("技能课程说课展示", "二等奖"), skill[1].id: ("技能课程说课展示", "三等奖"),
        skill[0].id: ("技能课程说课展示", None), general[1].id: ("通识课程说课展示", "二等奖"),
        general[0].id: ("通识课程说课展示", "三等奖")}
    assert proposal["counts"] == {"一等奖": 0, "二等奖": 2, "三等奖": 2}

    blocked = city.post(f"/api/v1/applications/{skill[2].id}/transitions",
                        json={"trigger": "publish_notice"})
    assert problem(blocked, 422)["details"]["reasons"] == [
        "该申报尚未确认获奖等级（请先生成并确认奖项建议）"]
    assert problem(city.post(f"/api/v1/award-proposals/{proposal['id']}/confirm",
                             json={"changes": {str(skill[0].id): "三等奖"}}), 422)["details"] \
        == {"note": "调整奖项时请说明理由"}
    confirmed_proposal = city.post(f"/api/v1/award-proposals/{proposal['id']}/confirm",
                                   json={"changes": {str(skill[0].id): "三等奖"},
                                         "note": "专家组复议增补"}).get_json()
    assert confirmed_proposal["status"] == "confirmed"
    assert confirmed_proposal["counts"] == {"一等奖": 0, "二等奖": 2, "三等奖": 3}

    for trigger in ("publish_notice", "confer"):
        moved = city.post(f"/api/v1/applications/{skill[2].id}/transitions",
                          json={"trigger": trigger})
        assert moved.status_code == 200, moved.get_json()
    entry = city.get(f"/api/v1/applications/{skill[2].id}").get_json()
    assert entry["award"] == "二等奖" and entry["state"] == "awarded"
    facts = api.anonymous.get(f"/api/v1/certificates/{entry['certificates'][0]['code']}")
    assert facts.get_json()["award"] == "二等奖"
    pdf = city.get(entry["certificates"][0]["pdf_url"]).get_data()
    text = "".join(PdfReader(io.BytesIO(pdf)).pages[0].extract_text().split())
    assert "在2026年X市社区教育教师能力大赛中荣获二等奖。" in text  # the contest's own wording

    # The best of the general category goes on to the provincial contest, with its dossier.
    none_yet = problem(city.get(f"/api/v1/calls/{call_id}/recommended.zip"), 409)
    assert none_yet["message"] == "本批次还没有推荐至上级的申报"
    for trigger in ("publish_notice", "confer_and_recommend"):
        moved = city.post(f"/api/v1/applications/{general[1].id}/transitions",
                          json={"trigger": trigger})
        assert moved.status_code == 200, moved.get_json()
    assert moved.get_json()["state"] == "awarded_recommended"
    archive = zipfile.ZipFile(io.BytesIO(
        city.get(f"/api/v1/calls/{call_id}/recommended.zip").get_data()))
    names = archive.namelist()
    assert names[0] == "推荐名单.xlsx"
    assert [n for n in names[1:]] == [n for n in names[1:] if n.startswith("01-tn2的通识课/")]
    assert len(names) == 2 and names[1].endswith(".pdf")
    sheet = openpyxl.load_workbook(io.BytesIO(archive.read("推荐名单.xlsx"))).active
    header = [cell.value for cell in sheet[1]]
    row = dict(zip(header, [cell.value for cell in sheet[2]], strict=True))
    assert (row["推荐至"], row["申报编号"], row["获奖等级"]) == ("省级", general[1].id, "二等奖")
    assert row["参赛类别"] == "通识课程说课展示" and row["证书编号"].startswith("JSDS-2026-")
    assert api.login("tn_admin").get(f"/api/v1/calls/{call_id}/recommended.zip").status_code \
        == 403
