"""Excel exports: what a bureau official sees when opening the workbook in WPS or Excel."""

from __future__ import annotations

import io
from datetime import datetime, timedelta
from decimal import Decimal

import pytest
from openpyxl import load_workbook
from sqlalchemy import select

from app.engine.runtime import fire
from app.extensions import db
from app.models import ReviewAssignment
from app.services.exports import ranking_xlsx, review_sheets_xlsx
from app.services.panels import open_entry
from app.services.reviews import assign_expert, save_review
from tests.conftest import confirmed, live_final

SHEET_HEADERS = [
    "轮次", "申报编号", "申报名称", "所属区", "专家", "专家账号", "状态", "是否追加专家",
    "初赛网评·教学设计(40)", "初赛网评·教案与课件质量(30)", "初赛网评·视频展示效果(30)",
    "决赛现场评分·课程与学情分析(25)", "决赛现场评分·教学过程设计(30)",
    "决赛现场评分·学法指导与技能示范(15)", "决赛现场评分·资源与课件(5)",
    "决赛现场评分·语言表达与时间控制(10)", "决赛现场评分·信息技术运用(15)",
    "总分", "否决项", "评语", "分配时间", "提交时间", "回避理由"]
RESULT_HEADERS = ["轮次", "申报编号", "申报名称", "所属区", "已交评分数", "得分", "原始分", "方法",
                  "最高最低分差", "需复核", "否决", "结果"]
RANKING_HEADERS = ["名次", "申报编号", "申报名称", "申报单位", "所属区", "初赛网评（权重 0.3）",
                   "决赛现场评分（权重 0.7）", "最终得分", "当前状态", "获奖等级"]
FINAL = [("analysis", 25), ("process", 30), ("guidance", 15), ("resources", 5), ("delivery", 10),
         ("technology", 15)]


def _open(data):
    """The workbook as the official opens it: sheet name → rows of values."""
    workbook = load_workbook(io.BytesIO(data))
    return {ws.title: [list(row) for row in ws.iter_rows(values_only=True)]
            for ws in workbook.worksheets}


def _num(value):
    """A number read back from a cell, compared exactly as a Decimal."""
    return Decimal(str(value))


def _sheet(entry, judge, city, points, comment="", submit=True, vetoes=None):
    """A judge's preliminary sheet: design, materials, presentation points."""
    sheet = confirmed(assign_expert(entry, judge, city))
    scores = dict(zip(("design", "materials", "presentation"), points, strict=False))
    return save_review(sheet, judge, scores, comment, submit=submit, vetoes=vetoes)


@pytest.fixture
def scored(world, contest):
    """Three entries in the preliminary round, each with three judges' sheets.

    太极拳入门: 80 submitted, 84 submitted with the plagiarism veto, a draft (design 30 only).
    手机摄影: 90, 88, 86 (mean 88). 剪纸艺术: 70, 72, 74 (mean 72).
    """
    city, judges = world["users"]["city"], contest["judges"]
    a = contest["enter"]("wj1", "太极拳入门")
    b = contest["enter"]("wj2", "手机摄影")
    c = contest["enter"]("tn1", "剪纸艺术")
    _sheet(a, judges[0], city, (35, 25, 20), "设计完整")
    _sheet(a, judges[1], city, (34, 25, 25), "与网上课例雷同", vetoes=["plagiarism"])
    _sheet(a, judges[2], city, (30,), submit=False)
    for entry, totals in ((b, (90, 88, 86)), (c, (70, 72, 74))):
        for judge, total in zip(judges, totals, strict=False):
            _sheet(entry, judge, city, (40, 30, total - 70), "好")
    db.session.commit()
    return {"a": a, "b": b, "c": c, "city": city, "judges": judges}


def test_score_sheets_list_every_sheet_with_its_points(contest, scored):
    a, judges = scored["a"], scored["judges"]

    rows = _open(review_sheets_xlsx(contest["call"]))["评分明细"]

    assert rows[0] == SHEET_HEADERS
    assert len(rows) == 1 + 9  # three entries × three sheets
    vetoed = dict(zip(SHEET_HEADERS, rows[2], strict=True))
    assert {k: vetoed[k] for k in ("轮次", "申报编号", "申报名称", "所属区", "专家", "专家账号",
                                   "状态", "是否追加专家", "否决项", "评语", "回避理由")} == {
        "轮次": "初赛网评", "申报编号": a.id, "申报名称": "太极拳入门", "所属区": "武进区",
        "专家": "评委2", "专家账号": "judge2", "状态": "已提交", "是否追加专家": None,
        "否决项": "抄袭他人作品", "评语": "与网上课例雷同", "回避理由": None}
    assert [_num(v) for v in rows[2][8:11]] == [34, 25, 25]
    assert rows[2][11:17] == [None] * 6  # no final-round criteria on a preliminary sheet
    assert isinstance(vetoed["总分"], int | float) and _num(vetoed["总分"]) == 84
    draft = dict(zip(SHEET_HEADERS, rows[3], strict=True))
    assert (draft["专家"], draft["状态"], _num(draft["总分"]), draft["提交时间"]) == (
        "评委3", "草稿", 30, None)
    assert [row[4] for row in rows[1:]] == ["评委1", "评委2", "评委3"] * 3
    sheet = db.session.scalar(select(ReviewAssignment).filter_by(expert_id=judges[1].id,
                                                                 application_id=a.id))
    beijing = (sheet.submitted_at + timedelta(hours=8)).replace(tzinfo=None)
    shown = vetoed["提交时间"]
    assert isinstance(shown, datetime) and abs(shown - beijing) < timedelta(seconds=1)


def test_times_show_as_dates_and_the_header_is_bold_and_frozen(contest, scored):
    workbook = load_workbook(io.BytesIO(review_sheets_xlsx(contest["call"])))
    ws = workbook["评分明细"]

    assert workbook.properties.title == "2026年X市社区教育教师能力大赛"
    assert ws.freeze_panes == "A2"
    assert all(cell.font.b for cell in ws[1])
    assert ws["V2"].number_format == "yyyy-mm-dd hh:mm"  # 提交时间
    assert ws.column_dimensions["C"].width >= 12  # 申报名称: room for Chinese titles


def test_round_results_give_each_entry_its_score(contest, scored):
    a, b, c = scored["a"], scored["b"], scored["c"]

    rows = _open(review_sheets_xlsx(contest["call"]))["各轮结果"]

    assert rows[0] == RESULT_HEADERS
    got = {row[1]: (row[0], row[2], row[4], _num(row[5]), row[7], _num(row[8]), row[9], row[10],
                    row[11]) for row in rows[1:]}
    assert got == {  # the preliminary round takes the mean of the submitted sheets; still open
        a.id: ("初赛网评", "太极拳入门", 2, Decimal(82), "均值", Decimal(4), None, "是", "暂定"),
        b.id: ("初赛网评", "手机摄影", 3, Decimal(88), "均值", Decimal(4), None, None, "暂定"),
        c.id: ("初赛网评", "剪纸艺术", 3, Decimal(72), "均值", Decimal(4), None, None, "暂定"),
    }


def test_ranking_before_the_final_lists_every_entry_as_missing_a_round(contest, scored):
    rows = _open(ranking_xlsx(contest["call"]))["排名"]

    assert rows[0] == RANKING_HEADERS
    assert [(row[0], row[2], row[3], row[4], row[7], row[8]) for row in rows[1:]] == [
        ("缺轮次", "太极拳入门", "武进区单位1", "武进区", None, "市初赛（网评）"),
        ("缺轮次", "手机摄影", "武进区单位2", "武进区", None, "市初赛（网评）"),
        ("缺轮次", "剪纸艺术", "天宁区单位1", "天宁区", None, "市初赛（网评）")]
    assert [_num(row[5]) for row in rows[1:]] == [82, 88, 72]
    assert [row[6] for row in rows[1:]] == [None] * 3


def test_ranking_after_the_final_places_entries_by_weighted_score(contest, scored):
    b, c, city, judges = scored["b"], scored["c"], scored["city"], scored["judges"]
    for entry in (b, c):
        fire(entry, "advance", city)
    panel = live_final(contest, judges[2:], [b, c], city)
    for entry, totals in ((b, (90, 88, 86, 84, 70)), (c, (80, 80, 80, 80, 80))):
        open_entry(panel, entry, city)
        for judge, total in zip(judges[2:], totals, strict=True):
            sheet = db.session.scalar(select(ReviewAssignment).filter_by(
                application_id=entry.id, expert_id=judge.id, round="city_final"))
            scores, left = {}, total
            for key, most in FINAL:
                scores[key], left = min(most, left), left - min(most, left)
            save_review(sheet, judge, scores, "现场", submit=True)
    db.session.commit()

    rows = _open(ranking_xlsx(contest["call"]))["排名"]

    # 手机摄影: 0.3 × 88 + 0.7 × (88+86+84)/3 = 86.60; 剪纸艺术: 0.3 × 72 + 0.7 × 80 = 77.60
    assert [(row[0], row[2], _num(row[5]), _num(row[6]), _num(row[7])) for row in rows[1:3]] == [
        (1, "手机摄影", 88, 86, Decimal("86.60")), (2, "剪纸艺术", 72, 80, Decimal("77.60"))]
    assert (rows[3][0], rows[3][2], rows[3][7]) == ("缺轮次", "太极拳入门", None)
    sheets = _open(review_sheets_xlsx(contest["call"]))["评分明细"]
    assert len(sheets) == 1 + 9 + 10
    final_row = sheets[10]
    assert (final_row[0], final_row[4], final_row[8:11]) == ("决赛现场评分", "评委3",
                                                             [None] * 3)
    assert [_num(v) for v in final_row[11:17]] == [25, 30, 15, 5, 10, 5]  # 90 split in order


def test_a_call_without_sheets_exports_header_rows_only(contest):
    sheets = _open(review_sheets_xlsx(contest["call"]))
    ranking = _open(ranking_xlsx(contest["call"]))

    assert sheets == {"评分明细": [SHEET_HEADERS], "各轮结果": [RESULT_HEADERS]}
    assert ranking == {"排名": [RANKING_HEADERS]}
