"""Validation and normalisation of rubrics (files in forms/ with `kind: rubric`)."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from app.engine.checker import Checker
from app.engine.forms_schema import sum_points

RUBRIC_REQUIRED = {"kind", "key", "title", "criteria"}
RUBRIC_OPTIONAL = {"title_en", "description", "vetoes"}
CRITERION_OPTIONAL = {"label_en", "max", "description", "criteria", "bands", "comment_below"}
BAND_OPTIONAL = {"label_en"}
VETO_OPTIONAL = {"label_en", "description"}


def check_rubric(doc: Any, check: Checker) -> dict[str, Any] | None:
    """Validate a rubric document and return it normalised with its total, or None."""
    before = len(check.problems)
    doc = check.mapping(doc, "", RUBRIC_REQUIRED, RUBRIC_OPTIONAL)
    if not doc:
        return None
    keys: set[str] = set()
    criteria = _check_criteria(doc.get("criteria"), "criteria", check, keys)
    rubric = {
        "key": check.ident(doc.get("key"), "key"),
        "title": check.text(doc.get("title"), "title"),
        "title_en": check.optional_text(doc, "title_en", ""),
        "description": check.optional_text(doc, "description", ""),
        "criteria": criteria,
        "max": sum_points(c["max"] for c in criteria),
        "vetoes": _check_vetoes(doc.get("vetoes", []), check, keys),
    }
    return rubric if len(check.problems) == before else None


def _check_criteria(value: Any, path: str, check: Checker, keys: set[str]) -> list[dict[str, Any]]:
    """Validate a list of criteria; a criterion with sub-criteria gets its max from them."""
    result = []
    for i, item in enumerate(check.sequence(value, path, min_items=1)):
        where = f"{path}[{i}]"
        item = check.mapping(item, where, {"key", "label"}, CRITERION_OPTIONAL)
        if not item:
            continue
        key = _unique_key(item, where, check, keys, "duplicate criterion key {key!r}")
        children = _check_criteria(item["criteria"], f"{where}.criteria", check, keys) \
            if "criteria" in item else []
        maximum = _check_max(item, children, where, check)
        if children and ("bands" in item or "comment_below" in item):
            check.error(where, "bands and comment_below belong on criteria that get points "
                               "(those without sub-criteria)")
        result.append({
            "key": key, "label": check.text(item.get("label"), f"{where}.label"),
            "label_en": check.optional_text(item, "label_en", where),
            "description": check.optional_text(item, "description", where),
            "max": maximum, "criteria": children,
            "bands": _check_bands(item.get("bands", []), maximum, f"{where}.bands", check),
            "comment_below": _check_comment_below(item, maximum, where, check),
        })
    return result


def _check_max(item: dict[str, Any], children: list[dict[str, Any]], where: str,
               check: Checker) -> Any:
    """A criterion's maximum: given, or the sum of its sub-criteria (which must agree)."""
    maximum = check.number(item["max"], f"{where}.max") if "max" in item else None
    if children:
        total = sum_points(c["max"] for c in children)
        if maximum is not None and Decimal(str(maximum)) != Decimal(str(total)):
            check.error(f"{where}.max", f"is {maximum} but its sub-criteria add up to {total}")
        return total
    if maximum is None:
        check.error(f"{where}.max", "is required for a criterion without sub-criteria")
        return 0
    if maximum <= 0:
        check.error(f"{where}.max", "must be greater than 0")
    return maximum


def _check_bands(value: Any, maximum: Any, path: str, check: Checker) -> list[dict[str, Any]]:
    """Bands (优/良/一般/差) shown to experts: point ranges within 0..max that do not overlap."""
    bands: list[dict[str, Any]] = []
    for i, item in enumerate(check.sequence(value, path)):
        where = f"{path}[{i}]"
        item = check.mapping(item, where, {"label", "min", "max"}, BAND_OPTIONAL)
        if not item:
            continue
        low, high = check.number(item.get("min"), f"{where}.min"), \
            check.number(item.get("max"), f"{where}.max")
        if low is None or high is None:
            continue
        if not 0 <= low <= high <= (maximum or 0):
            check.error(where, f"needs 0 <= min <= max <= {maximum}, got {low}..{high}")
        bands.append({"label": check.text(item.get("label"), f"{where}.label"),
                      "label_en": check.optional_text(item, "label_en", where),
                      "min": low, "max": high})
    ordered = sorted(bands, key=lambda b: b["min"])
    for lower, upper in zip(ordered, ordered[1:], strict=False):
        if upper["min"] <= lower["max"]:
            check.error(path, f"bands {lower['label']!r} and {upper['label']!r} overlap")
    return sorted(bands, key=lambda b: b["min"], reverse=True)


def _check_comment_below(item: dict[str, Any], maximum: Any, where: str,
                         check: Checker) -> Any:
    """Points under which the expert must explain the score in the comment."""
    if "comment_below" not in item:
        return None
    value = check.number(item["comment_below"], f"{where}.comment_below")
    if value is not None and not 0 < value <= (maximum or 0):
        check.error(f"{where}.comment_below", f"must be above 0 and at most {maximum}")
    return value


def _check_vetoes(value: Any, check: Checker, keys: set[str]) -> list[dict[str, Any]]:
    """Veto items (一票否决): any one checked by an expert fails the entry whatever its score."""
    vetoes = []
    for i, item in enumerate(check.sequence(value, "vetoes")):
        where = f"vetoes[{i}]"
        item = check.mapping(item, where, {"key", "label"}, VETO_OPTIONAL)
        if not item:
            continue
        key = _unique_key(item, where, check, keys,
                          "duplicate key {key!r} (criteria and vetoes share keys)")
        vetoes.append({"key": key, "label": check.text(item.get("label"), f"{where}.label"),
                       "label_en": check.optional_text(item, "label_en", where),
                       "description": check.optional_text(item, "description", where)})
    return vetoes


def _unique_key(item: dict[str, Any], where: str, check: Checker, keys: set[str],
                duplicate: str) -> str | None:
    """Check an item's key and that no other criterion or veto item of the rubric uses it."""
    key = check.ident(item.get("key"), f"{where}.key")
    if key in keys:
        check.error(f"{where}.key", duplicate.format(key=key))
    keys.add(key or "")
    return key
