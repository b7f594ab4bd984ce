"""Workbooks for the import tests, built with openpyxl as an administrator would fill them."""

from __future__ import annotations

import io
import re
import zipfile
from typing import Any

from openpyxl import Workbook, load_workbook

ORG_HEADERS = ["机构代码", "机构名称", "类型", "上级机构代码"]
USER_HEADERS = ["用户名", "姓名", "角色", "所属机构代码", "电子邮箱", "手机", "初始密码"]
EXPERT_HEADERS = ["用户名", "姓名", "所属机构代码", "职称", "专长", "电子邮箱", "手机", "初始密码"]

# A new district with a street and a unit (the unit comes first: order in the file is free),
# its administrator, an applicant with a password of her own, and two experts.
GOOD = {
    "机构": [ORG_HEADERS,
             ["XB-SQ-C", "三井街道社区教育中心", "单位", "XB-SQ"],
             ["XB", "新北区", "区", "X"],
             ["XB-SQ", "三井街道", "街道", "XB"]],
    "用户": [USER_HEADERS,
             ["xb_admin", "新北区管理员", "区级管理员", "XB", "xb@example.cn", 13800000001, ""],
             ["sanjing", "吴静", "申报人", "XB-SQ-C", "", "0519-86000000", "sanjing-pass-1"]],
    "专家": [EXPERT_HEADERS,
             ["wang", "王教授", "X-OU", "教授", "美育与艺术鉴赏、体育与健康养生", "", 13900000000.0,
              ""],
             ["zhao", "赵老师", "XB-SQ-C", "高级讲师", "社区教育；老年教育", "zhao@example.cn", "",
              ""]],
}


def workbook(sheets: dict[str, list[list[Any]]]) -> bytes:
    """An .xlsx with one sheet per key, rows as given (the first row holds the headers)."""
    book = Workbook()
    default = book.active
    for name, rows in sheets.items():
        sheet = book.create_sheet(name)
        for row in rows:
            sheet.append(row)
    if default is not None:
        book.remove(default)
    buffer = io.BytesIO()
    book.save(buffer)
    return buffer.getvalue()


def filled_template(template: bytes, sheets: dict[str, list[list[Any]]]) -> bytes:
    """The downloaded template with data rows typed in from row 3 (headers left as they are)."""
    book = load_workbook(io.BytesIO(template))
    for name, rows in sheets.items():
        for number, row in enumerate(rows[1:], start=3):
            for column, value in enumerate(row, start=1):
                book[name].cell(row=number, column=column, value=value)
    buffer = io.BytesIO()
    book.save(buffer)
    return buffer.getvalue()


def with_cached_value(data: bytes, sheet_index: int, cell: str, value: str) -> bytes:
    """The file with a cached result written into a formula cell, as Excel does on saving."""
    source = zipfile.ZipFile(io.BytesIO(data))
    target_buffer = io.BytesIO()
    name = f"xl/worksheets/sheet{sheet_index}.xml"
    with zipfile.ZipFile(target_buffer, "w", zipfile.ZIP_DEFLATED) as target:
        for item in source.infolist():
            body = source.read(item.filename)
            if item.filename == name:
                text = body.decode()
                text = re.sub(rf'<c r="{cell}"([^>]*)><f>(.*?)</f><v\s*/?>(</v>)?</c>',
                              rf'<c r="{cell}"\1 t="str"><f>\2</f><v>{value}</v></c>', text)
                assert f"<v>{value}</v>" in text, "formula cell not found"
                body = text.encode()
            target.writestr(item, body)
    return target_buffer.getvalue()
