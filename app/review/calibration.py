"""Show which experts of a review round score harshly or leniently, and how their totals spread.

For each expert (results sorted by expert name):
- n, mean, minimum, maximum and population standard deviation (0 for one sheet) of their totals;
- histogram: counts of their totals in ten equal buckets of 0..scale_max ([0, 10), [10, 20), …,
  [90, 100] for the default 100; the top bucket includes scale_max). A total outside 0..scale_max
  is refused;
- compared: how many of their entries were also scored by at least one other expert;
- lean: over those entries, the mean of (their total − mean of the OTHER experts' totals there);
  None when compared is 0;
- verdict, read from the published (rounded) lean so label and figure always agree: "harsh" when
  lean ≤ −lean_threshold, "lenient" when lean ≥ lean_threshold, "typical" between, "unknown"
  when lean is None.
One expert with two sheets for one entry is refused. As in `aggregate`: Decimal arithmetic in a
fixed context (28 significant digits), values sorted before any sum so input order never matters,
and only published figures rounded, half up to two decimals (half away from zero for negatives).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from decimal import ROUND_HALF_EVEN, Context, Decimal, localcontext
from typing import Literal

from app.review.aggregate import Sheet, pstdev, require_decimal, round_half_up, sorted_mean

BUCKETS = 10
_CONTEXT = Context(prec=28, rounding=ROUND_HALF_EVEN)  # the same context as aggregate.py

Verdict = Literal["harsh", "typical", "lenient", "unknown"]


@dataclass(frozen=True)
class ExpertDistribution:
    """One expert's totals in a round, and how far they sit from their co-reviewers."""

    expert: str
    n: int
    mean: Decimal
    minimum: Decimal
    maximum: Decimal
    stdev: Decimal
    histogram: tuple[int, ...]
    compared: int
    lean: Decimal | None
    verdict: Verdict


def _histogram(totals: Sequence[Decimal], scale_max: Decimal) -> tuple[int, ...]:
    """Count totals (already checked to lie in 0..scale_max) in BUCKETS equal buckets."""
    counts = [0] * BUCKETS
    for total in totals:
        # Integer division is exact, so 9.99 of 100 can never be rounded up into [10, 20).
        counts[min(int(total * BUCKETS // scale_max), BUCKETS - 1)] += 1
    return tuple(counts)


def _lean(expert: str, by_entry: Mapping[int, Mapping[str, Decimal]]) -> list[Decimal]:
    """The expert's gaps (own total − others' mean) on every entry another expert also scored."""
    gaps = []
    for totals in by_entry.values():
        if expert in totals and len(totals) > 1:
            others = [total for name, total in totals.items() if name != expert]
            gaps.append(totals[expert] - sorted_mean(others))
    return gaps


def _verdict(lean: Decimal | None, threshold: Decimal) -> Verdict:
    """Name the lean: harsh, lenient or typical against the threshold; unknown without one."""
    if lean is None:
        return "unknown"
    if lean <= -threshold:
        return "harsh"
    return "lenient" if lean >= threshold else "typical"


def _totals_by_entry(sheets: Sequence[Sheet], scale_max: Decimal) -> dict[int, dict[str, Decimal]]:
    """Totals by entry, then expert; refuse a second sheet per pair and totals off the scale."""
    by_entry: dict[int, dict[str, Decimal]] = defaultdict(dict)
    # Sorted first, so that which error is reported cannot depend on the input order either.
    for sheet in sorted(sheets, key=lambda s: (s.entry, s.expert, s.total)):
        if sheet.expert in by_entry[sheet.entry]:
            raise ValueError(f"expert {sheet.expert} has two sheets for entry {sheet.entry}")
        if not Decimal(0) <= sheet.total <= scale_max:
            raise ValueError(f"total {sheet.total} of {sheet.expert}/{sheet.entry} "
                             f"is outside 0..{scale_max}")
        by_entry[sheet.entry][sheet.expert] = sheet.total
    return by_entry


def expert_distribution(sheets: Sequence[Sheet], lean_threshold: Decimal = Decimal("5"),
                        scale_max: Decimal = Decimal(100)) -> list[ExpertDistribution]:
    """Describe each expert's totals and lean in a round, sorted by expert name."""
    for value, what in ((lean_threshold, "lean_threshold"), (scale_max, "scale_max")):
        if require_decimal(value, what) <= 0:
            raise ValueError(f"{what} must be positive, got {value}")
    with localcontext(_CONTEXT):
        by_entry = _totals_by_entry(sheets, scale_max)
        by_expert: dict[str, list[Decimal]] = defaultdict(list)
        for totals in by_entry.values():
            for expert, total in totals.items():
                by_expert[expert].append(total)
        results = []
        for expert, own in sorted(by_expert.items()):
            mean, gaps = sorted_mean(own), _lean(expert, by_entry)
            lean = round_half_up(sorted_mean(gaps)) if gaps else None
            results.append(ExpertDistribution(
                expert=expert, n=len(own), mean=round_half_up(mean),
                minimum=round_half_up(min(own)), maximum=round_half_up(max(own)),
                stdev=round_half_up(pstdev(own, mean)), histogram=_histogram(own, scale_max),
                compared=len(gaps), lean=lean, verdict=_verdict(lean, lean_threshold)))
        return results
