"""Weighted rounds, ranking with a tie-break chain, and award proposals, against hand tables."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal as D

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from app.review.ranking import (
    AwardProposal,
    Level,
    RankInput,
    award_levels,
    combine_rounds,
    incomplete_entries,
    level_counts,
    rank,
)

WEIGHTS = {"prelim": D("0.3"), "final": D("0.7")}
PRIZES = [Level("一等奖", D("0.15")), Level("二等奖", D("0.25")), Level("三等奖", D("0.30"))]
GRADES = [Level("优秀", threshold=D(90)), Level("合格", threshold=D(75))]


def test_rounds_weighted_thirty_seventy() -> None:
    prelim = {1: D("80"), 2: D("90"), 3: D("85"), 4: D("80.15")}
    final = {1: D("92"), 2: D("84"), 4: D("90")}
    combined = combine_rounds({"prelim": prelim, "final": final}, WEIGHTS)
    assert combined == {
        1: D("88.40"),  # 0.3 × 80 + 0.7 × 92 = 24 + 64.4
        2: D("85.80"),  # 0.3 × 90 + 0.7 × 84 = 27 + 58.8
        4: D("87.05"),  # 0.3 × 80.15 + 0.7 × 90 = 24.045 + 63 = 87.045 → half up
    }
    # entry 3 has no final-round score: no final score, and reported
    assert incomplete_entries({"prelim": prelim, "final": final}, WEIGHTS) == {3: ("final",)}


def test_round_weights_must_sum_to_one_and_be_decimals() -> None:
    results = {"prelim": {1: D(80)}, "final": {1: D(90)}}
    with pytest.raises(ValueError, match=r"must sum to 1, got 0.9 \(prelim=0.3, final=0.6\)"):
        combine_rounds(results, {"prelim": D("0.3"), "final": D("0.6")})
    with pytest.raises(TypeError, match="Decimal"):
        combine_rounds(results, {"prelim": 0.3, "final": 0.7})  # type: ignore[dict-item]
    with pytest.raises(ValueError, match="results for rounds"):
        combine_rounds({"prelim": {1: D(80)}}, WEIGHTS)


def test_missing_from_a_zero_weight_round_still_gets_a_final_score() -> None:
    results = {"prelim": {1: D(80), 2: D(70)}, "trial": {1: D(50)}}
    assert combine_rounds(results, {"prelim": D(1), "trial": D(0)}) == {1: D("80.00"),
                                                                         2: D("70.00")}


def places(ranked: list) -> list[tuple[int, int | None]]:
    """(entry, position) pairs in ranking order."""
    return [(r.entry, r.position) for r in ranked]


def test_equal_scores_are_separated_by_a_criterion() -> None:
    entries = [RankInput(1, D(90), tiebreak={"criterion:content": D(25)}),
               RankInput(2, D(90), tiebreak={"criterion:content": D(28)}),
               RankInput(3, D(95), tiebreak={"criterion:content": D(20)})]
    ranked = rank(entries, ["criterion:content"])
    assert places(ranked) == [(3, 1), (2, 2), (1, 3)]
    assert ranked[1].decided_by == "criterion:content" and ranked[0].decided_by is None
    assert all(r.tied_with == () for r in ranked)


def test_the_final_round_comes_before_the_criterion_in_the_chain() -> None:
    entries = [RankInput(1, D(88), tiebreak={"round:final": D(90), "criterion:content": D(30)}),
               RankInput(2, D(88), tiebreak={"round:final": D(92), "criterion:content": D(20)})]
    ranked = rank(entries, ["round:final", "criterion:content"])
    assert places(ranked) == [(2, 1), (1, 2)] and ranked[0].decided_by == "round:final"


def test_earlier_submission_wins_when_everything_else_is_equal() -> None:
    same = {"round:final": D(90), "criterion:content": D(25)}
    entries = [RankInput(1, D(88), tiebreak={**same, "submitted_at": datetime(2026, 5, 2, 10,
                                                                              tzinfo=UTC)}),
               RankInput(2, D(88), tiebreak={**same, "submitted_at": datetime(2026, 5, 2, 9,
                                                                              tzinfo=UTC)})]
    ranked = rank(entries, ["round:final", "criterion:content", "submitted_at"])
    assert places(ranked) == [(2, 1), (1, 2)] and ranked[1].decided_by == "submitted_at"


def test_an_unbreakable_tie_shares_a_position_and_skips_the_next() -> None:
    entries = [RankInput(4, D(85)), RankInput(3, D(90), tiebreak={"criterion:x": D(10)}),
               RankInput(2, D("90.00"), tiebreak={"criterion:x": D("10.0")}), RankInput(1, D(95))]
    ranked = rank(entries, ["criterion:x"])
    assert places(ranked) == [(1, 1), (2, 2), (3, 2), (4, 4)]  # 1, 2, 2, 4
    assert ranked[1].tied_with == (3,) and ranked[2].tied_with == (2,)
    assert ranked[1].decided_by is None


def test_a_missing_tie_break_value_ranks_last_among_equals() -> None:
    entries = [RankInput(1, D(90)), RankInput(2, D(90), tiebreak={"criterion:x": D(1)})]
    assert places(rank(entries, ["criterion:x"])) == [(2, 1), (1, 2)]


def test_vetoed_entries_go_last_without_a_position() -> None:
    entries = [RankInput(1, D(99), vetoed=True), RankInput(2, D(80)), RankInput(3, D(70))]
    ranked = rank(entries)
    assert places(ranked) == [(2, 1), (3, 2), (1, None)] and ranked[-1].vetoed


def test_an_unknown_tie_break_key_is_refused() -> None:
    with pytest.raises(ValueError, match="unknown tie-break key 'content'"):
        rank([RankInput(1, D(90))], ["content"])


@pytest.mark.parametrize(("n", "counts"), [
    (20, [3, 5, 6]),  # 3.0, 5.0, 6.0
    (10, [2, 3, 3]),  # 1.5 → 2, 2.5 → 3, 3.0 (half up, not half even)
    (7, [1, 2, 2]),  # 1.05 → 1, 1.75 → 2, 2.1 → 2
])
def test_level_counts_round_half_up(n: int, counts: list[int]) -> None:
    assert level_counts(PRIZES, n) == counts


def twenty_with_a_tie_at(first: int) -> list[RankInput]:
    """Entries 1–20 scoring 99, 98, …, 80, except that entry first + 1 equals entry first."""
    scores = {i: D(100 - i) for i in range(1, 21)}
    scores[first + 1] = scores[first]
    return [RankInput(i, score) for i, score in scores.items()]


def levels_of(proposals: list[AwardProposal]) -> dict[str | None, list[int]]:
    """Entries by proposed level, in ranking order."""
    result: dict[str | None, list[int]] = {}
    for p in proposals:
        result.setdefault(p.level, []).append(p.entry)
    return result


def test_proportions_of_twenty_with_a_tie_across_the_first_boundary() -> None:
    # counts 3, 5, 6 → 一等 positions 1–3, 二等 4–8, 三等 9–14.
    # entries 3 and 4 tie at position 3: both 一等; 二等 keeps positions 5–8 (4 entries).
    proposals = award_levels(rank(twenty_with_a_tie_at(3)), PRIZES)
    assert levels_of(proposals) == {"一等奖": [1, 2, 3, 4], "二等奖": [5, 6, 7, 8],
                                    "三等奖": list(range(9, 15)), None: list(range(15, 21))}
    reasons = {p.entry: p.reason for p in proposals}
    assert (reasons[3], reasons[4], reasons[15]) == ("proportion", "boundary_tie",
                                                     "outside_proportion")


def test_a_tie_across_the_last_boundary_is_awarded_over_the_count() -> None:
    # entries 14 and 15 tie at position 14, the last 三等 place: both get it (15 awards, not 14)
    proposals = award_levels(rank(twenty_with_a_tie_at(14)), PRIZES)
    assert levels_of(proposals)["三等奖"] == list(range(9, 16))


def test_thresholds_are_inclusive() -> None:
    scores = {1: "95", 2: "90", 3: "89.99", 4: "75", 5: "74.99"}
    proposals = award_levels(rank([RankInput(e, D(s)) for e, s in scores.items()]), GRADES)
    assert [(p.entry, p.level, p.reason) for p in proposals] == [
        (1, "优秀", "threshold"), (2, "优秀", "threshold"), (3, "合格", "threshold"),
        (4, "合格", "threshold"), (5, None, "below_threshold")]


def test_with_both_an_entry_needs_the_place_and_the_score() -> None:
    # 10 entries: 一等 20% → 2 places and ≥ 90; 二等 30% → 3 places (positions up to 5) and ≥ 80
    levels = [Level("一等奖", D("0.2"), D(90)), Level("二等奖", D("0.3"), D(80))]
    scores = ["96", "89", "88", "85", "79.5", "79", "78", "70", "65", "60"]
    ranked = rank([RankInput(i, D(s)) for i, s in enumerate(scores, start=1)])
    proposals = {p.entry: (p.level, p.reason) for p in award_levels(ranked, levels)}
    assert proposals[1] == ("一等奖", "proportion_and_threshold")
    assert proposals[2] == ("二等奖", "proportion_and_threshold")  # 2nd place but 89 < 90
    assert proposals[4] == ("二等奖", "proportion_and_threshold")
    assert proposals[5] == (None, "below_threshold")  # 5th place but 79.5 < 80
    assert proposals[6] == (None, "outside_proportion")


def test_caps_limit_a_district_in_ranking_order() -> None:
    table = [(1, "WJ", 95), (2, "WJ", 90), (3, "TN", 88), (4, "WJ", 85), (5, "TN", 80),
             (6, "WJ", 70)]
    ranked = rank([RankInput(e, D(s), group=g) for e, g, s in table])
    proposals = award_levels(ranked, [Level("合格", threshold=D(60))], caps={"WJ": 2})
    assert [(p.entry, p.level, p.reason, p.held_back) for p in proposals] == [
        (1, "合格", "threshold", None), (2, "合格", "threshold", None),
        (3, "合格", "threshold", None), (4, None, "cap_reached", "合格"),
        (5, "合格", "threshold", None), (6, None, "cap_reached", "合格")]


def test_a_tie_across_a_cap_is_held_back_for_the_administrator() -> None:
    table = [(1, "WJ", 95), (2, "WJ", 90), (3, "WJ", 90), (4, "TN", 85), (5, "WJ", 80)]
    ranked = rank([RankInput(e, D(s), group=g) for e, g, s in table])
    proposals = award_levels(ranked, [Level("合格", threshold=D(60))], caps={"WJ": 2})
    assert [(p.entry, p.level, p.reason) for p in proposals] == [
        (1, "合格", "threshold"), (2, None, "tied_at_cap"), (3, None, "tied_at_cap"),
        (4, "合格", "threshold"), (5, None, "cap_reached")]


def test_proportions_per_group_count_each_group_separately() -> None:
    # group A: 10 entries → 一等 20% = 2; group B: 5 entries → 20% = 1; a vetoed B entry gets none
    entries = [RankInput(i, D(100 - i), group="A") for i in range(1, 11)]
    entries += [RankInput(20 + i, D("99.5") - i, group="B") for i in range(1, 6)]
    entries.append(RankInput(99, D(100), vetoed=True, group="B"))
    proposals = award_levels(rank(entries), [Level("一等奖", D("0.2"))], per_group=True)
    # ranking: 1 (99), 21 (98.5), 2 (98), 22 (97.5), … → A's top two and B's top one
    assert levels_of(proposals)["一等奖"] == [1, 21, 2]
    assert proposals[-1] == AwardProposal(99, None, "vetoed", "B")


def test_levels_must_be_listed_highest_first() -> None:
    with pytest.raises(ValueError, match="highest first"):
        award_levels([], list(reversed(GRADES)))
    with pytest.raises(ValueError, match="proportion, a threshold or both"):
        Level("三等奖")


SCORES = st.sampled_from([D(s) for s in ("70", "80", "80.00", "85.5", "90")])
INPUTS = st.lists(st.builds(RankInput, entry=st.integers(1, 10_000), score=SCORES,
                            vetoed=st.booleans(),
                            tiebreak=st.fixed_dictionaries({}, optional={
                                "criterion:x": st.sampled_from([D(1), D(2)])})),
                  max_size=30, unique_by=lambda item: item.entry)


@settings(database=None, deadline=None, max_examples=200)
@given(INPUTS.flatmap(lambda s: st.tuples(st.just(s), st.permutations(s))))
def test_positions_follow_the_scores(pair: tuple[list[RankInput], list[RankInput]]) -> None:
    entries, shuffled = pair
    ranked = rank(entries, ["criterion:x"])
    assert rank(shuffled, ["criterion:x"]) == ranked
    live = [r for r in ranked if not r.vetoed]
    assert [r.position for r in live] == sorted(r.position or 0 for r in live)
    assert [r.score for r in live] == sorted((r.score for r in live), reverse=True)
    for a in live:
        for b in live:
            if a.score > b.score:
                assert (a.position or 0) < (b.position or 0)
    assert all(r.position is None for r in ranked[len(live):])
