"""Aggregation of score sheets against hand-computed tables, plus properties (Hypothesis)."""

from __future__ import annotations

import json
import statistics
from datetime import UTC, datetime, timedelta, timezone
from decimal import Decimal as D

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from app.review.aggregate import (
    AggregationSettings,
    Sheet,
    aggregate_entry,
    aggregate_round,
    fingerprint,
    normalise,
    settings_as_dict,
)

MEAN = AggregationSettings("mean")
TRIMMED = AggregationSettings("trimmed_mean")
MEDIAN = AggregationSettings("median")


def sheets_for(entry: int, *totals: str, vetoed: tuple[int, ...] = ()) -> list[Sheet]:
    """Sheets from experts e1, e2, ... with these totals; indexes in `vetoed` carry a veto."""
    return [Sheet(f"e{i}", entry, D(total), vetoed=i in vetoed)
            for i, total in enumerate(totals, start=1)]


def test_mean_of_three_rounds_half_up_at_the_end() -> None:
    # (80 + 85.5 + 90) / 3 = 255.5 / 3 = 85.1666… → 85.17
    result = aggregate_entry(sheets_for(7, "80", "85.5", "90"), MEAN)
    assert (result.entry, result.score, result.raw_score) == (7, D("85.17"), D("85.17"))
    assert (result.method_used, result.fallback_used, result.n) == ("mean", False, 3)
    assert result.sheets_used == ("e1", "e2", "e3") and result.dropped == ()
    assert result.spread == D("10.00") and not result.flagged_dispersion and not result.vetoed


def test_trimmed_mean_of_five_drops_one_highest_and_one_lowest() -> None:
    # sorted 78.5 | 82, 84.25, 86 | 99 → (82 + 84.25 + 86) / 3 = 252.25 / 3 = 84.0833… → 84.08
    result = aggregate_entry(sheets_for(1, "99", "82", "78.5", "86", "84.25"), TRIMMED)
    assert result.score == D("84.08")
    assert result.method_used == "trimmed_mean" and not result.fallback_used
    assert result.dropped == ("e3", "e1")  # lowest (78.5) first, then highest (99)
    assert result.sheets_used == ("e2", "e4", "e5")
    assert result.spread == D("20.50")  # 99 − 78.5


def test_trimmed_mean_of_seven() -> None:
    # sorted 60 | 75, 78, 80, 81.5, 83 | 97 → 397.5 / 5 = 79.50
    result = aggregate_entry(sheets_for(1, "80", "97", "75", "81.5", "60", "83", "78"), TRIMMED)
    assert result.score == D("79.50") and result.n == 7
    assert result.dropped == ("e5", "e2")


def test_trimmed_mean_of_seven_dropping_two_at_each_end() -> None:
    # trim=2: 60, 75 | 78, 80, 81.5 | 83, 97 → 239.5 / 3 = 79.8333… → 79.83
    two = AggregationSettings("trimmed_mean", trim=2, min_panel=7)
    result = aggregate_entry(sheets_for(1, "80", "97", "75", "81.5", "60", "83", "78"), two)
    assert result.score == D("79.83") and len(result.dropped) == 4


def test_trimmed_mean_below_the_minimum_panel_falls_back_and_says_so() -> None:
    # 4 sheets < min_panel 5. mean: (70 + 80 + 84 + 100) / 4 = 334 / 4 = 83.50
    sheets = sheets_for(1, "70", "80", "84", "100")
    result = aggregate_entry(sheets, TRIMMED)
    assert (result.score, result.method_used, result.fallback_used) == (D("83.50"), "mean", True)
    assert result.dropped == () and len(result.sheets_used) == 4
    # median fallback: (80 + 84) / 2 = 82.00
    by_median = aggregate_entry(sheets, AggregationSettings("trimmed_mean", fallback="median"))
    assert (by_median.score, by_median.method_used, by_median.fallback_used) == (
        D("82.00"), "median", True)


def test_median_of_an_odd_panel_is_the_middle_sheet() -> None:
    # sorted 70, 88, 95 → 88.00
    assert aggregate_entry(sheets_for(1, "88", "70", "95"), MEDIAN).score == D("88.00")


def test_median_of_an_even_panel_averages_the_middle_two_and_rounds_half_up() -> None:
    # sorted 70, 80.00, 80.01, 90 → (80.00 + 80.01) / 2 = 80.005 → 80.01 (half-even would say 80.00)
    result = aggregate_entry(sheets_for(1, "80.01", "90", "70", "80.00"), MEDIAN)
    assert result.score == D("80.01") and result.method_used == "median"


def test_a_single_veto_marks_the_entry_whatever_its_score() -> None:
    # (95 + 96 + 94) / 3 = 95.00, but e2 ticked a veto item (一票否决)
    result = aggregate_entry(sheets_for(3, "95", "96", "94", vetoed=(2,)), MEAN)
    assert result.vetoed and result.score == D("95.00")


@pytest.mark.parametrize(("threshold", "flagged"), [("10", False), ("10.00", False),
                                                   ("9.99", True), (None, False)])
def test_dispersion_is_flagged_only_when_the_spread_exceeds_the_threshold(
        threshold: str | None, flagged: bool) -> None:
    # spread = 90 − 80 = 10: "exceeds" means >, so a threshold of exactly 10 does not flag
    rule = AggregationSettings("mean", dispersion_threshold=None if threshold is None
                               else D(threshold))
    result = aggregate_entry(sheets_for(1, "80", "85", "90"), rule)
    assert result.spread == D("10.00") and result.flagged_dispersion is flagged


def test_aggregate_entry_refuses_mixed_entries_and_duplicate_experts() -> None:
    with pytest.raises(ValueError, match="exactly one entry"):
        aggregate_entry(sheets_for(1, "80") + sheets_for(2, "90"), MEAN)
    with pytest.raises(ValueError, match="two sheets"):
        aggregate_entry(sheets_for(1, "80") + sheets_for(1, "90"), MEAN)


def test_floats_are_refused() -> None:
    with pytest.raises(TypeError, match="Decimal"):
        Sheet("e1", 1, 85.5)  # type: ignore[arg-type]


@pytest.mark.parametrize("bad", [dict(method="mode"), dict(method="mean", fallback="trimmed_mean"),
                                 dict(method="trimmed_mean", trim=2, min_panel=4)])
def test_impossible_settings_are_refused(bad: dict[str, object]) -> None:
    with pytest.raises(ValueError):
        AggregationSettings(**bad)  # type: ignore[arg-type]


# Normalisation on a known dataset: a harsh and a lenient expert score the same five entries.
HARSH = ["60", "65", "70", "75", "80"]  # mean 70, pstdev √50 = 7.0711
LENIENT = ["85", "88", "90", "92", "95"]  # mean 90, pstdev √11.6 = 3.4059
# pool of all ten: mean 800 / 10 = 80, pstdev √(1308 / 10) = √130.8 = 11.4368
PAIR = ([Sheet("harsh", i, D(t)) for i, t in enumerate(HARSH, start=1)]
        + [Sheet("lenient", i, D(t)) for i, t in enumerate(LENIENT, start=1)])
NORMALISED = AggregationSettings("mean", normalise=True)


def reference_normalise(totals: dict[str, list[float]], minimum: int = 5) -> dict[str, list[float]]:
    """The documented formula on floats with the statistics module, written independently."""
    pool = [t for own in totals.values() for t in own]
    mu, sigma = statistics.fmean(pool), statistics.pstdev(pool)
    result = {}
    for expert, own in totals.items():
        own_mu, own_sigma = statistics.fmean(own), statistics.pstdev(own)
        if len(own) < minimum:
            result[expert] = own
        elif own_sigma == 0:
            result[expert] = [mu] * len(own)
        else:
            result[expert] = [min(max(mu + sigma * (t - own_mu) / own_sigma, 0), 100) for t in own]
    return result


def test_normalisation_matches_the_formula_on_a_harsh_and_a_lenient_expert() -> None:
    # harsh 60: z = (60 − 70) / 7.0711 = −1.4142 → 80 − 1.4142 × 11.4368 = 63.83
    # lenient 85: z = (85 − 90) / 3.4059 = −1.4680 → 80 − 1.4680 × 11.4368 = 63.21
    values = normalise(PAIR, NORMALISED)
    assert values[("harsh", 1)].quantize(D("0.01")) == D("63.83")
    assert values[("lenient", 1)].quantize(D("0.01")) == D("63.21")
    assert values[("harsh", 3)] == values[("lenient", 3)] == D(80)  # each expert's mean → pool mean
    expected = reference_normalise({"harsh": [float(t) for t in HARSH],
                                    "lenient": [float(t) for t in LENIENT]})
    for expert, own in expected.items():
        for entry, value in enumerate(own, start=1):
            assert f"{values[(expert, entry)]:.2f}" == f"{value:.2f}"


def test_round_results_show_normalised_and_raw_scores_side_by_side() -> None:
    # entry 1: raw (60 + 85) / 2 = 72.50; normalised (63.8259 + 63.2102) / 2 = 63.518 → 63.52
    # entry 5: raw (80 + 95) / 2 = 87.50; normalised (96.1741 + 96.7898) / 2 = 96.482 → 96.48
    results = {r.entry: r for r in aggregate_round(PAIR, NORMALISED)}
    assert (results[1].score, results[1].raw_score) == (D("63.52"), D("72.50"))
    assert (results[5].score, results[5].raw_score) == (D("96.48"), D("87.50"))
    assert all(r.normalised for r in results.values())
    plain = {r.entry: r for r in aggregate_round(PAIR, MEAN)}
    assert plain[1].score == plain[1].raw_score == D("72.50") and not plain[1].normalised


def test_experts_with_few_sheets_keep_raw_totals_and_uniform_experts_get_the_pool_mean() -> None:
    # pool: 80 × 5 and 70, 76 → mean (400 + 146) / 7 = 546 / 7 = 78; "flat" has pstdev 0
    sheets = ([Sheet("flat", i, D(80)) for i in range(1, 6)]
              + [Sheet("guest", 1, D(70)), Sheet("guest", 2, D(76))])
    values = normalise(sheets, NORMALISED)
    assert values[("guest", 1)] == D(70) and values[("guest", 2)] == D(76)  # 2 sheets < 5
    assert all(values[("flat", entry)] == D(78) for entry in range(1, 6))


def test_normalised_scores_are_clamped_to_the_scale() -> None:
    # steep: 50 ×4 and 100 → mean 60, pstdev 20, so 100 has z = 2.
    # pool with high (95..99): mean 78.5, pstdev √543.25 = 23.308 → 78.5 + 2 × 23.308 = 125.1 → 100
    steep = ["50", "50", "50", "50", "100"]
    high = ["95", "96", "97", "98", "99"]
    sheets = ([Sheet("steep", i, D(t)) for i, t in enumerate(steep, start=1)]
              + [Sheet("high", i, D(t)) for i, t in enumerate(high, start=1)])
    values = normalise(sheets, NORMALISED)
    assert values[("steep", 5)] == D(100)
    assert f"{values[('steep', 1)]:.2f}" == "66.85"  # 78.5 − 0.5 × 23.308 = 66.846


def test_settings_survive_a_json_round_trip() -> None:
    original = AggregationSettings("trimmed_mean", trim=1, min_panel=5, fallback="median",
                                   normalise=True, dispersion_threshold=D("15.5"))
    stored = json.loads(json.dumps(settings_as_dict(original)))
    assert stored["dispersion_threshold"] == "15.5" and stored["scale_max"] == "100"
    assert AggregationSettings.from_dict(stored) == original
    with pytest.raises(ValueError, match="unknown aggregation settings: weight"):
        AggregationSettings.from_dict({"method": "mean", "weight": 1})


def test_a_stored_result_recomputes_to_the_same_answer() -> None:
    rule = AggregationSettings("trimmed_mean", normalise=True, normalise_min_sheets=3)
    stored = json.dumps({"settings": settings_as_dict(rule), "fingerprint": fingerprint(PAIR, rule),
                         "results": [str(r.score) for r in aggregate_round(PAIR, rule)]})
    record = json.loads(stored)
    again = AggregationSettings.from_dict(record["settings"])
    assert fingerprint(list(reversed(PAIR)), again) == record["fingerprint"]
    assert [str(r.score) for r in aggregate_round(list(reversed(PAIR)), again)] == record["results"]


def test_fingerprint_ignores_order_and_notation_but_not_a_changed_score() -> None:
    moment = datetime(2026, 5, 1, 2, 0, tzinfo=UTC)
    one = [Sheet("a", 1, D("90"), {"x": D("40"), "y": D("50")}, submitted_at=moment),
           Sheet("b", 1, D("80"), {"x": D("30"), "y": D("50")})]
    shanghai = moment.astimezone(timezone(timedelta(hours=8)))
    same = [Sheet("b", 1, D("80.00"), {"y": D("50"), "x": D("30.0")}),
            Sheet("a", 1, D("90.0"), {"y": D("50"), "x": D("40")}, submitted_at=shanghai)]
    digest = fingerprint(one, MEAN)
    assert len(digest) == 64 and fingerprint(same, MEAN) == digest
    changed = [one[0], Sheet("b", 1, D("80.01"), {"x": D("30"), "y": D("50")})]
    assert fingerprint(changed, MEAN) != digest
    assert fingerprint(one, MEDIAN) != digest


def test_fingerprint_covers_the_context_a_result_was_computed_in() -> None:
    sheets = sheets_for(1, "80", "90")
    rubric_v1 = fingerprint(sheets, MEAN, {"rubric": "team@1", "weight": D("0.3")})
    assert fingerprint(sheets, MEAN, {"weight": D("0.30"), "rubric": "team@1"}) == rubric_v1
    assert fingerprint(sheets, MEAN, {"rubric": "team@2", "weight": D("0.3")}) != rubric_v1
    assert fingerprint(sheets, MEAN) != rubric_v1


TOTALS = st.decimals(min_value=0, max_value=100, places=2, allow_nan=False, allow_infinity=False)


@settings(database=None, deadline=None, max_examples=200)
@given(st.lists(TOTALS, min_size=5, max_size=9))
def test_trimmed_mean_lies_between_the_lowest_and_highest_sheet(totals: list[D]) -> None:
    result = aggregate_entry(sheets_for(1, *map(str, totals)), TRIMMED)
    assert min(totals) <= result.score <= max(totals)


@st.composite
def rounds(draw: st.DrawFn) -> list[Sheet]:
    """A round: 2–6 experts each scoring some of entries 1–6."""
    sheets = []
    for expert in range(draw(st.integers(2, 6))):
        for entry in draw(st.sets(st.integers(1, 6), min_size=1)):
            sheets.append(Sheet(f"x{expert}", entry, draw(TOTALS), vetoed=draw(st.booleans())))
    return sheets


ALL_SETTINGS = st.builds(AggregationSettings, method=st.sampled_from(["mean", "trimmed_mean",
                                                                      "median"]),
                         min_panel=st.integers(3, 6), fallback=st.sampled_from(["mean", "median"]),
                         normalise=st.booleans(), normalise_min_sheets=st.integers(2, 5),
                         dispersion_threshold=st.none() | TOTALS)


@settings(database=None, deadline=None, max_examples=200)
@given(rounds().flatmap(lambda s: st.tuples(st.just(s), st.permutations(s))), ALL_SETTINGS)
def test_permuting_the_sheets_never_changes_the_results(
        pair: tuple[list[Sheet], list[Sheet]], rule: AggregationSettings) -> None:
    sheets, shuffled = pair
    assert aggregate_round(shuffled, rule) == aggregate_round(sheets, rule)
    assert fingerprint(shuffled, rule) == fingerprint(sheets, rule)
