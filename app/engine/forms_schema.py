"""Validation and normalisation of form and rubric definitions (files in forms/)."""

from __future__ import annotations

from collections.abc import Iterable
from decimal import Decimal
from typing import Any

from app.engine.checker import Checker

FIELD_TYPES = {
    "text", "textarea", "integer", "decimal", "date", "choice", "multi_choice",
    "boolean", "phone", "email", "id_number", "file", "table",
}
TABLE_COLUMN_TYPES = FIELD_TYPES - {"file", "table", "textarea", "multi_choice"}
FILE_EXTENSIONS = {
    "pdf", "doc", "docx", "xls", "xlsx", "ppt", "pptx", "jpg", "jpeg", "png", "mp4", "zip",
}
COMMON_KEYS = {"label_en", "required", "help", "identifying", "placeholder"}
TYPE_KEYS: dict[str, set[str]] = {
    "text": {"max_length", "min_length"},
    "textarea": {"max_length", "min_length"},
    "integer": {"min", "max", "unit"},
    "decimal": {"min", "max", "places", "unit"},
    "date": set(),
    "choice": {"choices", "widget"},
    "multi_choice": {"choices", "max_selected"},
    "boolean": set(),
    "phone": set(),
    "email": set(),
    "id_number": set(),
    "file": {"accept", "max_size_mb", "multiple", "max_files"},
    "table": {"columns", "min_rows", "max_rows"},
}
DEFAULT_MAX_LENGTH = {"text": 200, "textarea": 2000}


def check_form(doc: Any, check: Checker) -> dict[str, Any] | None:
    """Validate a form document and return its normalised form, or None when invalid."""
    before = len(check.problems)
    doc = check.mapping(doc, "", {"kind", "key", "title", "sections"}, {"title_en", "description"})
    if not doc:
        return None
    form: dict[str, Any] = {
        "key": check.ident(doc.get("key"), "key"),
        "title": check.text(doc.get("title"), "title"),
        "title_en": check.optional_text(doc, "title_en", ""),
        "description": check.optional_text(doc, "description", ""),
        "sections": [],
    }
    seen: set[str] = set()
    section_keys: set[str] = set()
    for i, section in enumerate(check.sequence(doc.get("sections"), "sections", min_items=1)):
        path = f"sections[{i}]"
        section = check.mapping(section, path, {"title", "fields"},
                                {"key", "title_en", "description"})
        if not section:
            continue
        section_key = check.ident(section["key"], f"{path}.key") if "key" in section else None
        if section_key is not None and section_key in section_keys:
            check.error(f"{path}.key", f"duplicate section key {section_key!r}")
        section_keys.add(section_key or "")
        fields = []
        for j, field in enumerate(
            check.sequence(section.get("fields"), f"{path}.fields", min_items=1)
        ):
            normal = _check_field(field, f"{path}.fields[{j}]", check, FIELD_TYPES)
            if normal is None:
                continue
            if normal["key"] in seen:
                check.error(f"{path}.fields[{j}].key", f"duplicate field key {normal['key']!r}")
            seen.add(normal["key"])
            fields.append(normal)
        form["sections"].append({
            "key": section_key,
            "title": check.text(section.get("title"), f"{path}.title"),
            "title_en": check.optional_text(section, "title_en", path),
            "description": check.optional_text(section, "description", path),
            "fields": fields,
        })
    return form if len(check.problems) == before else None


def _check_field(
    field: Any, path: str, check: Checker, types: set[str]
) -> dict[str, Any] | None:
    """Validate one field (or table column) and return it with defaults filled in."""
    if not isinstance(field, dict):
        check.error(path, "must be a mapping")
        return None
    kind = check.one_of(field.get("type"), f"{path}.type", types)
    if kind is None:
        return None
    check.mapping(field, path, {"key", "label", "type"}, COMMON_KEYS | TYPE_KEYS[kind])
    normal: dict[str, Any] = {
        "key": check.ident(field.get("key"), f"{path}.key"),
        "label": check.text(field.get("label"), f"{path}.label", max_length=200),
        "label_en": check.optional_text(field, "label_en", path),
        "type": kind,
        "required": _flag(field, "required", path, check),
        "identifying": _flag(field, "identifying", path, check),
        "help": check.optional_text(field, "help", path),
        "placeholder": check.optional_text(field, "placeholder", path),
    }
    if kind in DEFAULT_MAX_LENGTH:
        normal["max_length"] = _positive(field, "max_length", path, check, DEFAULT_MAX_LENGTH[kind])
        normal["min_length"] = _positive(field, "min_length", path, check, 0, allow_zero=True)
    elif kind in {"integer", "decimal"}:
        normal.update(_check_range(field, path, check))
        normal["unit"] = check.optional_text(field, "unit", path)
        if kind == "decimal":
            normal["places"] = _positive(field, "places", path, check, 2, allow_zero=True)
    elif kind in {"choice", "multi_choice"}:
        normal["choices"] = _check_choices(field.get("choices"), f"{path}.choices", check)
        if kind == "choice":
            normal["widget"] = check.one_of(field.get("widget", "select"), f"{path}.widget",
                                            {"select", "radio"})
        else:
            normal["max_selected"] = _positive(field, "max_selected", path, check, 0,
                                               allow_zero=True)
    elif kind == "file":
        normal.update(_check_file(field, path, check))
    elif kind == "table":
        normal.update(_check_table(field, path, check))
    return normal


def _flag(field: dict[str, Any], key: str, path: str, check: Checker) -> bool:
    """Read an optional boolean key, default false."""
    if key not in field:
        return False
    return bool(check.boolean(field[key], f"{path}.{key}"))


def _positive(
    field: dict[str, Any], key: str, path: str, check: Checker, default: int,
    *, allow_zero: bool = False,
) -> int:
    """Read an optional positive (or non-negative) integer."""
    if key not in field:
        return default
    value = check.integer(field[key], f"{path}.{key}", minimum=0 if allow_zero else 1)
    return default if value is None else value


def _check_range(field: dict[str, Any], path: str, check: Checker) -> dict[str, Any]:
    """Read optional min/max numbers and check that min <= max."""
    bounds = {
        key: check.number(field[key], f"{path}.{key}") if key in field else None
        for key in ("min", "max")
    }
    if bounds["min"] is not None and bounds["max"] is not None and bounds["min"] > bounds["max"]:
        check.error(f"{path}.min", "must not be greater than max")
    return bounds


def _check_choices(value: Any, path: str, check: Checker) -> list[dict[str, str]]:
    """Normalise choices given as plain strings or as {value, label} mappings."""
    choices = []
    for i, item in enumerate(check.sequence(value, path, min_items=1)):
        if isinstance(item, str | int) and not isinstance(item, bool):
            choices.append({"value": str(item), "label": str(item), "label_en": ""})
            continue
        item = check.mapping(item, f"{path}[{i}]", {"value", "label"}, {"label_en"})
        if item and "value" in item and "label" in item:
            choices.append({"value": str(item["value"]), "label": str(item["label"]),
                            "label_en": str(item.get("label_en", ""))})
    values = [c["value"] for c in choices]
    if len(values) != len(set(values)):
        check.error(path, "choice values must be unique")
    return choices


def _check_file(field: dict[str, Any], path: str, check: Checker) -> dict[str, Any]:
    """Read the options of a file field."""
    accept = field.get("accept", ["pdf"])
    for i, ext in enumerate(check.sequence(accept, f"{path}.accept", min_items=1)):
        check.one_of(ext, f"{path}.accept[{i}]", FILE_EXTENSIONS)
    multiple = _flag(field, "multiple", path, check)
    return {
        "accept": [str(ext).lower() for ext in accept] if isinstance(accept, list) else [],
        "max_size_mb": _positive(field, "max_size_mb", path, check, 20),
        "multiple": multiple,
        "max_files": _positive(field, "max_files", path, check, 10 if multiple else 1),
    }


def _check_table(field: dict[str, Any], path: str, check: Checker) -> dict[str, Any]:
    """Read the columns and row limits of a table field."""
    columns = []
    keys: set[str] = set()
    columns_given = check.sequence(field.get("columns"), f"{path}.columns", min_items=1)
    for i, column in enumerate(columns_given):
        normal = _check_field(column, f"{path}.columns[{i}]", check, TABLE_COLUMN_TYPES)
        if normal is None:
            continue
        if normal["key"] in keys:
            check.error(f"{path}.columns[{i}].key", f"duplicate column key {normal['key']!r}")
        keys.add(normal["key"])
        columns.append(normal)
    min_rows = _positive(field, "min_rows", path, check, 0, allow_zero=True)
    max_rows = _positive(field, "max_rows", path, check, 50)
    if min_rows > max_rows:
        check.error(f"{path}.min_rows", "must not be greater than max_rows")
    return {"columns": columns, "min_rows": min_rows, "max_rows": max_rows}


def sum_points(values: Iterable[float]) -> float:
    """Add points exactly (0.1 + 0.2 is 0.3 here), returning an int when whole."""
    total = sum((Decimal(str(v)) for v in values), Decimal(0))
    return int(total) if total == total.to_integral_value() else float(total)
