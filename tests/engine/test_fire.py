"""Firing transitions: roles, scope, comments, step forms, guards, stale moves."""

from __future__ import annotations

import threading

import pytest
from sqlalchemy import select

from app.engine.errors import Conflict, Forbidden, GuardsFailed, NotFound, ValidationFailed
from app.engine.runtime import available_transitions, fire
from app.extensions import db
from app.models import Application, AuditEntry
from app.models.applications import AppendOnly
from app.services.programmes import CATALOGUE

RECOMMEND = {"rank": 1, "opinion": "推荐"}
ROLES = ["applicant", "district_admin", "city_admin", "expert"]
ACTOR_FOR_ROLE = {"applicant": "wj1", "district_admin": "wj_admin", "city_admin": "city",
                  "expert": "expert1"}


def _transitions(app):
    return app.extensions[CATALOGUE]["excellent_team"].transitions


def test_only_the_roles_a_transition_names_may_fire_it(app, world, make_application):
    users = world["users"]
    for transition in _transitions(app):
        for role in ROLES:
            if role in transition["roles"]:
                continue
            application = make_application("wj1", name=f"{transition['trigger']}-{role}")
            with pytest.raises((Forbidden, Conflict)):
                fire(application, transition["trigger"], users[ACTOR_FOR_ROLE[role]],
                     comment="理由")
            db.session.rollback()


def test_applicant_cannot_submit_someone_elses_entry(world, make_application):
    application = make_application("wj1")
    with pytest.raises(Forbidden):
        fire(application, "submit", world["users"]["wj2"])


def test_district_admin_acts_only_in_own_district(world, make_application):
    users = world["users"]
    application = make_application("wj1")
    fire(application, "submit", users["wj1"])
    with pytest.raises(Forbidden):
        fire(application, "recommend", users["tn_admin"], data=RECOMMEND)
    fire(application, "recommend", users["wj_admin"], data=RECOMMEND)
    assert application.state == "city_review"


def test_comment_required_and_step_form_validated(world, make_application):
    users = world["users"]
    application = make_application("wj1")
    fire(application, "submit", users["wj1"])
    with pytest.raises(ValidationFailed) as missing_comment:
        fire(application, "return_for_correction", users["wj_admin"], comment="  ")
    assert missing_comment.value.details == {"comment": "此项为必填项"}
    with pytest.raises(ValidationFailed) as bad_form:
        fire(application, "recommend", users["wj_admin"], data={"rank": 0})
    assert set(bad_form.value.details) == {"rank", "opinion"}
    fire(application, "recommend", users["wj_admin"], data=RECOMMEND)
    assert application.step_data["district_recommendation"] == RECOMMEND


def test_submit_guard_names_missing_fields(world):
    from app.services.applications import create_application

    users = world["users"]
    draft = create_application(world["call"], users["wj1"], {"team_name": "只有名字"})
    with pytest.raises(GuardsFailed) as refused:
        fire(draft, "submit", users["wj1"])
    assert "团队章程" in refused.value.message and "团队人数" in refused.value.message
    assert draft.state == "draft"


def test_quota_refusal_shows_the_numbers(world, make_application):
    users = world["users"]
    first, second = make_application("tn1"), make_application("tn2", name="第二队")
    for application in (first, second):
        fire(application, "submit", users[application.applicant.username])
    fire(first, "recommend", users["tn_admin"], data=RECOMMEND)
    with pytest.raises(GuardsFailed) as refused:
        fire(second, "recommend", users["tn_admin"], data=RECOMMEND)
    assert refused.value.details["reasons"] == ["本区推荐名额为 1 个，已推荐 1 个，名额已用完"]
    moves = {m.trigger: m for m in available_transitions(second, users["tn_admin"])}
    assert not moves["recommend"].allowed and moves["return_for_correction"].allowed


def test_unknown_trigger_and_wrong_state(world, make_application):
    application = make_application("wj1")
    with pytest.raises(NotFound):
        fire(application, "explode", world["users"]["wj1"])
    with pytest.raises(Conflict):
        fire(application, "resubmit", world["users"]["wj1"])


def test_final_state_stays_final(world, make_application):
    users = world["users"]
    application = make_application("wj1")
    fire(application, "withdraw", users["wj1"])
    assert application.state == "withdrawn"
    assert available_transitions(application, users["wj1"]) == []
    with pytest.raises(Conflict):
        fire(application, "submit", users["wj1"])


def test_stale_version_is_a_conflict(world, make_application):
    application = make_application("wj1")
    stale = application.version - 1
    with pytest.raises(Conflict):
        fire(application, "submit", world["users"]["wj1"], expected_version=stale)
    assert application.state == "draft"


def test_two_sessions_fire_the_same_trigger_exactly_one_wins(app, world, make_application):
    application = make_application("wj1")
    app_id, user_id = application.id, world["users"]["wj1"].id
    db.session.commit()
    barrier = threading.Barrier(2)
    outcomes: list[str] = []

    def contender() -> None:
        with app.app_context():
            from app.models import User

            mine = db.session.get(Application, app_id)
            actor = db.session.get(User, user_id)
            _ = mine.state, mine.version, actor.org  # both load before either moves
            barrier.wait()
            try:
                fire(mine, "submit", actor)
                db.session.commit()
                outcomes.append("moved")
            except Conflict:
                db.session.rollback()
                outcomes.append("conflict")
            finally:
                db.session.remove()

    threads = [threading.Thread(target=contender) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(outcomes) == ["conflict", "moved"]
    db.session.expire_all()
    moves = db.session.scalars(select(AuditEntry).where(
        AuditEntry.application_id == app_id, AuditEntry.trigger == "submit")).all()
    assert len(moves) == 1
    assert db.session.get(Application, app_id).state == "district_review"


def test_the_audit_log_is_append_only(world, make_application):
    entry = make_application("wj1")
    fire(entry, "submit", world["users"]["wj1"])
    db.session.commit()
    moved = db.session.scalar(select(AuditEntry).filter_by(trigger="submit"))
    moved.comment = "改写的历史"
    with pytest.raises(AppendOnly):
        db.session.flush()
    db.session.rollback()
    db.session.delete(db.session.scalar(select(AuditEntry).filter_by(trigger="submit")))
    with pytest.raises(AppendOnly):
        db.session.flush()
    db.session.rollback()
    kept = db.session.scalar(select(AuditEntry).filter_by(trigger="submit"))
    assert (kept.comment, kept.to_state) == ("", "district_review")
