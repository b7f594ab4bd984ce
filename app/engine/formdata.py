"""Check and normalise form data against a form definition: one validation for UI and API."""

from __future__ import annotations

import re
from datetime import date
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation
from typing import Any

from app.engine.definitions import FormDef
from app.i18n import joined, zh

PHONE = re.compile(r"^(?:1[3-9]\d{9}|0\d{2,3}-?\d{7,8}(?:-\d{1,6})?)$")
EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
# Control characters (but tab and newline) and the bidirectional overrides and isolates, which
# make a name read differently from what it is ("湖塘\u202egnp.exe" shows as 湖塘exe.png) and
# which no certificate font can print.
HIDDEN = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f\u202a-\u202e\u2066-\u2069]")

Errors = dict[str, str]


def clean_data(form: FormDef, raw: dict[str, Any]) -> tuple[dict[str, Any], Errors]:
    """Coerce each given value to its field's type; empty values become None. Unknown keys fail."""
    data: dict[str, Any] = {}
    errors: Errors = {}
    for key, value in raw.items():
        field = form.by_key.get(key)
        if field is None:
            errors[key] = zh("表单中没有这个字段")
            continue
        if field["type"] == "file":
            errors[key] = zh("附件请通过上传接口提交")
            continue
        try:
            data[key] = clean_value(field, value)
        except ValueError as exc:
            errors[key] = str(exc)
    return data, errors


def missing_required(form: FormDef, data: dict[str, Any],
                     attachment_counts: dict[str, int]) -> Errors:
    """Return the required fields (and file fields) that are still empty, for submission."""
    errors: Errors = {}
    for field in form.fields:
        if field["type"] == "file":
            if field["required"] and not attachment_counts.get(field["key"]):
                errors[field["key"]] = zh("请上传此附件")
            continue
        value = data.get(field["key"])
        if field["type"] == "table":
            rows = len(value or [])
            needed = max(field["min_rows"], 1) if field["required"] or rows else 0
            if rows < needed:
                errors[field["key"]] = zh("至少填写 %(needed)s 行", needed=needed)
        elif field["type"] == "boolean":
            if field["required"] and value is not True:
                errors[field["key"]] = zh("请勾选此项")
        elif field["required"] and value in (None, "", []):
            errors[field["key"]] = zh("此项为必填项")
    return errors


def clean_value(field: dict[str, Any], value: Any) -> Any:
    """Coerce one value; raise ValueError with a Chinese message when it does not fit."""
    if value is None or value == "" or value == []:
        return None
    kind = field["type"]
    if kind in {"text", "textarea"}:
        return _text(field, value)
    if kind == "integer":
        return _bounded(field, _integer(value))
    if kind == "decimal":
        return _bounded(field, _decimal(field, value))
    if kind == "date":
        return _date(value)
    if kind == "choice":
        return _choice(field, value)
    if kind == "multi_choice":
        return _multi_choice(field, value)
    if kind == "boolean":
        if not isinstance(value, bool):
            raise ValueError(zh("应为“是”或“否”"))
        return value
    if kind == "phone":
        return _pattern(value, PHONE, zh("电话号码格式不正确（手机 11 位，或区号-号码）"))
    if kind == "email":
        return _pattern(value, EMAIL, zh("电子邮箱格式不正确"))
    if kind == "id_number":
        return _id_number(value)
    if kind == "table":
        return _table(field, value)
    raise ValueError(zh("不支持的字段类型 %(kind)s", kind=kind))


ID_NUMBER = re.compile(r"\d{17}[\dX]")
ID_WEIGHTS = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)
ID_CHECK = "10X98765432"


def _id_number(value: Any) -> str:
    """A mainland resident ID number (GB 11643): 18 characters, a valid birth date and check
    character; a lower-case x is stored as X, so the same person is always written alike."""
    if not isinstance(value, str):
        raise ValueError(zh("应为文本"))
    number = value.strip().upper()
    if not ID_NUMBER.fullmatch(number):
        raise ValueError(zh("身份证号码应为 18 位（最后一位可以是 X）"))
    try:
        date.fromisoformat(f"{number[6:10]}-{number[10:12]}-{number[12:14]}")
    except ValueError:
        raise ValueError(zh("身份证号码中的出生日期不正确")) from None
    total = sum(int(digit) * weight for digit, weight in zip(number, ID_WEIGHTS, strict=False))
    if ID_CHECK[total % 11] != number[-1]:
        raise ValueError(zh("身份证号码校验位不正确，请核对"))
    return number


def _text(field: dict[str, Any], value: Any) -> str:
    """A string within the field's length limits."""
    if not isinstance(value, str):
        raise ValueError(zh("应为文本"))
    value = value.strip().replace("\r\n", "\n")
    if problem := hidden_character(value):
        raise ValueError(problem)
    if len(value) > field["max_length"]:
        raise ValueError(zh("不能超过 %(max_length)s 字（当前 %(length)s 字）",
                            max_length=field['max_length'], length=len(value)))
    if value and len(value) < field["min_length"]:
        raise ValueError(zh("至少 %(min_length)s 字", min_length=field['min_length']))
    return value


def hidden_character(value: str) -> str | None:
    """Why ``value`` cannot be kept as typed: it holds a control or direction character."""
    hidden = HIDDEN.search(value)
    if hidden is None:
        return None
    return zh("不能包含控制字符或文字方向控制符（U+%(code)s）", code=f"{ord(hidden.group()):04X}")


def _integer(value: Any) -> int:
    """An integer given as a number or as digits."""
    if isinstance(value, bool):
        raise ValueError(zh("应为整数"))
    if isinstance(value, int):
        return value
    if isinstance(value, float) and value.is_integer():
        return int(value)
    if isinstance(value, str) and re.fullmatch(r"\s*-?\d{1,15}\s*", value):
        return int(value)
    raise ValueError(zh("应为整数"))


def _decimal(field: dict[str, Any], value: Any) -> float:
    """A number rounded to the field's decimal places."""
    if isinstance(value, bool):
        raise ValueError(zh("应为数字"))
    try:
        number = Decimal(str(value).strip())
    except InvalidOperation:
        raise ValueError(zh("应为数字")) from None
    if not number.is_finite():
        raise ValueError(zh("应为数字"))
    step = Decimal(1).scaleb(-field["places"])
    return float(number.quantize(step, rounding=ROUND_HALF_UP))


def _bounded(field: dict[str, Any], number: int | float) -> int | float:
    """Check a number against the field's min and max."""
    if field["min"] is not None and number < field["min"]:
        raise ValueError(zh("不能小于 %(minimum)s", minimum=plain_number(field['min'])))
    if field["max"] is not None and number > field["max"]:
        raise ValueError(zh("不能大于 %(maximum)s", maximum=plain_number(field['max'])))
    return number


def plain_number(number: Any) -> str:
    """A number as people write it, without trailing zeros or exponent: 40, 0.3, 75."""
    return format(Decimal(str(number)).normalize(), "f")


def _date(value: Any) -> str:
    """A date as YYYY-MM-DD."""
    if isinstance(value, date):
        return value.isoformat()
    try:
        return date.fromisoformat(str(value).strip()).isoformat()
    except ValueError:
        raise ValueError(zh("日期格式应为 YYYY-MM-DD")) from None


def _choice(field: dict[str, Any], value: Any) -> str:
    """One of the field's choice values."""
    values = [c["value"] for c in field["choices"]]
    if str(value) not in values:
        raise ValueError(zh("请从给定选项中选择"))
    return str(value)


def _multi_choice(field: dict[str, Any], value: Any) -> list[str]:
    """A list of distinct choice values, in the definition's order."""
    if not isinstance(value, list):
        raise ValueError(zh("应为选项列表"))
    values = [c["value"] for c in field["choices"]]
    chosen = {str(v) for v in value}
    if not chosen <= set(values):
        raise ValueError(zh("请从给定选项中选择"))
    if field["max_selected"] and len(chosen) > field["max_selected"]:
        raise ValueError(zh("最多选择 %(max_selected)s 项", max_selected=field['max_selected']))
    return [v for v in values if v in chosen]


def _pattern(value: Any, pattern: re.Pattern[str], message: str) -> str:
    """A string matching `pattern`."""
    if not isinstance(value, str) or not pattern.match(value.strip()):
        raise ValueError(message)
    return value.strip()


def _table(field: dict[str, Any], value: Any) -> list[dict[str, Any]] | None:
    """Rows of sub-fields; empty rows are dropped, errors name the row and column."""
    if not isinstance(value, list) or not all(isinstance(row, dict) for row in value):
        raise ValueError(zh("应为表格行的列表"))
    columns = {c["key"]: c for c in field["columns"]}
    rows = []
    for number, row in enumerate(value, start=1):
        unknown = set(row) - set(columns)
        if unknown:
            raise ValueError(zh("第 %(number)s 行有未知列：%(unknown)s",
                                number=number, unknown=joined(sorted(unknown))))
        clean = {}
        for key, column in columns.items():
            try:
                clean[key] = clean_value(column, row.get(key))
            except ValueError as exc:
                raise ValueError(zh("第 %(number)s 行“%(label)s”：%(error)s",
                                    number=number, label=column['label'], error=exc)) from None
        if any(v not in (None, "", False) for v in clean.values()):
            missing = [c["label"] for k, c in columns.items() if c["required"] and clean[k] is None]
            if missing:
                raise ValueError(zh("第 %(number)s 行缺少：%(missing)s",
                                    number=number, missing=joined(missing)))
            rows.append(clean)
    if len(rows) > field["max_rows"]:
        raise ValueError(zh("最多 %(max_rows)s 行", max_rows=field['max_rows']))
    return rows or None
