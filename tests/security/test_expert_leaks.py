"""Nothing an expert should not see reaches them: other experts' comments and scores.

Marker strings are put into another expert's comment; then every GET route an expert can open
(pages and API) is fetched as that expert, and no response may contain a marker.
"""

from __future__ import annotations

from typing import Any

from flask import Flask

from app.engine.runtime import fire
from app.extensions import db
from app.services.accounts import issue_token
from app.services.reviews import (
    assign_expert,
    declare_conflict,
    save_review,
    withdraw_assignment,
)
from tests.conftest import confirmed, login

MARKER_COMMENT = "MARKER-OTHER-EXPERT-COMMENT-7f3a"
OTHER_SCORES = {"organisation": 13.37, "resources": 12, "activities": 30, "impact": 25}


def _fill(rule: Any, values: dict[str, Any]) -> str | None:
    """Build a URL for a rule from the scene's ids, or None when a parameter is unknown."""
    if not set(rule.arguments) <= set(values):
        return None
    return rule.build({k: values[k] for k in rule.arguments}, append_unknown=False)[1]


def test_an_expert_never_sees_another_experts_comment_or_scores(app: Flask, world,
                                                                 make_application):
    users = world["users"]
    entry = make_application("wj1")
    fire(entry, "submit", users["wj1"])
    fire(entry, "recommend", users["wj_admin"], data={"rank": 1, "opinion": "推荐"})
    mine = confirmed(assign_expert(entry, users["expert1"], users["city"]))
    theirs = confirmed(assign_expert(entry, users["expert2"], users["city"]))
    save_review(theirs, users["expert2"], OTHER_SCORES, MARKER_COMMENT, submit=True)
    token = issue_token(users["expert1"])
    db.session.commit()
    client = app.test_client()
    login(client, "expert1")
    values = {"application_id": entry.id, "assignment_id": mine.id, "review_id": mine.id,
              "attachment_id": entry.attachments[0].id, "call_id": world["call"].id,
              "key": "excellent_team", "trigger": "publish_notice", "code": "none"}
    fetched = 0
    for rule in app.url_map.iter_rules():
        if "GET" not in rule.methods or rule.endpoint == "static":
            continue
        url = _fill(rule, values)
        if url is None:
            continue
        headers = {"Authorization": f"Bearer {token}"} if url.startswith("/api/") else {}
        response = client.get(url, headers=headers)
        body = response.get_data(as_text=True)
        response.close()
        fetched += 1
        assert MARKER_COMMENT not in body, url
        assert "13.37" not in body, url
    assert fetched > 20


def test_the_marker_is_visible_where_it_belongs(app: Flask, world, make_application):
    """The same marker does show for the city administrator: the sweep above can fail."""
    users = world["users"]
    entry = make_application("wj1")
    fire(entry, "submit", users["wj1"])
    fire(entry, "recommend", users["wj_admin"], data={"rank": 1, "opinion": "推荐"})
    theirs = confirmed(assign_expert(entry, users["expert2"], users["city"]))
    save_review(theirs, users["expert2"], OTHER_SCORES, MARKER_COMMENT, submit=True)
    db.session.commit()
    client = app.test_client()
    login(client, "city")
    assert MARKER_COMMENT in client.get(f"/applications/{entry.id}").get_data(as_text=True)


def test_an_expert_lists_only_the_entries_they_may_open(app: Flask, world, make_application):
    """Found by the stateful model: the list showed an entry (its unit, district and, from then
    on, its state) to an expert who had not confirmed having no conflict, who had declared
    one, or whose sheet the city had withdrawn, while the entry itself was refused."""
    users = world["users"]
    entries = []
    for name in ("湖塘太极拳队", "牛塘合唱团", "青龙书画社", "三井舞蹈队"):
        entry = make_application("wj1", name=name)
        fire(entry, "submit", users["wj1"])
        entries.append(entry)
    for quota in world["call"].quotas:
        quota.quota = 4
    for entry in entries:
        fire(entry, "recommend", users["wj_admin"], data={"rank": 1, "opinion": "推荐"})
    opened, unconfirmed, declared, withdrawn = (
        assign_expert(entry, users["expert1"], users["city"]) for entry in entries)
    confirmed(opened)
    declare_conflict(declared, users["expert1"], conflict=True, reason="曾任该团队顾问")
    withdraw_assignment(confirmed(withdrawn), users["city"], "专家临时出差")
    headers = {"Authorization": f"Bearer {issue_token(users['expert1'])}"}
    db.session.commit()
    client = app.test_client()

    listed = client.get("/api/v1/applications", headers=headers).get_json()["items"]
    assert [item["id"] for item in listed] == [opened.application_id]
    for sheet in (unconfirmed, declared, withdrawn):
        assert client.get(f"/api/v1/applications/{sheet.application_id}",
                          headers=headers).status_code == 403
    assert client.get(f"/api/v1/applications/{opened.application_id}",
                      headers=headers).status_code == 200
