"""Turn expert score sheets into entry scores: mean, trimmed mean, median, per-expert normalisation.

Pure and deterministic: Decimal arithmetic in a fixed context (28 significant digits), values
sorted before any sum, so the order of the input never matters. Only the published figures are
rounded, half up to two decimals (`round_half_up`); nothing is rounded in between.
"""

from __future__ import annotations

import hashlib
import json
from collections import defaultdict
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field, fields
from datetime import UTC, datetime
from decimal import ROUND_HALF_EVEN, ROUND_HALF_UP, Context, Decimal, localcontext
from functools import wraps
from typing import Any, Literal, ParamSpec, TypeVar

CENT = Decimal("0.01")
ALGORITHM_VERSION = 1  # part of every fingerprint: bump it when a formula here changes
METHODS = ("mean", "trimmed_mean", "median")
FALLBACKS = ("mean", "median")
_CONTEXT = Context(prec=28, rounding=ROUND_HALF_EVEN)

P = ParamSpec("P")
R = TypeVar("R")


def _in_context(function: Callable[P, R]) -> Callable[P, R]:
    """Run a function under the module's fixed Decimal context, whatever the caller's is."""
    @wraps(function)
    def wrapper(*args: P.args, **kwargs: P.kwargs) -> R:
        with localcontext(_CONTEXT):
            return function(*args, **kwargs)
    return wrapper


def round_half_up(value: Decimal) -> Decimal:
    """Round to two decimals, halves up (80.005 → 80.01): how a score is published."""
    return value.quantize(CENT, rounding=ROUND_HALF_UP)


def require_decimal(value: object, what: str) -> Decimal:
    """Return value if it is a finite Decimal; refuse floats, whose binary fractions would drift."""
    if not isinstance(value, Decimal) or not value.is_finite():
        raise TypeError(f"{what} must be a finite Decimal, got {value!r}")
    return value


@dataclass(frozen=True)
class Sheet:
    """One expert's submitted score sheet for one entry."""

    expert: str
    entry: int
    total: Decimal
    criteria: dict[str, Decimal] = field(default_factory=dict)
    vetoed: bool = False
    submitted_at: datetime | None = None

    def __post_init__(self) -> None:
        """Check that every score is a Decimal."""
        require_decimal(self.total, f"total of {self.expert}/{self.entry}")
        for key, value in self.criteria.items():
            require_decimal(value, f"criterion {key} of {self.expert}/{self.entry}")


@dataclass(frozen=True)
class AggregationSettings:
    """How a round turns its sheets into entry scores (stored with every computed result)."""

    method: Literal["mean", "trimmed_mean", "median"]
    trim: int = 1  # sheets dropped at EACH end by the trimmed mean
    min_panel: int = 5  # fewer sheets than this: the trimmed mean falls back
    fallback: Literal["mean", "median"] = "mean"
    normalise: bool = False
    normalise_min_sheets: int = 5
    dispersion_threshold: Decimal | None = None  # flag when max − min EXCEEDS it (>)
    scale_max: Decimal = Decimal(100)

    def __post_init__(self) -> None:
        """Refuse settings that cannot be applied."""
        if self.method not in METHODS:
            raise ValueError(f"method must be one of {METHODS}, got {self.method!r}")
        if self.fallback not in FALLBACKS:
            raise ValueError(f"fallback must be one of {FALLBACKS}, got {self.fallback!r}")
        if self.trim < 0 or self.min_panel < 2 * self.trim + 1:
            raise ValueError("min_panel must leave at least one sheet after trimming both ends")
        if self.normalise_min_sheets < 2:
            raise ValueError("normalise_min_sheets must be at least 2")
        require_decimal(self.scale_max, "scale_max")
        if self.dispersion_threshold is not None:
            require_decimal(self.dispersion_threshold, "dispersion_threshold")

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> AggregationSettings:
        """Rebuild settings stored by `settings_as_dict` (unknown keys are an error)."""
        known = {f.name for f in fields(cls)}
        unknown = sorted(set(data) - known)
        if unknown:
            raise ValueError(f"unknown aggregation settings: {', '.join(unknown)}")
        values = dict(data)
        for name in ("dispersion_threshold", "scale_max"):
            if values.get(name) is not None:
                values[name] = Decimal(str(values[name]))
        return cls(**values)


@dataclass(frozen=True)
class EntryResult:
    """One entry's result in a round: `score` is what ranking uses; `raw_score` is unnormalised."""

    entry: int
    score: Decimal
    raw_score: Decimal
    method_used: str
    fallback_used: bool
    normalised: bool
    sheets_used: tuple[str, ...]  # experts whose sheets entered `score`
    dropped: tuple[str, ...]  # experts trimmed away (lowest first, then highest)
    n: int
    spread: Decimal  # max − min of the raw totals
    flagged_dispersion: bool
    vetoed: bool


def sorted_mean(values: Sequence[Decimal]) -> Decimal:
    """Arithmetic mean, summed in sorted order so the input order cannot matter."""
    return sum(sorted(values), Decimal(0)) / len(values)


def _median(values: Sequence[Decimal]) -> Decimal:
    """Middle value; the mean of the two middle values for an even count."""
    ordered = sorted(values)
    middle = len(ordered) // 2
    if len(ordered) % 2:
        return ordered[middle]
    return (ordered[middle - 1] + ordered[middle]) / 2


def pstdev(values: Sequence[Decimal], mean: Decimal) -> Decimal:
    """Population standard deviation around a given mean."""
    return (sum(sorted((v - mean) ** 2 for v in values), Decimal(0)) / len(values)).sqrt()


def _method_for(n: int, settings: AggregationSettings) -> tuple[str, bool]:
    """The method to apply to n sheets, and whether it is the fallback."""
    if settings.method == "trimmed_mean" and n < settings.min_panel:
        return settings.fallback, True
    return settings.method, False


def _combine(values: Mapping[str, Decimal], method: str,
             trim: int) -> tuple[Decimal, tuple[str, ...], tuple[str, ...]]:
    """Apply a method to totals by expert: (unrounded value, experts used, experts dropped)."""
    ordered = sorted(values.items(), key=lambda item: (item[1], item[0]))
    if method == "trimmed_mean":
        cut = len(ordered) - trim
        kept, dropped = ordered[trim:cut], ordered[:trim] + ordered[cut:]
    else:
        kept, dropped = ordered, []
    scores = [value for _, value in kept]
    value = _median(scores) if method == "median" else sorted_mean(scores)
    return value, tuple(sorted(e for e, _ in kept)), tuple(e for e, _ in dropped)


def _totals_by_expert(sheets: Iterable[Sheet]) -> dict[str, Decimal]:
    """Totals of one entry's sheets by expert; two sheets from one expert are an error."""
    totals: dict[str, Decimal] = {}
    for sheet in sheets:
        if sheet.expert in totals:
            raise ValueError(f"expert {sheet.expert} has two sheets for entry {sheet.entry}")
        totals[sheet.expert] = sheet.total
    return totals


@_in_context
def aggregate_entry(sheets: Sequence[Sheet], settings: AggregationSettings,
                    normalised: Mapping[str, Decimal] | None = None) -> EntryResult:
    """Aggregate one entry's sheets; `normalised` totals by expert, if given, make the `score`."""
    entries = {sheet.entry for sheet in sheets}
    if len(entries) != 1:
        raise ValueError(f"aggregate_entry needs the sheets of exactly one entry, got {entries}")
    raw = _totals_by_expert(sheets)
    method, fallback_used = _method_for(len(raw), settings)
    raw_value, used, dropped = _combine(raw, method, settings.trim)
    value = raw_value
    if normalised is not None:
        if set(normalised) != set(raw):
            raise ValueError("normalised totals must cover exactly the entry's experts")
        value, used, dropped = _combine(normalised, method, settings.trim)
    spread = max(raw.values()) - min(raw.values())
    threshold = settings.dispersion_threshold
    return EntryResult(
        entry=entries.pop(), score=round_half_up(value), raw_score=round_half_up(raw_value),
        method_used=method, fallback_used=fallback_used, normalised=normalised is not None,
        sheets_used=used, dropped=dropped, n=len(raw), spread=round_half_up(spread),
        flagged_dispersion=threshold is not None and spread > threshold,
        vetoed=any(sheet.vetoed for sheet in sheets))


@_in_context
def normalise(sheets: Sequence[Sheet],
              settings: AggregationSettings) -> dict[tuple[str, int], Decimal]:
    """Put each expert's totals on the pool's scale, by (expert, entry); unrounded.

    With μ, σ the mean and population standard deviation of every total in `sheets` (the pool),
    and μₑ, σₑ those of expert e's own totals, a total x of an expert with at least
    `normalise_min_sheets` sheets becomes

        x' = clamp(μ + σ · (x − μₑ) / σₑ, 0, scale_max)     when σₑ > 0
        x' = μ                                             when σₑ = 0 (all their totals equal)

    Experts with fewer sheets keep x' = x. Values keep the context's 28 digits: round the aggregate,
    not these.
    """
    if len({(sheet.expert, sheet.entry) for sheet in sheets}) != len(sheets):
        raise ValueError("an expert has two sheets for one entry")
    if not sheets:
        return {}
    pool = [sheet.total for sheet in sheets]
    mean = sorted_mean(pool)
    stdev = pstdev(pool, mean)
    by_expert: dict[str, list[Sheet]] = defaultdict(list)
    for sheet in sheets:
        by_expert[sheet.expert].append(sheet)
    result: dict[tuple[str, int], Decimal] = {}
    for expert, own in by_expert.items():
        totals = [sheet.total for sheet in own]
        own_mean = sorted_mean(totals)
        own_stdev = pstdev(totals, own_mean)
        for sheet in own:
            if len(own) < settings.normalise_min_sheets:
                value = sheet.total
            elif own_stdev == 0:
                value = mean
            else:
                value = mean + stdev * (sheet.total - own_mean) / own_stdev
                value = min(max(value, Decimal(0)), settings.scale_max)
            result[(expert, sheet.entry)] = value
    return result


def aggregate_round(sheets: Sequence[Sheet], settings: AggregationSettings) -> list[EntryResult]:
    """Aggregate every entry of a round (normalising first when the settings say so), by entry."""
    by_entry: dict[int, list[Sheet]] = defaultdict(list)
    for sheet in sheets:
        by_entry[sheet.entry].append(sheet)
    values = normalise(sheets, settings) if settings.normalise else None
    results = []
    for entry, own in sorted(by_entry.items()):
        own_values = None if values is None else {s.expert: values[(s.expert, entry)] for s in own}
        results.append(aggregate_entry(own, settings, own_values))
    return results


def canonical_decimal(value: Decimal) -> str:
    """Write a Decimal without exponent or trailing zeros, so 90, 90.0 and 90.00 read the same."""
    text = format(value.normalize(), "f")
    return "0" if text == "-0" else text


def settings_as_dict(settings: AggregationSettings) -> dict[str, Any]:
    """JSON-ready settings, to store beside a computed result (read back with `from_dict`)."""
    data: dict[str, Any] = {}
    for item in fields(settings):
        value = getattr(settings, item.name)
        data[item.name] = canonical_decimal(value) if isinstance(value, Decimal) else value
    return data


def sheet_as_dict(sheet: Sheet) -> dict[str, Any]:
    """JSON-ready sheet in canonical form (decimals without trailing zeros, times in UTC)."""
    moment = sheet.submitted_at
    return {"expert": sheet.expert, "entry": sheet.entry, "total": canonical_decimal(sheet.total),
            "criteria": {k: canonical_decimal(v) for k, v in sorted(sheet.criteria.items())},
            "vetoed": sheet.vetoed, "submitted_at": None if moment is None else _json_value(moment)}


def sheet_from_dict(data: Mapping[str, Any]) -> Sheet:
    """Read back a sheet written by `sheet_as_dict`."""
    moment = data.get("submitted_at")
    return Sheet(expert=str(data["expert"]), entry=int(data["entry"]),
                 total=Decimal(str(data["total"])),
                 criteria={k: Decimal(str(v)) for k, v in dict(data.get("criteria") or {}).items()},
                 vetoed=bool(data.get("vetoed", False)),
                 submitted_at=None if moment is None else datetime.fromisoformat(str(moment)))


def result_as_dict(result: EntryResult) -> dict[str, Any]:
    """JSON-ready entry result, to store and to compare with a recomputation."""
    data: dict[str, Any] = {}
    for item in fields(result):
        value = getattr(result, item.name)
        if isinstance(value, Decimal):
            value = canonical_decimal(value)
        elif isinstance(value, tuple):
            value = list(value)
        data[item.name] = value
    return data


def result_from_dict(data: Mapping[str, Any]) -> EntryResult:
    """Read back an entry result written by `result_as_dict`."""
    values = dict(data)
    for name in ("score", "raw_score", "spread"):
        values[name] = Decimal(str(values[name]))
    for name in ("sheets_used", "dropped"):
        values[name] = tuple(values[name])
    return EntryResult(**values)


def _json_value(value: object) -> str:
    """Canonical JSON text for the Decimals and datetimes of a fingerprint's context."""
    if isinstance(value, Decimal):
        return canonical_decimal(value)
    if isinstance(value, datetime):
        return (value.astimezone(UTC) if value.tzinfo else value).isoformat()
    raise TypeError(f"cannot fingerprint {value!r}")


def fingerprint(sheets: Iterable[Sheet], settings: AggregationSettings,
                context: Mapping[str, Any] | None = None) -> str:
    """SHA-256 of canonical JSON: sheets (any order), settings, algorithm version, context."""
    rows = sorted((sheet_as_dict(sheet) for sheet in sheets),
                  key=lambda row: (row["entry"], row["expert"]))
    document = {"algorithm": ALGORITHM_VERSION, "settings": settings_as_dict(settings),
                "sheets": rows, "context": dict(context or {})}
    text = json.dumps(document, sort_keys=True, separators=(",", ":"), ensure_ascii=False,
                      default=_json_value)
    return hashlib.sha256(text.encode("utf-8")).hexdigest()
