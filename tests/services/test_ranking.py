"""A call's ranking follows the programme's aggregation and tie-breaks; vetoed entries go last."""

from __future__ import annotations

from decimal import Decimal

import pytest

from app.engine.runtime import fire
from app.extensions import db
from app.services.accounts import add_user
from app.services.programmes import CATALOGUE
from app.services.ranking import rank_call
from app.services.reviews import assign_expert, save_review
from tests.conftest import confirmed


def _scored(world, make_application, who, name, totals, vetoes=()):
    """An entry in city review scored by one expert per total (activities carries the total)."""
    users = world["users"]
    entry = make_application(who, name=name)
    fire(entry, "submit", users[who])
    admin = users["wj_admin"] if who.startswith("wj") else users["tn_admin"]
    fire(entry, "recommend", admin, data={"rank": 1, "opinion": "推荐"})
    for n, total in enumerate(totals):
        expert = world["experts"][n]
        sheet = confirmed(assign_expert(entry, expert, users["city"]))
        scores = {"organisation": 20, "resources": 15, "activities": total - 65, "impact": 30}
        save_review(sheet, expert, scores, "说明", submit=True,
                    vetoes=list(vetoes) if n == 0 else [])
    return entry


@pytest.fixture
def experts(world):
    for quota in world["call"].quotas:
        quota.quota = 5  # room for every entry these tests recommend
    world["experts"] = [add_user(f"judge{n}", "expert", "X-OU", "a-long-password")
                        for n in range(5)]
    return world["experts"]


def test_mean_by_default_ties_by_submission_and_vetoed_last(world, make_application, experts):
    a = _scored(world, make_application, "wj1", "甲", [90, 80, 70])
    b = _scored(world, make_application, "wj2", "乙", [85, 85])
    c = _scored(world, make_application, "tn1", "丙", [95], vetoes=["falsified"])
    d = _scored(world, make_application, "wj3", "丁", [80, 80])
    db.session.commit()
    ranking = rank_call(world["call"])
    assert [c.settings.method for c in ranking.columns] == ["mean"]
    rows = ranking.rows
    assert [(r.application.id, r.place.position, r.final) for r in rows] == [
        (b.id, 1, Decimal("85.00")), (a.id, 2, Decimal("80.00")), (d.id, 3, Decimal("80.00")),
        (c.id, None, Decimal("95.00"))]
    assert rows[1].place.decided_by == "submitted_at" and rows[3].place.vetoed
    assert ranking.incomplete == []


def test_trimmed_mean_and_dispersion_from_the_definition(app, world, make_application,
                                                         experts):
    reviews = app.extensions[CATALOGUE]["excellent_team"].workflow["reviews"]
    reviews["aggregation"] = {"method": "trimmed_mean", "trim": 1, "min_panel": 5,
                              "dispersion_threshold": 15}
    wide = _scored(world, make_application, "wj1", "甲", [98, 90, 86, 84, 70])
    few = _scored(world, make_application, "wj2", "乙", [88, 86])
    db.session.commit()
    rows = rank_call(world["call"]).rows
    by_id = {r.application.id: r.rounds["city_review"] for r in rows}
    assert by_id[wide.id].score == Decimal("86.67") and by_id[wide.id].flagged_dispersion
    assert by_id[few.id].fallback_used and by_id[few.id].score == Decimal("87.00")
    assert [r.application.id for r in rows] == [few.id, wide.id]
