"""The applications workbook (every form field), the district summary table (汇总表) and the
public-notice list, opened with openpyxl and compared with what the database holds."""

from __future__ import annotations

import io
from datetime import date, datetime, timedelta

import pytest
from openpyxl import load_workbook
from sqlalchemy import select

from app.engine.errors import Conflict, Forbidden
from app.engine.runtime import fire
from app.extensions import db
from app.models import Application, Certificate
from app.services.application_export import applications_xlsx, form_cell
from app.services.applications import visible_applications
from app.services.reviews import assign_expert, save_review
from app.services.summary_export import district_summary_xlsx, notice_xlsx
from tests.conftest import TEAM_SCORES, confirmed
from tests.statements import recorded

FORM_HEADERS = [
    "团队名称", "所属社区教育中心", "成立时间", "团队人数（人）", "活动领域",
    "每周活动时长（小时）", "团队负责人", "联系电话", "电子邮箱", "主要成员（行数）", "活动方式",
    "团队简介与活动开展情况", "建设成效与社会影响", "本人承诺所填信息真实有效", "团队章程",
    "盖章申报表（扫描件）", "活动照片"]
HEADERS = ["申报编号", "申报名称", "申报单位", "所属区", "当前状态", "提交时间", *FORM_HEADERS,
           "区级推荐意见·推荐排序", "区级推荐意见·推荐意见", "获奖等级", "推荐至上级", "推荐时间",
           "证书编号"]


def _sheets(data: bytes) -> dict[str, list[list[object]]]:
    """The workbook as the official opens it: sheet name → rows of values."""
    workbook = load_workbook(io.BytesIO(data))
    return {ws.title: [list(row) for row in ws.iter_rows(values_only=True)]
            for ws in workbook.worksheets}


def _beijing(moment: datetime) -> datetime:
    """A stored UTC time as Excel shows it: Beijing time, no zone."""
    return (moment + timedelta(hours=8)).replace(tzinfo=None)


def _scoped(call, user):
    """The entries page's query: what the user may list, by district then submission."""
    return (visible_applications(user).where(Application.call_id == call.id).order_by(None)
            .order_by(Application.district_id, Application.submitted_at, Application.id))


@pytest.fixture
def entries(world, make_application):
    """wj1: named with a certificate (award 优秀); wj2: waiting for the district, with a script
    and a formula typed into its fields; tn1: one member, not recommended; tn2: a draft."""
    users = world["users"]
    named = make_application("wj1", name="湖塘太极拳队")
    waiting = make_application("wj2", name="牛塘合唱团", introduction="<script>alert(1)</script>",
                               leader="=HYPERLINK(\"http://x\")", activities=["集中学习"])
    refused = make_application("tn1", name="天宁书画社",
                               members=[{"name": "李四", "gender": "男", "age": 66}])
    draft = make_application("tn2", name="草稿队")
    for entry in (named, waiting, refused):
        fire(entry, "submit", entry.applicant)
    fire(named, "recommend", users["wj_admin"], data={"rank": 1, "opinion": "材料齐全，推荐"})
    save_review(confirmed(assign_expert(named, users["expert1"], users["city"])),
                users["expert1"], TEAM_SCORES, "好", submit=True)
    fire(named, "publish_notice", users["city"])
    fire(named, "name_team", users["city"])
    named.award = "优秀"  # as a confirmed award proposal sets it
    fire(refused, "not_recommend", users["tn_admin"], comment="材料不全")
    db.session.commit()
    return {"named": named, "waiting": waiting, "refused": refused, "draft": draft}


def test_every_submitted_entry_is_a_row_with_every_field(world, entries):
    call, city = world["call"], world["users"]["city"]
    named, waiting, refused = entries["named"], entries["waiting"], entries["refused"]

    sheets = _sheets(applications_xlsx(call, city, _scoped(call, city)))

    rows = sheets["申报信息"]
    assert rows[0] == HEADERS
    assert [row[0] for row in rows[1:]] == [named.id, waiting.id, refused.id]  # no draft
    got = dict(zip(HEADERS, rows[1], strict=True))
    serial = db.session.scalar(select(Certificate.serial).where(
        Certificate.application_id == named.id))
    assert got == {
        "申报编号": named.id, "申报名称": "湖塘太极拳队", "申报单位": "武进区单位1",
        "所属区": "武进区", "当前状态": "已命名", "提交时间": got["提交时间"],
        "团队名称": "湖塘太极拳队", "所属社区教育中心": "某中心",
        "成立时间": datetime(2021, 3, 15), "团队人数（人）": 12, "活动领域": "美育与艺术鉴赏",
        "每周活动时长（小时）": 6, "团队负责人": "张三", "联系电话": "13912345678",
        "电子邮箱": "team@example.cn", "主要成员（行数）": 2, "活动方式": "集中学习、社区展演",
        "团队简介与活动开展情况": named.data["introduction"],
        "建设成效与社会影响": named.data["achievements"], "本人承诺所填信息真实有效": "是",
        "团队章程": "章程.pdf", "盖章申报表（扫描件）": None, "活动照片": None,
        "区级推荐意见·推荐排序": 1, "区级推荐意见·推荐意见": "材料齐全，推荐",
        "获奖等级": "优秀", "推荐至上级": None, "推荐时间": None, "证书编号": serial}
    assert serial and abs(got["提交时间"] - _beijing(named.submitted_at)) < timedelta(seconds=1)
    assert [dict(zip(HEADERS, row, strict=True))["当前状态"] for row in rows[1:]] == [
        "已命名", "区级初审", "区级未推荐"]
    assert rows[3][HEADERS.index("主要成员（行数）")] == 1


def test_numbers_are_numbers_dates_are_dates_and_typed_formulas_stay_text(world, entries):
    call, city = world["call"], world["users"]["city"]
    workbook = load_workbook(io.BytesIO(applications_xlsx(call, city, _scoped(call, city))))
    ws = workbook["申报信息"]
    column = {header: index + 1 for index, header in enumerate(HEADERS)}

    assert ws.cell(2, column["团队人数（人）"]).data_type == "n"
    assert ws.cell(2, column["成立时间"]).is_date
    assert ws.cell(2, column["成立时间"]).number_format == "yyyy-mm-dd"
    assert ws.cell(2, column["提交时间"]).number_format == "yyyy-mm-dd hh:mm"
    leader = ws.cell(3, column["团队负责人"])
    assert (leader.value, leader.data_type) == ('=HYPERLINK("http://x")', "s")
    assert ws.cell(3, column["团队简介与活动开展情况"]).value == "<script>alert(1)</script>"
    assert ws.freeze_panes == "A2" and all(cell.font.b for cell in ws[1])


def test_table_fields_get_a_sheet_with_a_row_per_table_row(world, entries):
    call, city = world["call"], world["users"]["city"]
    named, waiting = entries["named"], entries["waiting"]

    rows = _sheets(applications_xlsx(call, city, _scoped(call, city)))["主要成员"]

    assert rows[0] == ["申报编号", "申报名称", "所属区", "行号", "姓名", "性别", "年龄", "团队职务"]
    assert rows[1:] == [
        [named.id, "湖塘太极拳队", "武进区", 1, "张三", "女", 58, "队长"],
        [named.id, "湖塘太极拳队", "武进区", 2, "陈明", "男", 63, "副队长"],
        [waiting.id, "牛塘合唱团", "武进区", 1, "张三", "女", 58, "队长"],
        [waiting.id, "牛塘合唱团", "武进区", 2, "陈明", "男", 63, "副队长"],
        [entries["refused"].id, "天宁书画社", "天宁区", 1, "李四", "男", 66, None]]


def test_a_district_administrator_exports_their_district_only(world, entries):
    call, users = world["call"], world["users"]

    rows = _sheets(applications_xlsx(call, users["tn_admin"],
                                     _scoped(call, users["tn_admin"])))["申报信息"]

    assert [row[0] for row in rows[1:]] == [entries["refused"].id]
    with pytest.raises(Forbidden):
        applications_xlsx(call, users["wj1"], _scoped(call, users["wj1"]))
    with pytest.raises(Forbidden):
        district_summary_xlsx(call, users["expert1"])


def test_filters_of_the_entries_page_apply(world, entries):
    call, city = world["call"], world["users"]["city"]
    query = _scoped(call, city).where(Application.state == "district_review")

    rows = _sheets(applications_xlsx(call, city, query))["申报信息"]

    assert [row[0] for row in rows[1:]] == [entries["waiting"].id]


def test_cells_follow_the_field_type():
    choice = {"type": "multi_choice", "choices": [{"value": "a", "label": "甲"},
                                                   {"value": "b", "label": "乙"}]}
    assert form_cell(choice, ["a", "b"]) == "甲、乙"
    assert form_cell({**choice, "type": "choice"}, "gone") == "gone"  # no longer defined
    assert form_cell({"type": "date"}, "2026-06-01") == date(2026, 6, 1)
    assert form_cell({"type": "decimal"}, 2.5) == 2.5
    assert form_cell({"type": "boolean"}, False) == "否"
    assert form_cell({"type": "text"}, "") is None


def test_the_summary_table_counts_each_district_and_totals_them(world, entries):
    call = world["call"]

    rows = _sheets(district_summary_xlsx(call, world["users"]["city"]))["汇总表"]

    assert rows == [  # districts by code; the award level found though the programme has none
        ["所属区", "申报数", "推荐数", "推荐名额", "最低推荐数", "区级初审", "已命名", "区级未推荐",
         "优秀", "获奖合计"],
        ["天宁区", 1, 0, 1, None, 0, 0, 1, 0, 0],
        ["武进区", 2, 1, 2, None, 1, 1, 0, 1, 1],
        ["合计", 3, 1, 3, None, 1, 1, 1, 1, 1]]


def test_a_district_sees_its_own_row_of_the_summary(world, entries):
    rows = _sheets(district_summary_xlsx(world["call"], world["users"]["tn_admin"]))["汇总表"]

    assert rows[1:] == [["天宁区", 1, 0, 1, None, 1]]
    assert rows[0] == ["所属区", "申报数", "推荐数", "推荐名额", "最低推荐数", "区级未推荐"]


def test_award_levels_of_the_programme_are_counted(world, contest):
    users = world["users"]
    first = contest["enter"]("wj1", "太极拳入门")
    contest["enter"]("tn1", "剪纸艺术")
    first.award = "一等奖"
    db.session.commit()

    rows = _sheets(district_summary_xlsx(contest["call"], users["city"]))["汇总表"]

    header = rows[0]
    assert header[-4:] == ["一等奖", "二等奖", "三等奖", "获奖合计"]
    assert [row[-4:] for row in rows[1:]] == [[0, 0, 0, 0], [1, 0, 0, 1], [1, 0, 0, 1]]
    assert [row[:5] for row in rows[1:]] == [
        ["天宁区", 1, 1, 3, None], ["武进区", 1, 1, 3, None], ["合计", 2, 2, 6, None]]


def test_the_notice_list_has_the_rows_and_columns_of_the_public_page(world, in_notice, client):
    page = client.get("/notices").get_data(as_text=True)

    rows = _sheets(notice_xlsx(world["call"], world["users"]["city"]))["公示中"]

    assert rows == [["团队名称", "所属社区教育中心", "团队负责人", "活动领域", "单位"],
                    ["湖塘太极拳队", "某中心", "张三", "美育与艺术鉴赏", "武进区单位1"]]
    for header in rows[0][:-1]:
        assert f"<th scope=\"col\">{header}</th>" in page
    for value in rows[1]:
        assert f">{value}</td>" in page


def test_no_notice_list_when_nothing_is_in_notice(world, entries):
    with pytest.raises(Conflict):
        notice_xlsx(world["call"], world["users"]["city"])


def test_the_export_reads_a_chunk_of_entries_with_a_fixed_number_of_queries(world, entries,
                                                                             make_application):
    call, city = world["call"], world["users"]["city"]

    def count() -> int:
        """Statements run by one export of the whole call."""
        with recorded(db.engine) as statements:
            applications_xlsx(call, city, _scoped(call, city))
        return len(statements)

    before = count()
    for name in ("新增甲队", "新增乙队", "新增丙队"):
        fire(make_application("wj3", name=name), "submit", world["users"]["wj3"])
    db.session.commit()

    assert count() == before  # six entries cost what three did: no query per entry
