"""Blind rounds: an expert never learns whose entry it is, on any page or API response.

Marker strings go into every identifying place of an entry in the blind preliminary round of the
teacher contest: the identifying fields, the applicant's unit and name, an attachment's file
name. Every GET route the expert can reach is fetched (pages and API, headers included); no
marker may appear. The same markers do appear for the city administrator, so the sweep can fail.
"""

from __future__ import annotations

import io
from typing import Any

from flask import Flask
from pypdf import PdfReader

from app.engine.runtime import fire
from app.extensions import db
from app.services.accounts import add_organisation, add_user, issue_token
from app.services.applications import create_application
from app.services.attachments import store_attachment
from app.services.blind import entry_view
from app.services.demo import SAMPLE_PDF, contest_data
from app.services.reviews import assign_expert, save_review
from tests.conftest import PASSWORD, confirmed, live_final, login

MARKERS = {
    "teacher_name": "隐秘标记甲老师",
    "work_unit": "隐秘标记乙单位",
    "mobile": "13911112222",
    "unit": "隐秘标记丙学校",
    "applicant_name": "隐秘标记丁",
    "file": "隐秘标记戊的教案",
}


def _blind_entry(world: dict[str, Any], contest: dict[str, Any]) -> Any:
    """An entry full of markers, in the blind round, with judge1 assigned and confirmed."""
    users = world["users"]
    add_organisation("WJ-SECRET", MARKERS["unit"], "unit", "WJ-S")
    teacher = add_user("secret_teacher", "applicant", "WJ-SECRET", PASSWORD,
                       MARKERS["applicant_name"])
    entry = create_application(contest["call"], teacher, {
        **contest_data(MARKERS["teacher_name"], MARKERS["work_unit"], "社区茶艺"),
        "mobile": MARKERS["mobile"]})
    store_attachment(entry, "lesson_plan", f"{MARKERS['file']}.pdf", io.BytesIO(SAMPLE_PDF),
                     teacher)
    fire(entry, "submit", teacher)
    fire(entry, "recommend", users["wj_admin"], data={"rank": 1, "opinion": "推荐"})
    fire(entry, "qualify", users["city"])
    judge = contest["judges"][0]
    sheet = confirmed(assign_expert(entry, judge, users["city"]))
    save_review(sheet, judge, {"design": 30, "materials": 25, "presentation": 20}, "", False)
    db.session.commit()
    return entry, sheet


def _sweep(app: Flask, username: str, token: str, values: dict[str, Any]) -> list[tuple[str, str]]:
    """Every GET route filled with the scene's ids: (url, body + headers) as this user."""
    client = app.test_client()
    login(client, username)
    seen = []
    for rule in app.url_map.iter_rules():
        if "GET" not in rule.methods or rule.endpoint == "static":
            continue
        if not set(rule.arguments) <= set(values):
            continue
        url = rule.build({k: values[k] for k in rule.arguments}, append_unknown=False)[1]
        headers = {"Authorization": f"Bearer {token}"} if url.startswith("/api/") else {}
        response = client.get(url, headers=headers)
        text = _readable(url, response) + str(response.headers)
        response.close()
        seen.append((url, text))
    return seen


def _readable(url: str, response: Any) -> str:
    """The response as text: the printed application's extracted text, other bodies decoded
    (uploads are served as they were stored)."""
    if url.endswith("/print.pdf") and response.mimetype == "application/pdf":
        return "".join("".join(page.extract_text().split())
                       for page in PdfReader(io.BytesIO(response.get_data())).pages)
    return response.get_data().decode("utf-8", errors="replace")


def test_a_blind_reviewer_never_sees_who_the_entry_is_from(app: Flask, world, contest):
    entry, sheet = _blind_entry(world, contest)
    token = issue_token(contest["judges"][0])
    db.session.commit()
    values = {"application_id": entry.id, "assignment_id": sheet.id, "review_id": sheet.id,
              "attachment_id": entry.attachments[0].id, "call_id": contest["call"].id,
              "key": "teacher_contest", "trigger": "advance", "code": "none"}

    seen = _sweep(app, "judge1", token, values)

    assert len(seen) > 20
    leaks = [(url, name) for url, text in seen for name, marker in MARKERS.items()
             if marker in text]
    assert leaks == []
    pages = dict(seen)
    sheet_page = pages[f"/reviews/{sheet.id}"]
    assert "社区茶艺" in sheet_page  # the course itself is what the expert judges
    assert "（匿名评审，不予显示）" in sheet_page and "教案.pdf" in sheet_page
    download = pages[f"/applications/{entry.id}/attachments/{entry.attachments[0].id}"]
    assert "filename*=UTF-8''%E6%95%99%E6%A1%88.pdf" in download  # 教案.pdf


def test_the_city_sees_every_marker_on_the_same_routes(app: Flask, world, contest):
    entry, sheet = _blind_entry(world, contest)
    token = issue_token(world["users"]["city"])
    db.session.commit()
    values = {"application_id": entry.id, "attachment_id": entry.attachments[0].id}

    seen = dict(_sweep(app, "city", token, values))

    detail = seen[f"/applications/{entry.id}"] + seen[f"/api/v1/applications/{entry.id}"]
    assert [name for name, marker in MARKERS.items() if marker not in detail] == []


def test_an_expert_in_a_round_that_is_not_blind_sees_the_identity(world, contest):
    entry, _sheet = _blind_entry(world, contest)
    judges, city = contest["judges"], world["users"]["city"]
    for judge in judges[1:3]:
        save_review(confirmed(assign_expert(entry, judge, city)), judge,
                    {"design": 30, "materials": 25, "presentation": 20}, "", True)
    save_review(_sheet, judges[0], {"design": 30, "materials": 25, "presentation": 20}, "", True)
    fire(entry, "advance", city)
    live_final(contest, [judges[0], judges[4]], [entry], city)  # judge1 also judges the final
    db.session.commit()

    assert entry_view(entry, judges[0]).blind is False  # they will see the teacher on stage
    assert entry_view(entry, judges[4]).data["teacher_name"] == MARKERS["teacher_name"]
    assert entry_view(entry, judges[1]).blind is True  # only ever in the blind round
