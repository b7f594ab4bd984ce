"""Award proposals: levels by proportion and threshold, caps per group, confirmed by the city."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from app.engine.errors import Conflict, Forbidden, ValidationFailed
from app.engine.runtime import fire
from app.extensions import db
from app.models import Application, ReviewAssignment
from app.services.accounts import add_user
from app.services.awards import confirm_proposal, level_counts, propose_awards
from app.services.programmes import CATALOGUE
from app.services.reviews import assign_expert, reopen_sheet, save_review
from tests.conftest import confirmed


def _level(name, proportion=None, threshold=None):
    return {"name": name, "name_en": "", "proportion": proportion, "threshold": threshold}


@pytest.fixture
def awards(app, world):
    """Set the programme's award rules for one test; return a function that does it."""
    for quota in world["call"].quotas:
        quota.quota = 5
    world["judge"] = add_user("judge", "expert", "X-OU", "a-long-password")
    reviews = app.extensions[CATALOGUE]["excellent_team"].workflow["reviews"]

    def define(levels, group_by=None, per_group=False, cap=None):
        reviews["awards"] = {"levels": levels, "group_by": group_by, "per_group": per_group,
                             "cap": cap}

    return define


def _scored(world, make_application, who, total):
    """An entry in city review with one submitted sheet of `total` points."""
    users = world["users"]
    entry = make_application(who, name=f"{who}队")
    fire(entry, "submit", users[who])
    admin = users["wj_admin"] if who.startswith("wj") else users["tn_admin"]
    fire(entry, "recommend", admin, data={"rank": 1, "opinion": "推荐"})
    sheet = confirmed(assign_expert(entry, world["judge"], users["city"]))
    save_review(sheet, world["judge"], {"organisation": 20, "resources": 15,
                                        "activities": total - 65, "impact": 30}, "说明",
                submit=True)
    return entry


def test_levels_by_proportion(world, make_application, awards):
    awards([_level("一等奖", "0.15"), _level("二等奖", "0.25"), _level("三等奖", "0.3")])
    entries = [_scored(world, make_application, who, total) for who, total in
               (("wj1", 95), ("wj2", 90), ("wj3", 85), ("tn1", 80), ("tn2", 75), ("tn3", 70))]
    db.session.commit()

    proposal = propose_awards(world["call"], world["users"]["city"])

    # 6 entries: 15 % → 0.9 → 1, 25 % → 1.5 → 2, 30 % → 1.8 → 2; the sixth gets none.
    assert [(row["entry"], row["level"], row["reason"]) for row in proposal.rows] == [
        (entries[0].id, "一等奖", "proportion"), (entries[1].id, "二等奖", "proportion"),
        (entries[2].id, "二等奖", "proportion"), (entries[3].id, "三等奖", "proportion"),
        (entries[4].id, "三等奖", "proportion"), (entries[5].id, None, "outside_proportion")]
    assert level_counts(proposal) == {"一等奖": 1, "二等奖": 2, "三等奖": 2}
    assert db.session.get(Application, entries[0].id).award is None  # not before confirmation


def test_a_threshold_and_a_cap_per_district(world, make_application, awards):
    awards([_level("优秀", threshold="72")], group_by="district", cap=2)
    wj = [_scored(world, make_application, who, t) for who, t in
          (("wj1", 95), ("wj2", 90), ("wj3", 85))]
    tn = [_scored(world, make_application, who, t) for who, t in
          (("tn1", 80), ("tn2", 75), ("tn3", 70))]
    db.session.commit()

    rows = {row["entry"]: row for row in propose_awards(world["call"],
                                                        world["users"]["city"]).rows}

    assert [(rows[e.id]["level"], rows[e.id]["reason"]) for e in wj] == [
        ("优秀", "threshold"), ("优秀", "threshold"), (None, "cap_reached")]
    assert rows[wj[2].id]["held_back"] == "优秀" and rows[wj[2].id]["group"] == "WJ"
    assert [(rows[e.id]["level"], rows[e.id]["reason"]) for e in tn] == [
        ("优秀", "threshold"), ("优秀", "threshold"), (None, "below_threshold")]


def test_the_city_confirms_with_named_changes_and_a_reason(world, make_application, awards):
    awards([_level("一等奖", "0.5")])
    a = _scored(world, make_application, "wj1", 95)
    b = _scored(world, make_application, "wj2", 80)
    db.session.commit()
    city = world["users"]["city"]
    proposal = propose_awards(world["call"], city)
    with pytest.raises(Forbidden):
        confirm_proposal(proposal, world["users"]["wj_admin"])
    with pytest.raises(ValidationFailed) as refused:
        confirm_proposal(proposal, city, {b.id: "一等奖"})
    assert refused.value.details == {"note": "调整奖项时请说明理由"}
    with pytest.raises(ValidationFailed):
        confirm_proposal(proposal, city, {b.id: "特等奖"}, "笔误")

    confirm_proposal(proposal, city, {b.id: "一等奖"}, "专家组复议，两队并列")
    db.session.commit()

    assert (db.session.get(Application, a.id).award, db.session.get(Application, b.id).award) \
        == ("一等奖", "一等奖")
    changed = next(row for row in proposal.rows if row["entry"] == b.id)
    assert (changed["proposed"], changed["level"], changed["reason"]) == (None, "一等奖", "changed")
    assert proposal.status == "confirmed" and proposal.note == "专家组复议，两队并列"
    with pytest.raises(Conflict):
        confirm_proposal(proposal, city)


def test_a_proposal_is_refused_once_the_ranking_has_changed(world, make_application, awards):
    awards([_level("一等奖", "0.5")])
    _scored(world, make_application, "wj1", 95)
    b = _scored(world, make_application, "wj2", 80)
    db.session.commit()
    city = world["users"]["city"]
    proposal = propose_awards(world["call"], city)
    sheet = db.session.scalar(select(ReviewAssignment).filter_by(application_id=b.id))
    reopen_sheet(sheet, city, "分数录入有误")
    save_review(sheet, world["judge"], {"organisation": 20, "resources": 15, "activities": 35,
                                        "impact": 30}, "", submit=True)  # now 100
    db.session.commit()

    with pytest.raises(Conflict) as refused:
        confirm_proposal(proposal, city)
    assert refused.value.message == "排名在建议生成后发生了变化，请重新生成奖项建议"
    newer = propose_awards(world["call"], city)
    assert proposal.status == "superseded"
    assert newer.rows[0]["entry"] == b.id and newer.rows[0]["level"] == "一等奖"


def test_no_award_rules_means_no_proposal(world, make_application):
    with pytest.raises(Conflict):
        propose_awards(world["call"], world["users"]["city"])
