"""The inbox over the API: the caller's messages only, unread first, marked read one or all."""

from __future__ import annotations

from app.engine.runtime import fire
from app.extensions import db
from tests.api.conftest import problem


def test_each_caller_reads_and_marks_their_own_messages(api, world, make_application):
    users = world["users"]
    for name in ("甲队", "乙队"):
        fire(make_application("wj1", name=name), "submit", users["wj1"])
    db.session.commit()
    district, applicant, other = api.login("wj_admin"), api.login("wj1"), api.login("tn_admin")
    page = district.get("/api/v1/notifications").get_json()
    assert (page["total"], page["unread"]) == (2, 2)
    assert [n["subject"] for n in page["items"]] == ["申报已提交：乙队", "申报已提交：甲队"]
    first = page["items"][1]
    assert first["event"] == "submitted" and first["link"].startswith("/applications/")
    assert other.get("/api/v1/notifications").get_json()["total"] == 0

    problem(applicant.post(f"/api/v1/notifications/{first['id']}/read"), 403)
    read = district.post(f"/api/v1/notifications/{first['id']}/read")
    assert read.status_code == 200 and read.get_json()["read_at"] is not None
    page = district.get("/api/v1/notifications").get_json()
    assert page["unread"] == 1 and page["items"][0]["read_at"] is None  # unread first
    assert district.get("/api/v1/notifications?unread=1").get_json()["total"] == 1
    problem(district.get("/api/v1/notifications?unread=2"), 422)

    assert applicant.post("/api/v1/notifications/read-all").get_json() == {"marked": 2,
                                                                           "unread": 0}
    assert applicant.get("/api/v1/notifications").get_json()["unread"] == 0
    assert district.get("/api/v1/notifications").get_json()["unread"] == 1  # theirs untouched
    problem(district.post("/api/v1/notifications/999999/read"), 404)
