"""The `reviews` block of a workflow: how experts are kept away from entries they are close to."""

from __future__ import annotations

from typing import Any

from app.engine.checker import Checker

REVIEW_KEYS = {"exclude_same_district", "declare_conflicts"}
DEFAULTS = {
    # Experts never review entries of their own unit; with this, not of their own district either.
    "exclude_same_district": False,
    # Before the materials open, each expert confirms "no conflict" or declares one with a reason.
    "declare_conflicts": True,
}


def check_review_settings(value: Any, check: Checker) -> dict[str, Any]:
    """Validate the optional `reviews` mapping and fill in its defaults."""
    if value is None:
        return dict(DEFAULTS)
    value = check.mapping(value, "reviews", set(), REVIEW_KEYS)
    settings = dict(DEFAULTS)
    for key in REVIEW_KEYS & set(value):
        if check.boolean(value[key], f"reviews.{key}") is not None:
            settings[key] = value[key]
    return settings
