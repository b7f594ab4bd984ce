"""The whole programme through the services: application to certificate."""

from __future__ import annotations

from sqlalchemy import select

from app.engine.runtime import available_transitions, fire
from app.extensions import db
from app.models import AuditEntry, Certificate
from app.services.reviews import assign_expert, save_review
from app.services.rounds import entry_scores
from tests.conftest import confirmed

SCORES = {"organisation": 18, "resources": 12, "activities": 30, "impact": 25}


def test_excellent_team_runs_from_application_to_certificate(world, make_application):
    users = world["users"]
    app = make_application("wj1")
    fire(app, "submit", users["wj1"])
    fire(app, "recommend", users["wj_admin"], data={"rank": 1, "opinion": "推荐"})
    for expert in ("expert1", "expert2"):
        sheet = confirmed(assign_expert(app, users[expert], users["city"]))
        save_review(sheet, users[expert], SCORES, "好", submit=True)
    fire(app, "publish_notice", users["city"])
    fire(app, "name_team", users["city"])
    db.session.commit()

    assert app.state == "named"
    assert entry_scores(app).final == 85
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


def test_certificate_pdf_holds_the_awardee_and_serial(app, world, make_application):
    from pypdf import PdfReader

    from app.services.certificates import certificate_pdf

    users = world["users"]
    application = make_application("wj1", name="王喆书画社")
    _name_entry(application, users)
    db.session.commit()
    certificate = db.session.scalar(select(Certificate))
    text = PdfReader(certificate_pdf(certificate)).pages[0].extract_text()
    assert "王喆书画社" in text and certificate.serial in text
    assert "二〇" in text and "X市教育局" in text


def test_a_name_no_font_covers_is_refused_before_issuing(world, make_application):
    import pytest

    from app.engine.errors import ValidationFailed

    users = world["users"]
    application = make_application("wj1", name="\U00030EDE队")
    with pytest.raises(ValidationFailed) as refused:
        _name_entry(application, users)
    assert "\U00030EDE" in refused.value.message
    db.session.rollback()
    assert db.session.scalar(select(Certificate)) is None


def _name_entry(application, users):
    fire(application, "submit", users["wj1"])
    fire(application, "recommend", users["wj_admin"], data={"rank": 1, "opinion": "推荐"})
    sheet = confirmed(assign_expert(application, users["expert1"], users["city"]))
    save_review(sheet, users["expert1"], SCORES, "", submit=True)
    fire(application, "publish_notice", users["city"])
    fire(application, "name_team", users["city"])
