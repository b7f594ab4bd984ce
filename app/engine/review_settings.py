"""Review settings of a workflow: the `reviews` block and each review state's round.

A review state is a round (网评, 现场答辩): `review: <rubric>` or a mapping with the rubric, the
round's weight in the final score, its aggregation (else the `reviews` default), whether it is
blind and the quorum of sheets per entry it needs to close.
"""

from __future__ import annotations

import copy
from decimal import Decimal, InvalidOperation
from typing import Any

from app.engine.checker import Checker
from app.review.aggregate import AggregationSettings
from app.review.ranking import Level, award_levels

REVIEW_KEYS = {"exclude_same_district", "declare_conflicts", "aggregation", "tie_break",
               "awards"}
AWARD_KEYS = {"levels", "group_by", "per_group", "cap", "basis"}
LEVEL_KEYS = {"name", "name_en", "proportion", "threshold"}
ROUND_KEYS = {"rubric", "label", "label_en", "weight", "aggregation", "blind", "quorum", "live"}
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
    # Award levels proposed from the final ranking, for the city to confirm (None: no awards).
    "awards": None,
}


def check_round(value: Any, path: str, check: Checker,
                rubrics: dict[str, Any]) -> dict[str, Any] | None:
    """Validate a state's `review`: a rubric key, or a mapping with `rubric` and round settings."""
    if value is None:
        return None
    shorthand = isinstance(value, str)
    value = {"rubric": value} if shorthand else check.mapping(value, path, {"rubric"},
                                                              ROUND_KEYS - {"rubric"})
    if not value:
        return None
    check.known(value.get("rubric"), path if shorthand else f"{path}.rubric", rubrics, "rubric")
    weight = None
    if "weight" in value:
        weight = _weight(value["weight"], f"{path}.weight", check)
    for key in ("blind", "live"):
        if key in value:
            check.boolean(value[key], f"{path}.{key}")
    quorum = None
    if "quorum" in value:
        quorum = check.integer(value["quorum"], f"{path}.quorum", minimum=1)
    return {
        "rubric": value.get("rubric"),
        "label": check.optional_text(value, "label", path),
        "label_en": check.optional_text(value, "label_en", path),
        "weight": None if weight is None else str(weight),
        "aggregation": (_check_aggregation(value["aggregation"], check, f"{path}.aggregation")
                        if "aggregation" in value else None),
        "blind": bool(value.get("blind", False)),
        "quorum": quorum,
        "live": bool(value.get("live", False)),
    }


def _weight(value: Any, path: str, check: Checker) -> Decimal | None:
    """A round's weight: a number from 0 to 1, read exactly (0.3 is 3/10, not a binary float)."""
    if isinstance(value, bool) or not isinstance(value, int | float | str):
        check.error(path, f"must be a number from 0 to 1, got {value!r}")
        return None
    try:
        weight = Decimal(str(value))
    except InvalidOperation:
        weight = Decimal("NaN")
    if not weight.is_finite() or not 0 <= weight <= 1:
        check.error(path, f"must be a number from 0 to 1, got {value!r}")
        return None
    return weight


def check_round_weights(states: list[dict[str, Any]], check: Checker) -> None:
    """One round weighs 1 unless told; several rounds each need a weight, summing to exactly 1."""
    rounds = [(i, s["review"]) for i, s in enumerate(states) if s.get("review")]
    if len(rounds) == 1 and rounds[0][1]["weight"] is None:
        rounds[0][1]["weight"] = "1"
        return
    missing = [i for i, review in rounds if review["weight"] is None]
    for i in missing:
        check.error(f"states[{i}].review.weight", "is required when the workflow has several "
                                                  "review rounds (the weights must sum to 1)")
    if rounds and not missing:
        total = sum((Decimal(review["weight"]) for _i, review in rounds), Decimal(0))
        if total != 1:
            check.error("states", f"the review rounds' weights must sum to 1, got {total}")


def check_review_settings(value: Any, check: Checker, leaf_keys: set[str],
                          round_names: set[str], form: dict[str, Any] | None = None
                          ) -> dict[str, Any]:
    """Validate the optional `reviews` mapping and fill in its defaults."""
    settings = copy.deepcopy(DEFAULTS)
    if value is None:
        return settings
    value = check.mapping(value, "reviews", set(), REVIEW_KEYS)
    for key in ("exclude_same_district", "declare_conflicts"):
        if key in value and check.boolean(value[key], f"reviews.{key}") is not None:
            settings[key] = value[key]
    if "aggregation" in value:
        settings["aggregation"] = _check_aggregation(value["aggregation"], check,
                                                     "reviews.aggregation")
    if "tie_break" in value:
        settings["tie_break"] = _check_tie_break(value["tie_break"], check, leaf_keys,
                                                 round_names)
    if "awards" in value:
        settings["awards"] = _check_awards(value["awards"], check, form, round_names)
    return settings


def _check_awards(value: Any, check: Checker, form: dict[str, Any] | None,
                  round_names: set[str]) -> dict[str, Any]:
    """Award levels (by proportion, threshold or both), their grouping and cap, and the score
    they are given on (the final score, or one round's), as data."""
    value = check.mapping(value, "reviews.awards", {"levels"}, AWARD_KEYS - {"levels"})
    levels = []
    for i, item in enumerate(check.sequence(value.get("levels"), "reviews.awards.levels",
                                            min_items=1)):
        path = f"reviews.awards.levels[{i}]"
        item = check.mapping(item, path, {"name"}, LEVEL_KEYS - {"name"})
        if not item:
            continue
        level = {"name": check.text(item.get("name"), f"{path}.name", max_length=40),
                 "name_en": check.optional_text(item, "name_en", path),
                 "proportion": None, "threshold": None}
        if "proportion" in item:
            share = _weight(item["proportion"], f"{path}.proportion", check)
            if share == 0:
                check.error(f"{path}.proportion", "must be more than 0")
            level["proportion"] = None if share is None else str(share)
        if "threshold" in item:
            if check.number(item["threshold"], f"{path}.threshold") is not None:
                level["threshold"] = str(Decimal(str(item["threshold"])))
        if level["proportion"] is None and level["threshold"] is None \
                and not {"proportion", "threshold"} & set(item):
            check.error(path, "needs a proportion, a threshold or both")
        levels.append(level)
    awards: dict[str, Any] = {"levels": levels, "group_by": None, "per_group": False,
                              "cap": None, "basis": "final"}
    if "basis" in value:
        basis = value["basis"]
        kind, _, name = basis.partition(":") if isinstance(basis, str) else ("", "", "")
        if basis == "final" or (kind == "round" and name in round_names):
            awards["basis"] = basis
        else:
            check.error("reviews.awards.basis", "must be final or round:<review state> "
                        f"(review states: {', '.join(sorted(round_names)) or 'none'}), "
                        f"got {basis!r}")
    if "group_by" in value:
        awards["group_by"] = _check_group_by(value["group_by"], check, form)
    if "per_group" in value and check.boolean(value["per_group"],
                                              "reviews.awards.per_group") is not None:
        awards["per_group"] = value["per_group"]
    if "cap" in value:
        awards["cap"] = check.integer(value["cap"], "reviews.awards.cap", minimum=1)
    if (awards["per_group"] or awards["cap"] is not None) and awards["group_by"] is None:
        check.error("reviews.awards.group_by", "is required with per_group or cap")
    try:
        award_levels([], [Level(lv["name"] or "", *_decimals(lv)) for lv in levels])
    except (ValueError, TypeError) as exc:
        check.error("reviews.awards.levels", str(exc))
    return awards


def _decimals(level: dict[str, Any]) -> tuple[Decimal | None, Decimal | None]:
    """A level's proportion and threshold as Decimals."""
    return tuple(None if level[k] is None else Decimal(level[k])  # type: ignore[return-value]
                 for k in ("proportion", "threshold"))


def _check_group_by(value: Any, check: Checker, form: dict[str, Any] | None) -> str | None:
    """`district`, or field:<key of a choice field of the application form> (e.g. a category)."""
    path = "reviews.awards.group_by"
    if value == "district":
        return "district"
    kind, _, key = value.partition(":") if isinstance(value, str) else ("", "", "")
    fields = {f["key"]: f for s in (form or {}).get("sections", []) for f in s["fields"]}
    if kind == "field" and key in fields and fields[key]["type"] == "choice":
        return str(value)
    check.error(path, f"must be district or field:<key of a choice field>, got {value!r}")
    return None


def _check_aggregation(value: Any, check: Checker, path: str) -> dict[str, Any]:
    """Check the aggregation settings by building them, as the ranking will."""
    value = check.mapping(value, path, {"method"}, AGGREGATION_KEYS - {"method"})
    try:
        AggregationSettings.from_dict(aggregation_input(value))
    except (ValueError, TypeError) as exc:
        check.error(path, str(exc))
    return dict(value)


def aggregation_input(value: dict[str, Any]) -> dict[str, Any]:
    """The definition's aggregation mapping as AggregationSettings.from_dict takes it."""
    return {k: (str(v) if k == "dispersion_threshold" and v is not None else v)
            for k, v in value.items()}


def _check_tie_break(value: Any, check: Checker, leaf_keys: set[str],
                     round_names: set[str]) -> list[str]:
    """Each key is submitted_at, round:<review state> or criterion:<scored criterion>, once."""
    keys = []
    for i, key in enumerate(check.sequence(value, "reviews.tie_break")):
        where = f"reviews.tie_break[{i}]"
        kind, _, name = key.partition(":") if isinstance(key, str) else ("", "", "")
        if key == "submitted_at" or (kind == "criterion" and name in leaf_keys) \
                or (kind == "round" and name in round_names):
            if key in keys:
                check.error(where, f"{key!r} is listed twice")
            keys.append(key)
        else:
            check.error(where, "must be submitted_at, round:<a review state> or "
                               f"criterion:<key of a scored criterion>, got {key!r}")
    return keys
