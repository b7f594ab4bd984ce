"""Rubric bands, comment thresholds and veto items (一票否决)."""

from __future__ import annotations

import pytest

from app.engine.checker import Checker
from app.engine.errors import ValidationFailed
from app.engine.rubric_schema import check_rubric
from app.engine.runtime import fire
from app.extensions import db
from app.services.reviews import assign_expert, save_review
from tests.conftest import confirmed

GOOD = {"organisation": 18, "resources": 13, "activities": 30, "impact": 26}


def _problems(doc):
    problems: list[str] = []
    check_rubric(doc, Checker("forms/r.yaml", problems))
    return problems


def _rubric(**criterion):
    return {"kind": "rubric", "key": "r", "title": "标准",
            "criteria": [{"key": "a", "label": "甲", "max": 20, **criterion}]}


def test_bands_must_fit_the_criterion_and_not_overlap():
    assert _problems(_rubric(bands=[{"label": "优", "min": 18, "max": 20},
                                    {"label": "良", "min": 14, "max": 17.5}])) == []
    assert "bands 'good' and 'top' overlap" in _problems(_rubric(bands=[
        {"label": "top", "min": 15, "max": 20}, {"label": "good", "min": 10, "max": 15}]))[0]
    assert "needs 0 <= min <= max <= 20, got 18..25" in _problems(_rubric(bands=[
        {"label": "优", "min": 18, "max": 25}]))[0]


def test_comment_threshold_and_bands_only_on_scored_criteria():
    doc = _rubric(comment_below=5)
    doc["criteria"][0] = {"key": "p", "label": "父项", "comment_below": 5, "criteria": [
        {"key": "c", "label": "子项", "max": 10}]}
    assert "belong on criteria that get points" in _problems(doc)[0]
    assert "must be above 0 and at most 20" in _problems(_rubric(comment_below=30))[0]


def test_veto_keys_may_not_repeat_criterion_keys():
    doc = _rubric()
    doc["vetoes"] = [{"key": "a", "label": "弄虚作假"}]
    assert "criteria and vetoes share keys" in _problems(doc)[0]


@pytest.fixture
def sheet(world, make_application):
    users = world["users"]
    entry = make_application("wj1")
    fire(entry, "submit", users["wj1"])
    fire(entry, "recommend", users["wj_admin"], data={"rank": 1, "opinion": "推荐"})
    sheet = confirmed(assign_expert(entry, users["expert1"], users["city"]))
    db.session.commit()
    return sheet


def test_a_low_score_needs_a_comment_when_submitting(world, sheet):
    expert = world["users"]["expert1"]
    low = {**GOOD, "activities": 20}  # comment_below: 21
    save_review(sheet, expert, low, "", submit=False)  # a draft may wait for the comment
    with pytest.raises(ValidationFailed) as refused:
        save_review(sheet, expert, low, "", submit=True)
    assert refused.value.details == {"comment": "“学习活动”得分偏低，请在评语中说明理由"}
    db.session.rollback()
    save_review(sheet, expert, low, "活动次数偏少。", submit=True)
    assert sheet.status == "submitted"


def test_checked_veto_items_are_stored_and_unknown_ones_refused(world, sheet):
    expert = world["users"]["expert1"]
    with pytest.raises(ValidationFailed) as refused:
        save_review(sheet, expert, GOOD, "", submit=False, vetoes=["bribery"])
    assert "bribery" in refused.value.details["vetoes"]
    db.session.rollback()
    save_review(sheet, expert, GOOD, "材料与实地不符。", submit=True, vetoes=["falsified"])
    db.session.commit()
    db.session.expire_all()
    assert sheet.vetoes == ["falsified"] and sheet.total == 87
