"""Expert calibration (who scores harshly or leniently) against hand-computed tables."""

from __future__ import annotations

from decimal import Decimal as D

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from app.review.aggregate import Sheet
from app.review.calibration import ExpertDistribution, expert_distribution

# Three experts score the same four entries: alice low, carol high, bob in between.
ROUND = {  # expert: totals for entries 1, 2, 3, 4
    "alice": ("70", "60", "80", "50.5"),
    "bob": ("80", "72", "88", "64"),
    "carol": ("90", "81", "95", "75"),
}
SHEETS = [Sheet(expert, entry, D(total))
          for expert, totals in ROUND.items() for entry, total in enumerate(totals, start=1)]

# Gap = own total − mean of the other two on that entry:
#   entry 1: alice 70 − 85 = −15     bob 80 − 80 = 0        carol 90 − 75 = 15
#   entry 2: alice 60 − 76.5 = −16.5 bob 72 − 70.5 = 1.5    carol 81 − 66 = 15
#   entry 3: alice 80 − 91.5 = −11.5 bob 88 − 87.5 = 0.5    carol 95 − 84 = 11
#   entry 4: alice 50.5 − 69.5 = −19 bob 64 − 62.75 = 1.25  carol 75 − 57.25 = 17.75
# lean: alice −62 / 4 = −15.5; bob 3.25 / 4 = 0.8125 → 0.81; carol 58.75 / 4 = 14.6875 → 14.69
# mean: alice 260.5 / 4 = 65.125 → 65.13; bob 304 / 4 = 76; carol 341 / 4 = 85.25
# stdev: alice √(485.1875 / 4) = √121.296875 = 11.0134… → 11.01
#        bob √(320 / 4) = √80 = 8.944… → 8.94;  carol √(240.75 / 4) = √60.1875 = 7.758… → 7.76
# histogram buckets (tens): alice 5, 6, 7, 8; bob 6, 7, 8, 8; carol 7, 8, 9, 9
EXPECTED = [
    # expert, n, mean, min, max, stdev, histogram, compared, lean, verdict
    ("alice", 4, "65.13", "50.50", "80.00", "11.01", (0, 0, 0, 0, 0, 1, 1, 1, 1, 0), 4, "-15.50",
     "harsh"),
    ("bob", 4, "76.00", "64.00", "88.00", "8.94", (0, 0, 0, 0, 0, 0, 1, 1, 2, 0), 4, "0.81",
     "typical"),
    ("carol", 4, "85.25", "75.00", "95.00", "7.76", (0, 0, 0, 0, 0, 0, 0, 1, 1, 2), 4, "14.69",
     "lenient"),
]


def as_rows(results: list[ExpertDistribution]) -> list[tuple[object, ...]]:
    """Results as plain tuples, Decimals written out, to compare with a hand-written table."""
    return [(r.expert, r.n, str(r.mean), str(r.minimum), str(r.maximum), str(r.stdev),
             r.histogram, r.compared, None if r.lean is None else str(r.lean), r.verdict)
            for r in results]


def test_one_harsh_one_typical_one_lenient_expert() -> None:
    assert as_rows(expert_distribution(SHEETS)) == EXPECTED


def test_a_single_sheet_expert_has_no_spread_and_no_verdict() -> None:
    # dave alone on entry 5: nobody to compare with; the three others are unchanged.
    results = expert_distribution([*SHEETS, Sheet("dave", 5, D("42.5"))])
    assert as_rows(results) == [*EXPECTED, ("dave", 1, "42.50", "42.50", "42.50", "0.00",
                                            (0, 0, 0, 0, 1, 0, 0, 0, 0, 0), 0, None, "unknown")]


def test_only_entries_shared_with_another_expert_are_compared() -> None:
    # erin and frank share entry 1 (70 vs 60); erin's entry 2 has no other sheet.
    sheets = [Sheet("erin", 1, D("70")), Sheet("frank", 1, D("60")), Sheet("erin", 2, D("80"))]
    rows = [(r.expert, r.n, r.compared, r.lean, r.verdict) for r in expert_distribution(sheets)]
    assert rows == [("erin", 2, 1, D("10.00"), "lenient"), ("frank", 1, 1, D("-10.00"), "harsh")]


@pytest.mark.parametrize(("high", "threshold", "verdicts"), [
    ("55", "5", ("lenient", "harsh")),  # gap exactly ±5: the threshold itself counts
    ("54.99", "5", ("typical", "typical")),  # ±4.99
    ("55", "5.01", ("typical", "typical")),
    ("60", "10", ("lenient", "harsh")),
])
def test_verdict_thresholds_are_inclusive(high: str, threshold: str,
                                          verdicts: tuple[str, str]) -> None:
    sheets = [Sheet("hi", 1, D(high)), Sheet("lo", 1, D("50"))]
    results = expert_distribution(sheets, lean_threshold=D(threshold))
    assert tuple(r.verdict for r in results) == verdicts


def test_verdict_reads_the_published_lean() -> None:
    # hi's gaps are 4.99 and 5 → lean 4.995, published 5.00 → lenient; lo's −4.995 → −5.00 → harsh.
    sheets = [Sheet("hi", 1, D("54.99")), Sheet("lo", 1, D("50")),
              Sheet("hi", 2, D("55")), Sheet("lo", 2, D("50"))]
    rows = [(r.expert, r.lean, r.verdict) for r in expert_distribution(sheets)]
    assert rows == [("hi", D("5.00"), "lenient"), ("lo", D("-5.00"), "harsh")]


@pytest.mark.parametrize(("totals", "scale_max", "histogram"), [
    (("0", "9.99", "10", "100"), "100", (2, 1, 0, 0, 0, 0, 0, 0, 0, 1)),
    (("89.99", "90", "99.99", "100"), "100", (0, 0, 0, 0, 0, 0, 0, 0, 1, 3)),
    (("0", "1.99", "2", "20"), "20", (2, 1, 0, 0, 0, 0, 0, 0, 0, 1)),  # buckets 2 points wide
])
def test_histogram_bucket_edges(totals: tuple[str, ...], scale_max: str,
                                histogram: tuple[int, ...]) -> None:
    sheets = [Sheet("solo", entry, D(t)) for entry, t in enumerate(totals, start=1)]
    [result] = expert_distribution(sheets, scale_max=D(scale_max))
    assert result.histogram == histogram


@pytest.mark.parametrize("total", ["100.01", "-0.01"])
def test_a_total_off_the_scale_is_refused(total: str) -> None:
    with pytest.raises(ValueError, match="outside 0..100"):
        expert_distribution([*SHEETS, Sheet("dave", 5, D(total))])


def test_two_sheets_of_one_expert_for_one_entry_are_refused() -> None:
    with pytest.raises(ValueError, match="expert bob has two sheets for entry 3"):
        expert_distribution([*SHEETS, Sheet("bob", 3, D("88"))])


@pytest.mark.parametrize(("keyword", "value", "error"), [
    ("lean_threshold", D("0"), ValueError), ("lean_threshold", D("-5"), ValueError),
    ("scale_max", D("0"), ValueError), ("lean_threshold", 5.0, TypeError),
])
def test_unusable_parameters_are_refused(keyword: str, value: object,
                                         error: type[Exception]) -> None:
    with pytest.raises(error, match=keyword):
        expert_distribution(SHEETS, **{keyword: value})  # type: ignore[arg-type]


def test_no_sheets_give_no_experts() -> None:
    assert expert_distribution([]) == []


def test_the_fixed_table_does_not_depend_on_input_order() -> None:
    assert as_rows(expert_distribution(SHEETS[::-1])) == EXPECTED


TOTALS = st.decimals(min_value=0, max_value=100, places=2, allow_nan=False, allow_infinity=False)


@st.composite
def rounds(draw: st.DrawFn) -> list[Sheet]:
    """A round: 1–5 experts each scoring some of entries 1–6."""
    return [Sheet(f"x{expert}", entry, draw(TOTALS))
            for expert in range(draw(st.integers(1, 5)))
            for entry in sorted(draw(st.sets(st.integers(1, 6), min_size=1)))]


@settings(database=None, deadline=None, max_examples=200)
@given(rounds().flatmap(lambda s: st.tuples(st.just(s), st.permutations(s))))
def test_permuting_the_sheets_never_changes_the_results(
        pair: tuple[list[Sheet], list[Sheet]]) -> None:
    sheets, shuffled = pair
    assert expert_distribution(shuffled) == expert_distribution(sheets)
