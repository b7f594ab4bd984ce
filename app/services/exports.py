"""Excel (.xlsx) exports of a call's score sheets, round results and ranking, for the bureau.

Row 1 of every sheet is the header (bold, frozen, filterable) so officials can sort and filter in
WPS or Excel; the call's title goes into the workbook's properties. Scores stay Decimal up to the
cell (openpyxl writes them as numbers); times are shown in Beijing time.
"""

from __future__ import annotations

import dataclasses
from decimal import Decimal
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import selectinload

from app.engine.definitions import Programme, ReviewRound
from app.engine.formdata import plain_number
from app.extensions import db
from app.models import Application, Call, ReviewAssignment
from app.review.aggregate import EntryResult
from app.services.application_export import form_cell
from app.services.programmes import current_programme, programme_of
from app.services.ranking import RankingRow, rank_call
from app.services.rounds import EntryStatus, round_status, stored_results
from app.services.workbooks import Table, tables_xlsx

STATUS = {"assigned": "未开始", "draft": "草稿", "submitted": "已提交", "conflict": "已回避",
          "withdrawn": "已撤回"}
METHODS = {"mean": "均值", "trimmed_mean": "去掉最高最低分后均值", "median": "中位数"}


def review_sheets_xlsx(call: Call) -> bytes:
    """Every score sheet of the call (all rounds), then each round's result per entry."""
    programme = current_programme(call.programme_key)
    return tables_xlsx(call.title, [_sheets_table(call, programme),
                                    _results_table(call, programme)])


def ranking_xlsx(call: Call) -> bytes:
    """The call's ranking: place, each round's score, the final score, state and award."""
    return tables_xlsx(call.title, [_ranking_table(call)])


# --- sheet "评分明细" -------------------------------------------------------------------------


def _criteria(programme: Programme) -> list[tuple[str, str, str]]:
    """(round, criterion key, header) for every criterion of every round's rubric, in order."""
    return [(r.name, leaf["key"], f"{r.label}·{leaf['label']}({plain_number(leaf['max'])})")
            for r in programme.rounds.values() for leaf in r.rubric.leaves]


def _call_sheets(call: Call, programme: Programme) -> list[ReviewAssignment]:
    """The call's score sheets, by round (in programme order), entry, then assignment."""
    order = {name: n for n, name in enumerate(programme.rounds)}
    sheets = db.session.scalars(
        select(ReviewAssignment).join(Application)
        .where(Application.call_id == call.id)
        .options(selectinload(ReviewAssignment.application).selectinload(Application.district))
        .order_by(ReviewAssignment.application_id, ReviewAssignment.id))
    return sorted(sheets, key=lambda s: order.get(s.round, len(order)))  # stable sort


def _sheets_table(call: Call, programme: Programme) -> Table:
    """One row per score sheet, one column per criterion of every round."""
    criteria = _criteria(programme)
    headers = ["轮次", "申报编号", "申报名称", "所属区", "专家", "专家账号", "状态",
               "是否追加专家", *(header for _r, _k, header in criteria), "总分", "否决项",
               "评语", "分配时间", "提交时间", "回避理由"]
    rows = [_sheet_row(sheet, programme, criteria) for sheet in _call_sheets(call, programme)]
    return Table("评分明细", headers, rows)


def _sheet_row(sheet: ReviewAssignment, programme: Programme,
               criteria: list[tuple[str, str, str]]) -> list[Any]:
    """A score sheet as a row: criterion points only in its own round's columns."""
    review_round = programme.rounds.get(sheet.round)
    scores = sheet.scores or {}
    points = [_decimal(scores.get(key)) if name == sheet.round else None
              for name, key, _header in criteria]
    return [review_round.label if review_round else sheet.round, *_entry(sheet.application),
            sheet.expert.display_name, sheet.expert.username,
            STATUS.get(sheet.status, sheet.status), "是" if sheet.extra else None, *points,
            sheet.total, _veto_labels(sheet, programme), sheet.comment or None,
            sheet.assigned_at, sheet.submitted_at, sheet.conflict_reason or None]


def _veto_labels(sheet: ReviewAssignment, programme: Programme) -> str | None:
    """The labels of the vetoes the expert checked, joined; None when there are none."""
    rubric = programme.rubrics.get(sheet.rubric_key)
    labels = {v["key"]: v["label"] for v in rubric.raw["vetoes"]} if rubric else {}
    return "、".join(labels.get(key, key) for key in sheet.vetoes or []) or None


# --- sheet "各轮结果" -------------------------------------------------------------------------


def _results_table(call: Call, programme: Programme) -> Table:
    """Each round's result per entry: the stored result of a closed round, else computed now."""
    headers = ["轮次", "申报编号", "申报名称", "所属区", "已交评分数", "得分", "原始分", "方法",
               "最高最低分差", "需复核", "否决", "结果"]
    rows = []
    for review_round in programme.rounds.values():
        status = round_status(call, review_round.name)
        stored = stored_results(status.record.result) \
            if status.closed and status.record is not None and status.record.result else None
        for entry in status.entries:
            if stored is not None:
                entry = dataclasses.replace(entry, result=stored.get(entry.application.id))
            rows.append([*_result_row(review_round, entry),
                         "已保存" if stored is not None else "暂定"])
    return Table("各轮结果", headers, rows)


def _result_row(review_round: ReviewRound, entry: EntryStatus) -> list[Any]:
    """An entry's result in a round; the score columns stay blank without submitted sheets."""
    result = entry.result
    figures: list[Any] = [None] * 6
    if result is not None:
        figures = [result.score, result.raw_score, METHODS.get(result.method_used,
                                                              result.method_used),
                   result.spread, _yes(result.flagged_dispersion), _yes(result.vetoed)]
    return [review_round.label, *_entry(entry.application), entry.submitted, *figures]


# --- sheet "排名" ---------------------------------------------------------------------------


def _ranking_table(call: Call) -> Table:
    """The ranked entries (vetoed last), then those missing a round."""
    ranking = rank_call(call)
    names = [column.round.name for column in ranking.columns]
    headers = ["名次", "申报编号", "申报名称", "申报单位", "所属区",
               *(f"{c.round.label}（权重 {plain_number(c.round.weight)}）"
                 for c in ranking.columns),
               "最终得分", "当前状态", "获奖等级"]
    return Table("排名", headers, [_ranking_row(row, names) for row in ranking.rows])


def _ranking_row(row: RankingRow, names: list[str]) -> list[Any]:
    """One entry of the ranking."""
    application = row.application
    place: Any = "缺轮次"
    if row.place is not None:
        place = "否决" if row.place.vetoed else row.place.position
    scores = [_score(row.rounds.get(name)) for name in names]
    return [place, application.id, application.title, application.org.name,
            _district(application), *scores, row.final,
            programme_of(application).label(application.state), application.award or None]


# --- shared helpers -------------------------------------------------------------------------


def _entry(application: Application) -> list[Any]:
    """The columns that identify an entry: id, title, district."""
    return [application.id, application.title, _district(application)]


def _district(application: Application) -> str | None:
    """The entry's district name, if it has one."""
    return application.district.name if application.district else None


def _score(result: EntryResult | None) -> Decimal | None:
    """A round's score, if the entry has one."""
    return result.score if result is not None else None


def _yes(flag: bool) -> str | None:
    """是 for a set flag, blank otherwise."""
    return "是" if flag else None


def _decimal(value: Any) -> Decimal | None:
    """Stored points (strings in JSON) as a Decimal."""
    return None if value in (None, "") else Decimal(str(value))


def recommended_xlsx(call: Call, entries: list[Application], serials: dict[int, str]) -> bytes:
    """The entries recommended to a higher level: who, award, certificate serial (``serials``
    by entry id), every form field."""
    programme = current_programme(call.programme_key)
    fields = [f for f in programme.application_form.fields
              if f["type"] not in ("file", "table")]
    headers = ["序号", "推荐至", "申报编号", "申报名称", "申报单位", "所属区", "获奖等级",
               "证书编号", *(str(f["label"]) for f in fields)]
    rows = []
    for number, application in enumerate(entries, start=1):
        serial = serials.get(application.id)
        data = application.data or {}
        rows.append([number, application.recommended_to, application.id, application.title,
                     application.org.name, _district(application), application.award or None,
                     serial, *(form_cell(f, data.get(f["key"])) for f in fields)])
    return tables_xlsx(call.title, [Table("推荐名单", headers, rows)])

