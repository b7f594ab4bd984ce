"""Stage sections (`fill`): reports written after approval, side by side, each open only in its
stage; grades from one round (`awards.basis`) and the steps that need a given grade."""

from __future__ import annotations

import io

from app.extensions import db
from app.services.accounts import add_user
from app.services.demo import SAMPLE_PDF
from app.services.programmes import catalogue
from tests.api.conftest import problem
from tests.api.test_programme_paths import Driver, expert_names, path_to
from tests.conftest import PASSWORD, login

YEAR1 = {"y1_progress", "y1_training_count", "y1_participation_rate", "y1_funds",
         "y1_new_courses", "y1_problems", "y1_report", "y1_photos"}


def _driver(api, state, key="model_centre"):
    """An entry of a shipped programme taken through the API to ``state``."""
    for name in expert_names():
        add_user(name, "expert", "X-OU", PASSWORD, name)
    db.session.commit()
    programme = catalogue()[key]
    driver = Driver(api, programme, 1)
    driver.drive(path_to(programme, state))
    return driver


def test_a_stage_opens_only_its_own_sections(api, world, client):
    driver = _driver(api, "tracking_year1")
    applicant = driver.callers["applicant"]
    shown = applicant.get(driver.base).get_json()
    assert shown["state"] == "tracking_year1" and shown["editable"] is True
    assert set(shown["editable_fields"]) == YEAR1
    # the application itself is closed now: its fields and files are refused by name
    refused = problem(applicant.patch(driver.base, json={"data": {"centre_name": "改名"}}), 422)
    assert refused["details"] == {"centre_name": "当前阶段不能修改此项"}
    plan = {"three_year_plan": (io.BytesIO(SAMPLE_PDF), "规划.pdf")}
    upload = problem(applicant.post(f"{driver.base}/attachments",
                                    content_type="multipart/form-data", data=plan), 422)
    assert upload["message"] == "当前阶段不能修改此附件"
    stamped = next(a for a in shown["attachments"] if a["field"] == "application_scan")
    assert problem(applicant.delete(stamped["url"]), 403)
    # the report's required fields are what submitting the report waits for
    blocked = problem(applicant.post(f"{driver.base}/transitions",
                                     json={"trigger": "submit_year1_report"}), 422)
    assert "年度建设进展" in blocked["details"]["reasons"][0]
    assert "中心名称" not in blocked["details"]["reasons"][0]
    # the entry's page asks for the report; the edit page offers the report only
    login(client, "wj1")
    assert "请填写第一年度建设跟踪报告并提交。" in client.get("/my/").get_data(as_text=True)
    assert "填写：第一年度建设跟踪报告" in client.get(f"/applications/{driver.id}").get_data(
        as_text=True)
    page = client.get(f"/applications/{driver.id}/edit").get_data(as_text=True)
    assert "第一年度建设跟踪报告" in page and 'name="y1_progress"' in page
    assert 'name="centre_name"' not in page


def test_reports_stay_side_by_side_and_later_stages_stay_hidden(api, world, client):
    driver = _driver(api, "tracking_year2")
    applicant = driver.callers["applicant"]
    shown = applicant.get(driver.base).get_json()
    first_year = shown["data"]["y1_progress"]
    assert first_year and any(a["field"] == "y1_report" for a in shown["attachments"])
    assert not set(shown["editable_fields"]) & YEAR1
    refused = problem(applicant.patch(driver.base, json={"data": {"y1_progress": "改"}}), 422)
    assert refused["details"] == {"y1_progress": "当前阶段不能修改此项"}
    login(client, "wj1")
    page = client.get(f"/applications/{driver.id}").get_data(as_text=True)
    assert "<h3>第一年度建设跟踪报告</h3>" in page and "<h3>第二年度建设跟踪报告</h3>" in page
    assert "<h3>考核验收申请</h3>" not in page and "<h3>整改报告</h3>" not in page  # not yet


def test_acceptance_is_graded_on_its_own_round_and_steps_follow_the_grade(api, world):
    driver = _driver(api, "acceptance_review")
    city = driver.city
    driver.score("acceptance_review", 3)  # 80 % of every criterion: 80 points
    proposal = city.post(f"/api/v1/calls/{driver.call_id}/award-proposals").get_json()
    [row] = proposal["rows"]
    assert (row["entry"], row["score"], row["level"]) == (driver.id, "80", "合格")
    assert city.post(f"/api/v1/award-proposals/{proposal['id']}/confirm", json={}).status_code \
        == 200
    deferred = problem(city.post(f"{driver.base}/transitions", json={
        "trigger": "defer_acceptance", "comment": "整改"}), 422)
    assert deferred["details"]["reasons"] == ["该申报确认的等级为“合格”，此操作需要“暂缓通过”"]
    passed = city.post(f"{driver.base}/transitions", json={"trigger": "pass_acceptance"})
    assert passed.status_code == 200 and passed.get_json()["state"] == "naming_notice"
    assert city.get(driver.base).get_json()["award"] == "合格"


def test_a_blind_expert_can_neither_list_nor_fetch_identifying_files(api, world, client):
    driver = _driver(api, "blind_review", "paper_review")
    sheet = driver.city.post(f"{driver.base}/assignments", json={"expert": "pathexpert1"})
    expert = driver.experts["pathexpert1"]
    expert.post(f"/api/v1/reviews/{sheet.get_json()['id']}/conflict", json={"conflict": False})
    everything = driver.city.get(driver.base).get_json()["attachments"]
    signed = next(a for a in everything if a["field"] == "signed_text")
    anonymous = next(a for a in everything if a["field"] == "anonymous_text")
    seen = expert.get(driver.base).get_json()
    assert seen["blind"] is True and "signed_text" in seen["hidden_fields"]
    assert [a["field"] for a in seen["attachments"]] == ["anonymous_text"]
    assert problem(expert.get(signed["url"]), 404)
    fetched = expert.get(anonymous["url"])
    assert fetched.status_code == 200 and fetched.data == SAMPLE_PDF
    fetched.close()
    login(client, "pathexpert1")
    web = f"/applications/{driver.id}/attachments"
    assert client.get(f"{web}/{signed['id']}").status_code == 404
    fetched = client.get(f"{web}/{anonymous['id']}")
    assert fetched.status_code == 200
    fetched.close()


def test_the_programme_page_says_what_each_stage_asks(client, world):
    login(client, "city")
    page = client.get("/admin/programmes/model_centre").get_data(as_text=True)
    assert "申报人填写：第一年度建设跟踪报告" in page and "计数单位：单位" in page
    assert "期满自动执行：公示无异议，立项为建设单位" in page
    assert "已确认获奖等级（等级：优秀、合格）" in page and "已确认获奖等级（获奖：否）" in page


def test_a_round_with_a_quorum_waits_for_the_extra_expert(api, world):
    driver = _driver(api, "blind_review", "paper_review")
    leaves = driver.programme.rubrics["paper_review_rubric"].leaves

    def score(name, share, extra=False):
        made = driver.city.post(f"{driver.base}/assignments",
                                json={"expert": name, "extra": extra}).get_json()
        expert = driver.experts[name]
        expert.post(f"/api/v1/reviews/{made['id']}/conflict", json={"conflict": False})
        return lambda: expert.put(f"/api/v1/reviews/{made['id']}", json={
            "scores": {leaf["key"]: int(leaf["max"] * share) for leaf in leaves},
            "comment": "评审意见：论证充分程度与创新性见各项得分。", "submit": True})

    def reasons():
        moves = driver.city.get(driver.base).get_json()["available_transitions"]
        return next(m["reasons"] for m in moves if m["trigger"] == "publish_notice")

    for name, share in (("pathexpert1", 0.9), ("pathexpert2", 0.9), ("pathexpert3", 0.5)):
        assert score(name, share)().status_code == 200
    waiting = "尚有 1 位增补专家（因评分差异增补）未提交评分"
    submit_extra = score("pathexpert4", 0.8, extra=True)
    assert waiting in reasons()  # three sheets meet the quorum, but they spread too far
    assert submit_extra().status_code == 200
    assert waiting not in reasons()


def test_a_notice_of_results_shows_the_award_level(api, world, client):
    driver = _driver(api, "notice", "paper_review")
    [group] = api.anonymous.get("/api/v1/notices").get_json()
    assert group["columns"][-1] == {"key": "award_level", "label": "等级"}
    [entry] = group["entries"]
    assert entry["id"] == driver.id and entry["values"]["award_level"] == "一等奖"
    page = client.get("/notices").get_data(as_text=True)
    assert '<th scope="col">等级</th>' in page and '<td data-label="等级">一等奖</td>' in page


def test_a_returned_report_shows_why_and_a_first_arrival_does_not(api, world, client):
    driver = _driver(api, "tracking_year1")
    login(client, "wj1")
    first = client.get(f"/applications/{driver.id}").get_data(as_text=True)
    assert 'class="callout" role="alert"' not in first  # the approval's comment is no return
    driver.fill(driver.callers["applicant"].get(driver.base).get_json()["editable_fields"])
    for trigger, who, comment in (("submit_year1_report", "applicant", None),
                                  ("return_year1_report", "city_admin", "请补充年度经费明细。")):
        body = {"trigger": trigger, **({"comment": comment} if comment else {})}
        assert driver.callers[who].post(f"{driver.base}/transitions", json=body).status_code \
            == 200
    again = client.get(f"/applications/{driver.id}").get_data(as_text=True)
    assert 'class="callout" role="alert"' in again and "请补充年度经费明细。" in again


def test_a_reinspection_passes_on_its_score_alone(api, world):
    import re
    from decimal import Decimal

    driver = _driver(api, "reinspection")
    label = driver.programme.rounds["reinspection"].label

    def reasons(trigger):
        moves = driver.city.get(driver.base).get_json()["available_transitions"]
        return next(m["reasons"] for m in moves if m["trigger"] == trigger)

    assert reasons("pass_reinspection")[-1] == f"“{label}”尚无专家评分"
    driver.score("reinspection", 3, Decimal("0.7"))
    [low] = reasons("pass_reinspection")
    assert re.fullmatch(f"“{label}”得分 7\\d(\\.\\d+)?，低于 75 分", low), low
    assert reasons("fail_reinspection") == []
    failed = driver.city.post(f"{driver.base}/transitions", json={
        "trigger": "fail_reinspection", "comment": "整改后仍未达到合格标准。"})
    assert failed.status_code == 200 and failed.get_json()["state"] == "not_passed"
