"""Public notice and objections over the API: list, object (JSON and multipart), read the
outcome by receipt, and the city's list and decision."""

from __future__ import annotations

import io

from app.services.demo import SAMPLE_PDF
from tests.api.conftest import problem

REASON = "该团队实际成立于去年十月，申报材料中的成立时间不实。"


def test_an_objection_from_the_public_list_to_the_citys_decision(api, world, in_notice):
    entry = in_notice

    [notice] = api.anonymous.get("/api/v1/notices").get_json()
    assert notice["state_label"] == "公示中" and notice["ends"] is not None
    assert [c["key"] for c in notice["columns"]] == ["team_name", "centre", "leader", "field"]
    assert notice["entries"] == [{"id": entry.id, "unit": "武进区单位1", "values": {
        "team_name": "湖塘太极拳队", "centre": "某中心", "leader": "张三",
        "field": "美育与艺术鉴赏"}}]

    refused = problem(api.anonymous.post(f"/api/v1/applications/{entry.id}/objections",
                                         json={"name": "李明", "contact": "1", "reason": "不实"}),
                      422)
    assert set(refused["details"]) == {"contact", "reason"}
    raised = api.anonymous.post(f"/api/v1/applications/{entry.id}/objections",
                                json={"name": "李明", "contact": "13800001111",
                                      "reason": REASON})
    assert raised.status_code == 201
    receipt = raised.get_json()["receipt"]
    with_file = api.anonymous.client.post(
        f"/api/v1/applications/{entry.id}/objections",
        data={"name": "王五", "contact": "wang@example.cn", "reason": REASON,
              "evidence": (io.BytesIO(SAMPLE_PDF), "证据.pdf")},
        content_type="multipart/form-data")
    assert with_file.status_code == 201, with_file.get_json()

    city = api.login("city")
    listed = city.get(f"/api/v1/calls/{world['call'].id}/objections").get_json()
    assert {(o["name"], o["evidence"]) for o in listed} == {("李明", None), ("王五", "证据.pdf")}
    blocked = problem(city.post(f"/api/v1/applications/{entry.id}/transitions",
                                json={"trigger": "name_team"}), 422)
    assert blocked["details"]["reasons"] == ["该申报有 2 条异议尚未处理，处理后才能结束公示"]
    first = next(o for o in listed if o["name"] == "李明")
    decided = city.post(f"/api/v1/objections/{first['id']}/decide",
                        json={"decision": "sustained", "outcome": "经核实，成立时间不实。"})
    assert decided.status_code == 200 and decided.get_json()["status"] == "sustained"
    answer = api.anonymous.get(f"/api/v1/objections/{receipt}").get_json()
    assert (answer["status"], answer["outcome"]) == ("sustained", "经核实，成立时间不实。")
    assert "contact" not in answer
    entry_now = city.get(f"/api/v1/applications/{entry.id}").get_json()
    assert entry_now["state"] == "not_selected"
    assert problem(api.login("wj_admin").post(f"/api/v1/objections/{first['id']}/decide",
                                              json={"decision": "dismissed",
                                                    "outcome": "不成立。"}), 403)
