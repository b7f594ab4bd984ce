"""Reading an uploaded workbook of organisations, users and experts.

The file is checked before anything else (size, .xlsx, readable, not a zip bomb), then each known
sheet is found by name and each column by its header, in any order. Cell values are cleaned the
way people type them into Excel: numbers typed as numbers (a phone as 13800000000), full-width
letters and digits in codes, stray spaces; a formula counts by its value, never its text.
"""

from __future__ import annotations

import io
import unicodedata
import zipfile
from dataclasses import dataclass, field
from datetime import date, datetime, time
from typing import Any

from openpyxl import load_workbook

from app.engine.errors import ValidationFailed
from app.i18n import joined, zh

MAX_BYTES = 5 * 1024 * 1024
MAX_UNPACKED = 80 * 1024 * 1024  # the XML inside; a small file may unpack to gigabytes
MAX_ROWS = 5000
HEADER_SEARCH = 10  # the header row may follow a few title rows
COMMENT = "#"  # a row whose first filled cell starts with it is a note, never data


@dataclass(frozen=True)
class Column:
    """One column of a sheet: its key in the code, its Chinese header and how it is read."""

    key: str
    header: str
    required: bool = False
    note: str = ""
    folded: bool = False  # codes, usernames, e-mail, phone: full-width forms folded (NFKC)
    aliases: tuple[str, ...] = ()
    choices: tuple[str, ...] = ()  # offered as a drop-down list in the template


@dataclass(frozen=True)
class SheetSpec:
    """A sheet the importer reads, by name, with its columns (the first one identifies rows)."""

    name: str
    columns: tuple[Column, ...]

    def column(self, key: str) -> Column:
        """The column with this key."""
        return next(c for c in self.columns if c.key == key)


@dataclass(frozen=True)
class Problem:
    """One thing wrong (or worth knowing) about a file, a sheet, a row or a cell."""

    sheet: str
    row: int  # as Excel numbers it; 0 for the sheet as a whole
    column: str  # the header; "" for the whole row
    message: str

    def __str__(self) -> str:
        values = {"sheet": self.sheet, "row": self.row, "column": self.column,
                  "message": self.message}
        if self.row and self.column:
            return zh("【%(sheet)s】第 %(row)s 行「%(column)s」：%(message)s", **values)
        if self.row:
            return zh("【%(sheet)s】第 %(row)s 行：%(message)s", **values)
        if self.column:
            return zh("【%(sheet)s】「%(column)s」：%(message)s", **values)
        return zh("【%(sheet)s】：%(message)s", **values)


@dataclass
class Row:
    """A data row: the cleaned text of each known column, and the formulas with no value."""

    number: int
    values: dict[str, str]
    unresolved: list[str] = field(default_factory=list)


@dataclass
class Sheet:
    """A sheet as read: which known columns it has, and its data rows."""

    spec: SheetSpec
    present: set[str]
    rows: list[Row]


@dataclass
class ParsedFile:
    """The known sheets of a workbook, what is wrong with their structure (problems) and
    what was left out of it (notes: columns not known)."""

    sheets: dict[str, Sheet] = field(default_factory=dict)
    problems: list[Problem] = field(default_factory=list)
    notes: list[Problem] = field(default_factory=list)


def read_workbook(data: bytes, specs: tuple[SheetSpec, ...]) -> ParsedFile:
    """Read the sheets named in ``specs``; refuse a file that is not a readable .xlsx."""
    _check_container(data)
    try:
        parsed = _read_sheets(data, specs)
    except Exception as exc:
        # Broken or hostile files fail deep inside openpyxl (or the XML parser, row by row)
        # with many kinds of errors; every one of them means the same to whoever uploaded it.
        raise ValidationFailed(zh("无法读取该文件，请确认是用 Excel 或 WPS 保存的 .xlsx 文件"),
                               {"file": type(exc).__name__}) from exc
    if not parsed.sheets and not parsed.problems:
        wanted = joined(f"「{spec.name}」" for spec in specs)
        raise ValidationFailed(zh("文件中没有可导入的工作表（应为 %(wanted)s）",
                                  wanted=wanted), {"file": "sheets"})
    if sum(len(sheet.rows) for sheet in parsed.sheets.values()) > MAX_ROWS:
        raise ValidationFailed(zh("一次最多导入 %(max_rows)s 行，请分成几个文件导入",
                                  max_rows=MAX_ROWS),
                               {"file": "rows"})
    return parsed


def _read_sheets(data: bytes, specs: tuple[SheetSpec, ...]) -> ParsedFile:
    """Open the workbook twice, for values and for formulas, and read the known sheets."""
    values = load_workbook(io.BytesIO(data), read_only=True, data_only=True)
    formulas = load_workbook(io.BytesIO(data), read_only=True, data_only=False)
    try:
        parsed = ParsedFile()
        names = {_header(sheet.title): sheet.title for sheet in values.worksheets}
        for spec in specs:
            if spec.name in names:
                real = names[spec.name]
                sheet = _read_sheet(spec, values[real], formulas[real], parsed)
                if sheet is not None:
                    parsed.sheets[spec.name] = sheet
        return parsed
    finally:
        values.close()
        formulas.close()


def _check_container(data: bytes) -> None:
    """Refuse empty, oversized, old-format (.xls) and non-zip files, and zip bombs."""
    if not data:
        raise ValidationFailed(zh("文件是空的"), {"file": "empty"})
    if len(data) > MAX_BYTES:
        raise ValidationFailed(zh("文件超过 %(megabytes)s MB",
                                  megabytes=MAX_BYTES // (1024 * 1024)), {"file": "size"})
    if data.startswith(b"\xd0\xcf\x11\xe0"):
        raise ValidationFailed(zh("这是旧版 Excel（.xls）文件，"
                                  "请在 Excel 或 WPS 中另存为 .xlsx 后再导入"), {"file": "xls"})
    if not data.startswith(b"PK\x03\x04"):
        raise ValidationFailed(zh("文件不是 .xlsx 格式，请上传 Excel 工作簿（.xlsx）"),
                               {"file": "type"})
    try:
        with zipfile.ZipFile(io.BytesIO(data)) as archive:
            unpacked = sum(info.file_size for info in archive.infolist())
    except zipfile.BadZipFile as exc:
        raise ValidationFailed(zh("文件已损坏，无法读取"), {"file": "zip"}) from exc
    if unpacked > MAX_UNPACKED:
        raise ValidationFailed(zh("文件解压后过大，请删去无关的工作表或分批导入"),
                               {"file": "unpacked"})


def _read_sheet(spec: SheetSpec, values: Any, formulas: Any, parsed: ParsedFile) -> Sheet | None:
    """Find the header row and the columns, then read the data rows below it."""
    rows = values.iter_rows()
    formula_rows = formulas.iter_rows()
    by_header = {_header(name): c for c in spec.columns for name in (c.header, *c.aliases)}
    first = spec.columns[0]
    for number in range(1, HEADER_SEARCH + 1):
        cells = next(rows, None)
        next(formula_rows, None)
        if cells is None:
            break
        headers = [str(cell.value).strip() if cell.value is not None else "" for cell in cells]
        if any(by_header.get(_header(text)) is first for text in headers):
            return _read_rows(spec, headers, by_header, number, rows, formula_rows, parsed)
    parsed.problems.append(Problem(spec.name, 0, "", zh("找不到表头行（前 %(header_search)s 行中"
                                                        "应有「%(header)s」一列）",
                                                        header_search=HEADER_SEARCH,
                                                        header=first.header)))
    return None


def _read_rows(spec: SheetSpec, headers: list[str], by_header: dict[str, Column],
               header_row: int, rows: Any, formula_rows: Any, parsed: ParsedFile) -> Sheet | None:
    """The data rows under the header: notes, empty rows and unknown columns are left out."""
    positions: dict[int, Column] = {}
    for index, text in enumerate(headers):
        column = by_header.get(_header(text))
        if column is None:
            if text:
                parsed.notes.append(Problem(spec.name, header_row, text, zh("未识别的列，已忽略")))
        elif column in positions.values():
            parsed.problems.append(Problem(spec.name, header_row, text, zh("列重复")))
        else:
            positions[index] = column
    missing = [c.header for c in spec.columns if c.required and c not in positions.values()]
    for header in missing:
        parsed.problems.append(Problem(spec.name, header_row, header, zh("缺少必需的列")))
    if missing:
        return None
    sheet = Sheet(spec, {c.key for c in positions.values()}, [])
    for number, cells in enumerate(rows, start=header_row + 1):
        formula_cells = next(formula_rows, ())
        texts = {index: _text(cells[index].value if index < len(cells) else None, column.folded)
                 for index, column in positions.items()}
        unresolved = [column.key for index, column in positions.items()
                      if not texts[index] and index < len(formula_cells)
                      and formula_cells[index].data_type == "f"]
        filled = [text for _, text in sorted(texts.items()) if text]
        if (not filled and not unresolved) or (filled and filled[0].startswith(COMMENT)):
            continue
        sheet.rows.append(Row(number, {positions[i].key: t for i, t in texts.items()},
                              unresolved))
        if len(sheet.rows) > MAX_ROWS:
            break  # read_workbook refuses the file; no need to read a million rows first
    return sheet


def _header(value: Any) -> str:
    """A header as compared: full-width folded, no spaces or required-marks, lower case."""
    text = unicodedata.normalize("NFKC", str(value or ""))
    return "".join(text.split()).replace("*", "").lower()


def _text(value: Any, folded: bool) -> str:
    """A cell's value as the text a person meant."""
    if value is None:
        return ""
    if isinstance(value, bool):
        text = "TRUE" if value else "FALSE"
    elif isinstance(value, int):
        text = str(value)
    elif isinstance(value, float):
        # 13800000000 typed into a General cell arrives as a float.
        text = str(int(value)) if value.is_integer() else repr(value)
    elif isinstance(value, datetime):
        text = value.date().isoformat() if value.time() == time() else value.isoformat(" ")
    elif isinstance(value, date | time):
        text = value.isoformat()
    else:
        text = str(value)
    if folded:
        text = unicodedata.normalize("NFKC", text)
    return text.replace("\u200b", "").replace("\ufeff", "").strip()
