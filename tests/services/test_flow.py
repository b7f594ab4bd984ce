"""The whole programme through the services: application to certificate."""

from __future__ import annotations

from sqlalchemy import select

from app.engine.runtime import available_transitions, fire
from app.extensions import db
from app.models import AuditEntry, Certificate
from app.services.reviews import application_score, assign_expert, save_review

SCORES = {"organisation": 18, "resources": 12, "activities": 30, "impact": 25}


def test_excellent_team_runs_from_application_to_certificate(world, make_application):
    users = world["users"]
    app = make_application("wj1")
    fire(app, "submit", users["wj1"])
    fire(app, "recommend", users["wj_admin"], data={"rank": 1, "opinion": "推荐"})
    for expert in ("expert1", "expert2"):
        sheet = assign_expert(app, users[expert], users["city"])
        save_review(sheet, users[expert], SCORES, "好", submit=True)
    fire(app, "publish_notice", users["city"])
    fire(app, "name_team", users["city"])
    db.session.commit()

    assert app.state == "named"
    assert application_score(app.id) == 85
    triggers = [e.trigger for e in db.session.scalars(
        select(AuditEntry).where(AuditEntry.application_id == app.id).order_by(AuditEntry.id))]
    assert triggers == ["create", "submit", "recommend", "publish_notice", "name_team"]
    certificate = db.session.scalar(select(Certificate))
    assert certificate.serial == "YXTD-2026-0001"
    assert certificate.holder == "湖塘太极拳队"
    assert len(certificate.code) >= 22


def test_guard_reasons_are_shown_for_the_available_moves(world, make_application):
    users = world["users"]
    app = make_application("wj1")
    fire(app, "submit", users["wj1"])
    fire(app, "recommend", users["wj_admin"], data={"rank": 1, "opinion": "推荐"})
    moves = {m.trigger: m for m in available_transitions(app, users["city"])}
    assert not moves["publish_notice"].allowed
    assert "至少需要 1 份专家评分" in moves["publish_notice"].reasons[0]
