"""A call's applications as a workbook: one row per entry with every form field as a column.

Columns: who and where the entry stands, then every field of the application form (all sections,
stage sections too, in form order; fields only older pinned versions have come after), then the
fields of the step forms (e.g. the district's rank and opinion), then the result. Numbers stay
numbers, dates are dates, choices show their labels, files their names; a table field shows its
number of rows, and its rows go to a worksheet of their own. Entries are read ``CHUNK`` at a
time with one query per table, so ten thousand entries cost a few dozen queries and bounded
memory. What is exported is what the administrator may see on each entry's page.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import date
from typing import Any

from sqlalchemy import Select, select
from sqlalchemy.orm import selectinload

from app.engine.definitions import Programme
from app.engine.errors import Forbidden
from app.extensions import db
from app.i18n import zh
from app.models import Application, Call, Certificate, Role, User
from app.services.programmes import current_programme, pinned_programme, programme_of
from app.services.workbooks import SheetWriter, new_workbook, sheet_title, workbook_bytes

CHUNK = 500
ENTRY_HEADERS = ["申报编号", "申报名称", "申报单位", "所属区", "当前状态", "提交时间"]
RESULT_HEADERS = ["获奖等级", "推荐至上级", "推荐时间", "证书编号"]
TABLE_HEADERS = ["申报编号", "申报名称", "所属区", "行号"]


@dataclass(frozen=True)
class Column:
    """One form field as a column: from the application form (``step`` None) or a step form."""

    field: dict[str, Any]
    header: str
    step: str | None = None

    def value(self, application: Application) -> Any:
        """The field's stored value for this entry."""
        data = application.data if self.step is None \
            else (application.step_data or {}).get(self.step)
        return (data or {}).get(self.field["key"])


def require_administrator(viewer: User) -> None:
    """Exports of a call are for city and district administrators."""
    if viewer.role not in (Role.CITY_ADMIN, Role.DISTRICT_ADMIN):
        raise Forbidden(zh("只有管理员可以导出申报数据"))


def applications_xlsx(call: Call, viewer: User, entries: Select[Any],
                      progress: Callable[[int, int], None] | None = None) -> bytes:
    """The entries ``entries`` selects (already limited to what ``viewer`` may list, in the
    order wanted) with every field, as .xlsx bytes; ``progress(done, total)`` is told after
    every ``CHUNK`` entries (a background job shows it)."""
    require_administrator(viewer)
    ids = list(db.session.scalars(entries.with_only_columns(Application.id)))
    columns = form_columns(call, ids)
    workbook = new_workbook(call.title)
    main = SheetWriter(workbook, "申报信息", [*ENTRY_HEADERS, *(c.header for c in columns),
                                           *RESULT_HEADERS])
    titles = {"申报信息"}
    tables = [(c, SheetWriter(workbook, _unique(c.field["label"], titles), [
        *TABLE_HEADERS, *(str(col["label"]) for col in c.field["columns"])]))
        for c in columns if c.field["type"] == "table"]
    for done, (application, serial) in enumerate(_entries(ids), start=1):
        main.append([*entry_cells(application), *(_column_cell(c, application) for c in columns),
                     application.award, application.recommended_to,
                     application.recommended_at, serial])
        for column, sheet in tables:
            for number, row in enumerate(column.value(application) or [], start=1):
                sheet.append([application.id, application.title, _district(application), number,
                              *(form_cell(col, row.get(col["key"]))
                                for col in column.field["columns"])])
        if progress is not None and (done % CHUNK == 0 or done == len(ids)):
            progress(done, len(ids))  # at a chunk's end: the next chunk is read afresh
    for sheet in (main, *(sheet for _column, sheet in tables)):
        sheet.close()
    return workbook_bytes(workbook)


def form_columns(call: Call, ids: list[int]) -> list[Column]:
    """The application form's fields, then those of the step forms, of the call's programme
    as defined now and as pinned by these entries (each field once, first definition wins)."""
    programmes = [current_programme(call.programme_key), *_pinned(ids)]
    columns: dict[tuple[str | None, str], Column] = {}
    for programme in programmes:
        for field in programme.application_form.fields:
            columns.setdefault((None, field["key"]), Column(field, _header(field)))
    for programme in programmes:
        for key in _step_forms(programme):
            form = programme.forms[key]
            for field in form.fields:
                columns.setdefault((key, field["key"]), Column(
                    field, f"{form.raw['title']}·{_header(field)}", key))
    return list(columns.values())


def _pinned(ids: list[int]) -> list[Programme]:
    """The programme versions these entries are pinned to."""
    versions: set[int] = set()
    for start in range(0, len(ids), CHUNK):
        versions.update(db.session.scalars(select(Application.programme_version_id).where(
            Application.id.in_(ids[start:start + CHUNK])).distinct()))
    return [pinned_programme(version) for version in sorted(versions)]


def _step_forms(programme: Programme) -> list[str]:
    """The keys of the forms filled in with a transition, in the order of the transitions."""
    return list(dict.fromkeys(t["form"] for t in programme.transitions if t["form"]))


def _header(field: dict[str, Any]) -> str:
    """A field's column header: its label, with the unit or what a table column holds."""
    label = str(field["label"])
    if field["type"] == "table":
        return f"{label}（行数）"
    if field.get("unit"):
        return f"{label}（{field['unit']}）"
    return label


def _entries(ids: list[int]) -> Iterator[tuple[Application, str | None]]:
    """The entries in the order of ``ids`` with their valid certificate's serial, read a
    chunk at a time (one query per table and chunk; the session holds loaded rows weakly, so
    a chunk is let go once written)."""
    for start in range(0, len(ids), CHUNK):
        chunk = ids[start:start + CHUNK]
        rows = {a.id: a for a in db.session.scalars(select(Application).where(
            Application.id.in_(chunk)).options(
            selectinload(Application.org), selectinload(Application.district),
            selectinload(Application.attachments)))}
        serials = dict(db.session.execute(select(Certificate.application_id, Certificate.serial)
                                          .where(Certificate.application_id.in_(chunk),
                                                 Certificate.status == "valid")).all())
        for application_id in chunk:
            if application_id in rows:
                yield rows[application_id], serials.get(application_id)


def entry_cells(application: Application) -> list[Any]:
    """The columns that say which entry it is and where it stands."""
    return [application.id, application.title, application.org.name, _district(application),
            programme_of(application).label(application.state), application.submitted_at]


def _district(application: Application) -> str | None:
    """The entry's district name, if it has one."""
    return application.district.name if application.district else None


def _column_cell(column: Column, application: Application) -> Any:
    """One field of one entry as a cell; files by their names."""
    if column.field["type"] == "file":
        names = [a.original_name for a in application.attachments
                 if a.field_key == column.field["key"]]
        return "、".join(names) or None
    return form_cell(column.field, column.value(application))


def form_cell(field: dict[str, Any], value: Any) -> Any:
    """A stored form value as a cell: numbers as numbers, dates as dates, choices by their
    labels (several joined with 、), yes/no as 是/否, a table as its number of rows."""
    if value is None or value == "" or value == []:
        return None
    kind = field["type"]
    if kind == "boolean":
        return "是" if value else "否"
    if kind == "choice":
        return _choice_label(field, value)
    if kind == "multi_choice":
        return "、".join(_choice_label(field, v) for v in value)
    if kind == "table":
        return len(value)
    if kind == "date":
        try:
            return date.fromisoformat(str(value))
        except ValueError:
            return str(value)
    if kind in ("integer", "decimal") and isinstance(value, int | float):
        return value
    return "、".join(map(str, value)) if isinstance(value, list) else str(value)


def _choice_label(field: dict[str, Any], value: Any) -> str:
    """The label of a choice value (the value itself if the definition no longer has it)."""
    return next((str(c["label"]) for c in field["choices"] if c["value"] == str(value)),
                str(value))


def _unique(label: Any, seen: set[str]) -> str:
    """A worksheet name Excel accepts and not used yet in this workbook (kept in ``seen``)."""
    name, number = sheet_title(str(label))[:28], 2
    candidate = name
    while candidate in seen:
        candidate, number = f"{name}{number}", number + 1
    seen.add(candidate)
    return candidate
