"""The `reviews` block of a workflow: conflicts of interest, aggregation and tie-breaks."""

from __future__ import annotations

import copy
from typing import Any

from app.engine.checker import Checker
from app.review.aggregate import AggregationSettings

REVIEW_KEYS = {"exclude_same_district", "declare_conflicts", "aggregation", "tie_break"}
AGGREGATION_KEYS = {"method", "trim", "min_panel", "fallback", "normalise",
                    "normalise_min_sheets", "dispersion_threshold"}
DEFAULTS: dict[str, Any] = {
    # Experts never review entries of their own unit; with this, not of their own district either.
    "exclude_same_district": False,
    # Before the materials open, each expert confirms "no conflict" or declares one with a reason.
    "declare_conflicts": True,
    # How an entry's submitted sheets become its score (see app/review/aggregate.py).
    "aggregation": {"method": "mean"},
    # What separates equal scores, in order: criterion:<key> (higher first), submitted_at (earlier).
    "tie_break": ["submitted_at"],
}


def check_review_settings(value: Any, check: Checker, leaf_keys: set[str]) -> dict[str, Any]:
    """Validate the optional `reviews` mapping and fill in its defaults."""
    settings = copy.deepcopy(DEFAULTS)
    if value is None:
        return settings
    value = check.mapping(value, "reviews", set(), REVIEW_KEYS)
    for key in ("exclude_same_district", "declare_conflicts"):
        if key in value and check.boolean(value[key], f"reviews.{key}") is not None:
            settings[key] = value[key]
    if "aggregation" in value:
        settings["aggregation"] = _check_aggregation(value["aggregation"], check)
    if "tie_break" in value:
        settings["tie_break"] = _check_tie_break(value["tie_break"], check, leaf_keys)
    return settings


def _check_aggregation(value: Any, check: Checker) -> dict[str, Any]:
    """Check the aggregation settings by building them, as the ranking will."""
    value = check.mapping(value, "reviews.aggregation", {"method"}, AGGREGATION_KEYS - {"method"})
    try:
        AggregationSettings.from_dict(aggregation_input(value))
    except (ValueError, TypeError) as exc:
        check.error("reviews.aggregation", str(exc))
    return dict(value)


def aggregation_input(value: dict[str, Any]) -> dict[str, Any]:
    """The definition's aggregation mapping as AggregationSettings.from_dict takes it."""
    return {k: (str(v) if k == "dispersion_threshold" and v is not None else v)
            for k, v in value.items()}


def _check_tie_break(value: Any, check: Checker, leaf_keys: set[str]) -> list[str]:
    """Each key is submitted_at or criterion:<a scored criterion of the rubric>, once."""
    keys = []
    for i, key in enumerate(check.sequence(value, "reviews.tie_break")):
        where = f"reviews.tie_break[{i}]"
        if key == "submitted_at" or (isinstance(key, str) and key.startswith("criterion:")
                                     and key.split(":", 1)[1] in leaf_keys):
            if key in keys:
                check.error(where, f"{key!r} is listed twice")
            keys.append(key)
        else:
            check.error(where, f"must be submitted_at or criterion:<key of a scored criterion>, "
                               f"got {key!r}")
    return keys
