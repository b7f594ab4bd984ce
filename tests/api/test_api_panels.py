"""Invitations, panels and live scoring over the API."""

from __future__ import annotations

from sqlalchemy import select

from app.engine.runtime import fire
from app.extensions import db
from app.models import ReviewAssignment
from app.services.reviews import assign_expert, save_review
from tests.api.conftest import problem
from tests.conftest import confirmed

ONLINE = {"design": 30, "materials": 25, "presentation": 25}
FINAL = {"analysis": 20, "process": 25, "guidance": 12, "resources": 4, "delivery": 8,
         "technology": 11}


def test_invitations_over_the_api(api, world, contest):
    city, judge = api.login("city"), api.login("judge1")
    base = f"/api/v1/calls/{contest['call'].id}/invitations"
    made = city.post(base, json={"experts": ["judge1", "judge2"]})
    assert made.status_code == 201 and [i["expert"] for i in made.get_json()] == [
        "judge1", "judge2"]
    assert problem(city.post(base, json={"experts": ["nobody"]}), 422)["details"] == {
        "experts": "nobody"}
    mine = judge.get("/api/v1/invitations").get_json()
    assert [(i["call_title"], i["status"]) for i in mine] == [
        ("2026年X市社区教育教师能力大赛", "invited")]
    url = f"/api/v1/invitations/{mine[0]['id']}/answer"
    problem(judge.post(url, json={"accept": False}), 422)
    problem(api.login("judge2").post(url, json={"accept": True}), 403)
    answered = judge.post(url, json={"accept": False, "reason": "出差"}).get_json()
    assert (answered["status"], answered["reason"]) == ("declined", "出差")
    assert [(i["expert"], i["status"]) for i in city.get(base).get_json()] == [
        ("judge1", "declined"), ("judge2", "invited")]


def test_a_live_panel_over_the_api(api, world, contest):
    users, judges = world["users"], contest["judges"]
    entries = []
    for who in ("wj1", "wj2"):
        entry = contest["enter"](who, f"{who}的课程")
        for j in judges[:3]:
            save_review(confirmed(assign_expert(entry, j, users["city"])), j, ONLINE, "", True)
        fire(entry, "advance", users["city"])
        entries.append(entry)
    db.session.commit()
    city = api.login("city")
    made = city.post(f"/api/v1/calls/{contest['call'].id}/panels", json={
        "round": "city_final", "name": "决赛组", "members": ["judge3", "judge4", "judge5"],
        "chair": "judge3"})
    assert made.status_code == 201, made.get_json()
    panel = made.get_json()
    assigned = city.post(f"/api/v1/panels/{panel['id']}/assign", json={}).get_json()
    assert len(assigned["made"]) == 6 and assigned["skipped"] == []
    chair, judge = api.login("judge3"), api.login("judge4")
    problem(api.login("judge1").get(f"/api/v1/panels/{panel['id']}/live"), 403)
    problem(judge.post(f"/api/v1/panels/{panel['id']}/draw"), 403)
    drawn = chair.post(f"/api/v1/panels/{panel['id']}/draw").get_json()
    assert sorted(drawn["draw_order"]) == sorted(e.id for e in entries)
    first = drawn["draw_order"][0]
    board = chair.post(f"/api/v1/panels/{panel['id']}/open",
                       json={"application_id": first}).get_json()
    assert board["current_application_id"] == first

    for name, client in (("judge3", chair), ("judge4", judge), ("judge5", api.login("judge5"))):
        sheet = next(r for r in client.get("/api/v1/reviews").get_json()
                     if r["application"]["id"] == first and r["round"] == "city_final")
        client.post(f"/api/v1/reviews/{sheet['id']}/conflict", json={"conflict": False})
        saved = client.put(f"/api/v1/reviews/{sheet['id']}",
                           json={"scores": FINAL, "comment": "", "submit": True})
        assert saved.status_code == 200, (name, saved.get_json())
    live = judge.get(f"/api/v1/panels/{panel['id']}/live").get_json()
    top = next(e for e in live["entries"] if e["application_id"] == first)
    assert (top["complete"], top["score"]) == (True, 80)
    assert live["submitted_by"] == {"judge3": True, "judge4": True, "judge5": True}


def test_assigning_a_panel_checks_the_ids_it_is_given(api, world, contest):
    city = api.login("city")
    made = city.post(f"/api/v1/calls/{contest['call'].id}/panels", json={
        "round": "city_final", "name": "决赛组", "members": ["judge3", "judge4"]})
    url = f"/api/v1/panels/{made.get_json()['id']}/assign"
    for ids in ([{}], ["1"], [True], [], [0], list(range(1, 502))):  # [{}] was a server error
        refused = problem(city.post(url, json={"application_ids": ids}), 422)
        assert refused["details"] == {"application_ids": "应为正整数数组"}
    assert city.post(url, json={"application_ids": [999999]}).get_json()["made"] == []
    assert db.session.scalars(select(ReviewAssignment)).all() == []
