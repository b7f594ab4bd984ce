"""Other paths through the API: return and resubmit, withdrawal, conflicts, bulk, listing."""

from __future__ import annotations

import io

from sqlalchemy import select

from app.engine.runtime import fire
from app.extensions import db
from app.models import Application, AuditEntry
from app.services.demo import SAMPLE_PDF
from app.services.reviews import assign_expert, save_review
from tests.api.conftest import problem
from tests.conftest import confirmed

SCORES = {"organisation": 18, "resources": 12, "activities": 30, "impact": 25}


def _fire(caller, application_id, trigger, **body):
    """POST a transition and return the response."""
    return caller.post(f"/api/v1/applications/{application_id}/transitions",
                       json={"trigger": trigger, **body})


def test_returned_application_is_corrected_and_resubmitted(api, make_application):
    application = make_application("wj1")
    wj1, district = api.login("wj1"), api.login("wj_admin")
    assert _fire(wj1, application.id, "submit").status_code == 200
    no_reason = problem(_fire(district, application.id, "return_for_correction"), 422)
    assert no_reason["details"] == {"comment": "此项为必填项"}
    returned = _fire(district, application.id, "return_for_correction", comment="请补充活动记录")
    assert returned.get_json()["state"] == "returned"

    seen = wj1.get(f"/api/v1/applications/{application.id}").get_json()
    assert seen["editable"] is True
    assert seen["history"][-1]["comment"] == "请补充活动记录"
    assert seen["history"][-1]["actor"] == "wj_admin"
    patched = wj1.patch(f"/api/v1/applications/{application.id}",
                        json={"data": {"achievements": "补充了活动记录"}})
    assert patched.status_code == 200
    again = _fire(wj1, application.id, "resubmit", version=patched.get_json()["version"])
    assert again.status_code == 200 and again.get_json()["state"] == "district_review"
    assert problem(wj1.patch(f"/api/v1/applications/{application.id}",
                             json={"data": {"achievements": "再改"}}), 403)


def test_withdrawn_application_is_final(api, make_application):
    application = make_application("wj1")
    wj1 = api.login("wj1")
    _fire(wj1, application.id, "submit")
    withdrawn = _fire(wj1, application.id, "withdraw", comment="团队解散")
    assert withdrawn.get_json()["state"] == "withdrawn"
    assert withdrawn.get_json()["history_entry"]["comment"] == "团队解散"
    shown = wj1.get(f"/api/v1/applications/{application.id}").get_json()
    assert shown["final"] is True and shown["outcome"] == "withdrawn"
    assert shown["available_transitions"] == []
    assert problem(_fire(wj1, application.id, "submit"), 409)["error"] == "conflict"


def test_unknown_trigger_is_404_and_stale_version_is_409(api, make_application):
    application = make_application("wj1")
    wj1 = api.login("wj1")
    assert problem(_fire(wj1, application.id, "launch_rocket"), 404)["details"] == {
        "trigger": "launch_rocket"}
    old = wj1.get(f"/api/v1/applications/{application.id}").get_json()["version"]
    wj1.patch(f"/api/v1/applications/{application.id}", json={"data": {"weekly_hours": 3}})
    stale = problem(wj1.patch(f"/api/v1/applications/{application.id}",
                              json={"data": {"weekly_hours": 4}, "version": old}), 409)
    assert stale["details"]["version"] > old
    assert problem(_fire(wj1, application.id, "submit", version=old), 409)
    db.session.expire_all()
    assert db.session.get(Application, application.id).state == "draft"


def test_step_form_data_is_checked(api, make_application):
    application = make_application("wj1")
    _fire(api.login("wj1"), application.id, "submit")
    district = api.login("wj_admin")
    refused = problem(_fire(district, application.id, "recommend", data={"rank": 0}), 422)
    assert set(refused["details"]) == {"rank", "opinion"}
    assert problem(_fire(district, application.id, "not_recommend", data={"x": 1},
                         comment="不符合条件"), 422)


def test_closed_call_refuses_submission_but_keeps_the_draft(api, world, make_application):
    from datetime import timedelta

    application = make_application("wj1")
    world["call"].closes_at = world["call"].opens_at + timedelta(seconds=1)
    db.session.commit()
    wj1 = api.login("wj1")
    refused = problem(_fire(wj1, application.id, "submit"), 422)
    assert "截止" in refused["details"]["reasons"][0]
    assert wj1.get(f"/api/v1/applications/{application.id}").get_json()["state"] == "draft"
    closed = problem(wj1.post("/api/v1/applications",
                              json={"call_id": world["call"].id, "data": {}}), 422)
    assert closed["error"] == "guards_failed"


def test_attachment_replaced_and_deleted_while_editable(api, make_application):
    application = make_application("wj1")
    wj1 = api.login("wj1")
    base = f"/api/v1/applications/{application.id}"
    [old] = wj1.get(base).get_json()["attachments"]
    [new] = wj1.post(f"{base}/attachments", content_type="multipart/form-data",
                     data={"charter": (io.BytesIO(SAMPLE_PDF), "新章程.pdf")}).get_json()
    shown = wj1.get(base).get_json()["attachments"]
    assert [a["id"] for a in shown] == [new["id"]] and new["id"] != old["id"]
    assert problem(wj1.get(old["url"]), 404)
    assert wj1.delete(new["url"]).status_code == 204
    assert wj1.get(base).get_json()["attachments"] == []


def test_bulk_publish_with_dry_run_then_real_run(api, world, make_application):
    users = world["users"]
    entries = [make_application("wj1", name="甲队"), make_application("tn1", name="乙队")]
    for application, district in zip(entries, ("wj_admin", "tn_admin"), strict=True):
        fire(application, "submit", application.applicant)
        fire(application, "recommend", users[district], data={"rank": 1, "opinion": "推荐"})
        sheet = confirmed(assign_expert(application, users["expert1"], users["city"]))
        save_review(sheet, users["expert1"], SCORES, "", submit=True)
    db.session.commit()
    ids = [entries[0].id, entries[1].id, 999999]
    city = api.login("city")

    dry = city.post("/api/v1/bulk-transitions",
                    json={"application_ids": ids, "trigger": "publish_notice"}).get_json()
    assert dry["dry_run"] is True and dry["bulk_id"] is None and dry["passed"] == 2
    assert [(i["ok"], i["state"]) for i in dry["items"]] == [
        (True, "city_review"), (True, "city_review"), (False, None)]
    real = city.post("/api/v1/bulk-transitions", json={
        "application_ids": ids, "trigger": "publish_notice", "dry_run": False}).get_json()
    assert real["passed"] == 2 and real["bulk_id"]
    assert [i["state"] for i in real["items"]] == ["notice", "notice", None]
    assert real["items"][2]["reasons"] == ["申报不存在"]
    tagged = db.session.scalars(select(AuditEntry.application_id).where(
        AuditEntry.bulk_id == real["bulk_id"])).all()
    assert sorted(tagged) == sorted(ids[:2])


def test_bulk_by_a_district_reports_other_districts_without_details(api, make_application):
    own, other = make_application("wj1", name="甲队"), make_application("tn1", name="乙队")
    for application in (own, other):
        fire(application, "submit", application.applicant)
    db.session.commit()
    result = api.login("wj_admin").post("/api/v1/bulk-transitions", json={
        "application_ids": [own.id, other.id], "trigger": "return_for_correction",
        "comment": "请补充", "dry_run": False}).get_json()
    assert [(i["ok"], i["title"], i["state"]) for i in result["items"]] == [
        (True, "甲队", "returned"), (False, "", None)]
    assert result["items"][1]["reasons"] == ["您无权访问该申报"]
    db.session.expire_all()
    assert db.session.get(Application, other.id).state == "district_review"


def test_bulk_input_is_checked(api, world):
    city = api.login("city")
    for ids in ([], ["1"], [True], list(range(1, 502))):
        assert problem(city.post("/api/v1/bulk-transitions",
                                 json={"application_ids": ids, "trigger": "x"}), 422)
    assert problem(city.post("/api/v1/bulk-transitions", json={"trigger": "x"}), 400)


def test_listing_filters_and_pages(api, world, make_application):
    entries = [make_application("wj1", name=f"队{n}") for n in range(3)]
    fire(entries[0], "submit", world["users"]["wj1"])
    db.session.commit()
    wj1 = api.login("wj1")
    page = wj1.get("/api/v1/applications?per_page=2").get_json()
    assert page["total"] == 3 and page["per_page"] == 2
    assert [i["id"] for i in page["items"]] == [entries[2].id, entries[1].id]
    second = wj1.get("/api/v1/applications?per_page=2&page=2").get_json()
    assert [i["id"] for i in second["items"]] == [entries[0].id]
    assert wj1.get("/api/v1/applications?per_page=1000").get_json()["per_page"] == 100
    drafts = wj1.get(f"/api/v1/applications?state=draft&call_id={world['call'].id}").get_json()
    assert drafts["total"] == 2
    assert wj1.get("/api/v1/applications?call_id=424242").get_json()["total"] == 0
    assert api.login("wj2").get("/api/v1/applications").get_json()["total"] == 0
    district = api.login("wj_admin").get("/api/v1/applications").get_json()
    assert [i["id"] for i in district["items"]] == [entries[0].id]


def test_programme_graph_lists_states_transitions_forms_and_rubrics(api, world):
    caller = api.login("expert1")
    listed = caller.get("/api/v1/programmes").get_json()
    assert [p["key"] for p in listed] == [
        "brand_project", "citizen_star", "elder_empowerment", "excellent_course",
        "excellent_team", "model_centre", "paper_review", "project_completion",
        "research_project", "teacher_contest"]
    assert listed[4:5] == [{
        "key": "excellent_team", "title": "社区教育优秀团队遴选",
        "title_en": "Excellent community-education team selection", "version": 4,
        "code": "YXTD", "description": caller.get("/api/v1/programmes/excellent_team")
        .get_json()["description"]}]
    graph = caller.get("/api/v1/programmes/excellent_team").get_json()
    states = {s["name"]: s for s in graph["states"]}
    assert states["named"]["final"] and states["named"]["outcome"] == "awarded"
    assert states["city_review"]["review"]["rubric"] == "excellent_team_rubric"
    assert states["city_review"]["review"]["weight"] == "1"
    recommend = next(t for t in graph["transitions"] if t["trigger"] == "recommend")
    assert recommend["source"] == ["district_review"] and recommend["roles"] == ["district_admin"]
    assert recommend["form"] == "district_recommendation"
    assert recommend["guards"] == [{"name": "within_quota", "params": {
        "states": ["city_review", "notice", "named", "not_selected"], "field": None}}]
    fields = {f["key"]: f for s in graph["forms"][graph["form"]]["sections"]
              for f in s["fields"]}
    assert fields["charter"]["accept"] == ["pdf", "docx", "doc"]
    assert [c["key"] for c in fields["members"]["columns"]] == ["name", "gender", "age", "duty"]
    assert graph["rubrics"]["excellent_team_rubric"]["max"] == 100
    pinned = caller.get(f"/api/v1/programmes/excellent_team?version={graph['version']}").get_json()
    assert pinned == graph
    assert problem(caller.get("/api/v1/programmes/excellent_team?version=9"), 404)


def test_review_input_is_checked(api, world, make_application):
    users = world["users"]
    application = make_application("wj1")
    fire(application, "submit", users["wj1"])
    fire(application, "recommend", users["wj_admin"], data={"rank": 1, "opinion": "推荐"})
    sheet = confirmed(assign_expert(application, users["expert1"], users["city"]))
    db.session.commit()
    expert = api.login("expert1")
    url = f"/api/v1/reviews/{sheet.id}"
    wrong = problem(expert.put(url, json={"scores": {"organisation": 21, "nope": 1,
                                                     "impact": "x"}}), 422)
    assert set(wrong["details"]) == {"organisation", "nope", "impact"}
    incomplete = problem(expert.put(url, json={"scores": {"organisation": 5},
                                               "submit": True}), 422)
    # 5 is under organisation's comment_below (12): an empty comment is refused too
    assert set(incomplete["details"]) == {"resources", "activities", "impact", "comment"}
    assert problem(expert.put(url, json={"scores": [1]}), 422)
    assert expert.get(url).get_json()["status"] == "assigned"
    assert api.login("city").get(url).get_json()["expert"] == "expert1"


def test_assignment_input_is_checked(api, world, make_application):
    users = world["users"]
    application = make_application("wj1")
    city = api.login("city")
    url = f"/api/v1/applications/{application.id}/assignments"
    fire(application, "submit", users["wj1"])
    db.session.commit()
    assert problem(city.post(url, json={"expert": "expert1"}), 409)  # not under review yet
    fire(application, "recommend", users["wj_admin"], data={"rank": 1, "opinion": "推荐"})
    db.session.commit()
    assert problem(city.post(url, json={"expert": "nobody"}), 422)["details"] == {
        "expert": "没有这个用户"}
    assert problem(city.post(url, json={"expert": "wj2"}), 422)
    assert city.post(url, json={"expert": "expert1"}).status_code == 201
    assert problem(city.post(url, json={"expert": "expert1"}), 409)


def test_a_call_takes_minimums_per_district(api, world):
    city = api.login("city")
    body = {"programme": "excellent_team", "title": "2027年度优秀团队遴选", "year": 2027,
            "opens_at": "2027-03-01T09:00:00+08:00", "closes_at": "2027-04-30T17:00:00+08:00",
            "quotas": {"WJ": 3}}
    made = city.post("/api/v1/calls", json={**body, "minimums": {"WJ": 1, "TN": 2}})
    assert made.status_code == 201
    assert (made.get_json()["quotas"], made.get_json()["minimums"]) == (
        {"WJ": 3}, {"TN": 2, "WJ": 1})
    refused = problem(city.post("/api/v1/calls", json={**body, "minimums": {"WJ": 4}}), 422)
    assert refused["details"] == {"minimums.WJ": "最少推荐数不能大于名额（3）"}


def test_an_entry_returned_after_the_call_closed_can_still_be_resubmitted(api, world,
                                                                           make_application):
    from datetime import timedelta

    from app.models.base import utcnow

    application, draft = make_application("wj1"), make_application("wj2", name="乙队")
    wj1, district = api.login("wj1"), api.login("wj_admin")
    assert _fire(wj1, application.id, "submit").status_code == 200
    world["call"].closes_at = utcnow() - timedelta(minutes=1)  # the district checks afterwards
    db.session.commit()
    assert _fire(district, application.id, "return_for_correction",
                 comment="请补充活动记录").status_code == 200
    again = _fire(wj1, application.id, "resubmit")
    assert again.status_code == 200 and again.get_json()["state"] == "district_review"
    late = problem(_fire(api.login("wj2"), draft.id, "submit"), 422)
    assert "截止" in late["details"]["reasons"][0]
