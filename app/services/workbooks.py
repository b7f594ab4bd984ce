"""Writing .xlsx workbooks the way bureau officials open them in WPS or Excel.

Row 1 of every sheet is the header (bold, shaded, frozen, filterable). Workbooks are write-only:
rows go to a temporary file as they are appended, so a sheet of ten thousand rows costs no more
memory than its first few hundred — the column widths are fitted to those (``SAMPLE``) before
the first row is written, as write-only sheets require. Scores stay Decimal up to the cell
(written as numbers, two decimals shown); times are shown in Beijing time as real dates.
"""

from __future__ import annotations

import io
import unicodedata
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

from openpyxl import Workbook
from openpyxl.cell import WriteOnlyCell
from openpyxl.styles import Alignment, Font, PatternFill
from openpyxl.utils import get_column_letter
from openpyxl.worksheet._write_only import WriteOnlyWorksheet

LOCAL = ZoneInfo("Asia/Shanghai")
TIME_FORMAT = "yyyy-mm-dd hh:mm"
DATE_FORMAT = "yyyy-mm-dd"
SCORE_FORMAT = "0.00"
HEADER_FONT = Font(bold=True)
HEADER_FILL = PatternFill("solid", fgColor="DDEBF7")
HEADER_ALIGN = Alignment(horizontal="center", vertical="center", wrap_text=True)
MIN_WIDTH, MAX_WIDTH = 6, 50
SAMPLE = 500  # rows looked at to fit the column widths
FORBIDDEN_IN_TITLES = str.maketrans({c: "_" for c in "[]:*?/\\"})


@dataclass(frozen=True)
class Table:
    """One worksheet: its name, header texts and rows of plain values."""

    title: str
    headers: list[str]
    rows: Iterable[list[Any]]


class SheetWriter:
    """A worksheet filled row by row: the first ``SAMPLE`` rows wait until the widths are
    known, the others go straight to the file."""

    def __init__(self, workbook: Workbook, title: str, headers: list[str]) -> None:
        self.ws: WriteOnlyWorksheet = workbook.create_sheet(sheet_title(title))
        self.headers = headers
        self.waiting: list[list[Any]] | None = []
        self.count = 0

    def append(self, row: list[Any]) -> None:
        """Add a row of plain values."""
        self.count += 1
        if self.waiting is None:
            self.ws.append([_cell(self.ws, value) for value in row])
            return
        self.waiting.append(row)
        if len(self.waiting) >= SAMPLE:
            self._start()

    def close(self) -> None:
        """Write what still waits and the filter over every row."""
        if self.waiting is not None:
            self._start()
        self.ws.auto_filter.ref = f"A1:{get_column_letter(len(self.headers))}{self.count + 1}"

    def _start(self) -> None:
        """Widths and frozen header first (write-only sheets need them before rows)."""
        rows, self.waiting = self.waiting or [], None
        for index, width in enumerate(_widths(self.headers, rows), start=1):
            self.ws.column_dimensions[get_column_letter(index)].width = width
        self.ws.freeze_panes = "A2"
        self.ws.append([_header_cell(self.ws, text) for text in self.headers])
        for row in rows:
            self.ws.append([_cell(self.ws, value) for value in row])


def new_workbook(title: str) -> Workbook:
    """An empty streamed workbook whose properties carry ``title`` (e.g. the call's)."""
    workbook = Workbook(write_only=True)
    workbook.properties.title = title
    return workbook


def workbook_bytes(workbook: Workbook) -> bytes:
    """The finished workbook as .xlsx bytes."""
    out = io.BytesIO()
    workbook.save(out)
    return out.getvalue()


def tables_xlsx(title: str, tables: Iterable[Table]) -> bytes:
    """A workbook with one worksheet per table, as .xlsx bytes."""
    workbook = new_workbook(title)
    for table in tables:
        sheet = SheetWriter(workbook, table.title, table.headers)
        for row in table.rows:
            sheet.append(row)
        sheet.close()
    return workbook_bytes(workbook)


def sheet_title(text: str) -> str:
    """A worksheet name Excel accepts: at most 31 characters, none of []:*?/\\."""
    return text.translate(FORBIDDEN_IN_TITLES)[:31] or "Sheet"


def _header_cell(ws: WriteOnlyWorksheet, text: str) -> WriteOnlyCell:
    """A bold, shaded header cell."""
    cell = WriteOnlyCell(ws, value=text)
    cell.font, cell.fill, cell.alignment = HEADER_FONT, HEADER_FILL, HEADER_ALIGN
    return cell


def _cell(ws: WriteOnlyWorksheet, value: Any) -> Any:
    """A value as a cell: times in Beijing time (Excel has no zones), dates as dates, scores
    with two decimals, text beginning with = as text."""
    if isinstance(value, datetime):
        local = value.astimezone(LOCAL).replace(tzinfo=None) if value.tzinfo else value
        return _formatted(ws, local, TIME_FORMAT)
    if isinstance(value, date):
        return _formatted(ws, value, DATE_FORMAT)
    if isinstance(value, Decimal):
        return _formatted(ws, value, SCORE_FORMAT)
    if isinstance(value, str) and value.startswith("="):
        cell = WriteOnlyCell(ws, value=value)
        cell.data_type = "s"  # typed text stays text: never a formula Excel would run
        return cell
    return value


def _formatted(ws: WriteOnlyWorksheet, value: Any, number_format: str) -> WriteOnlyCell:
    """A cell with a number format."""
    cell = WriteOnlyCell(ws, value=value)
    cell.number_format = number_format
    return cell


def _widths(headers: list[str], rows: list[list[Any]]) -> list[float]:
    """Column widths fitting the longest text (Chinese characters count double), capped."""
    widths = [_text_width(text) for text in headers]
    for row in rows:
        for index, value in enumerate(row[:len(widths)]):
            widths[index] = max(widths[index], _text_width(_shown(value)))
    return [min(MAX_WIDTH, max(MIN_WIDTH, width + 2)) for width in widths]


def _shown(value: Any) -> str:
    """Roughly how a value appears in its cell."""
    if value is None:
        return ""
    if isinstance(value, datetime):
        return "2026-01-01 00:00"
    if isinstance(value, date):
        return "2026-01-01"
    if isinstance(value, Decimal):
        return f"{value:.2f}"
    return str(value)


def _text_width(text: str) -> int:
    """Display width: wide (East Asian) characters take two columns."""
    return sum(2 if unicodedata.east_asian_width(ch) in "WF" else 1 for ch in text)
