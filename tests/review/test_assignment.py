"""Automatic expert assignment: hand-checked cases, properties of random pools, the issue's case."""

from __future__ import annotations

import itertools
import random
from collections import Counter

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from app.review.assignment import Entry, Expert, Plan, Rules, plan_assignments

quick = settings(database=None, deadline=None)  # no example files in the repository; CI may be slow

MUSIC, SPORT = frozenset({"music"}), frozenset({"sport"})


def experts_of(plan: Plan, entry_id: int) -> list[int]:
    """Return the experts newly assigned to one entry."""
    return [x for e, x in plan.pairs if e == entry_id]


def spread(plan: Plan) -> int:
    """Return the difference between the highest and the lowest load."""
    return max(plan.loads.values()) - min(plan.loads.values())


def allowed(entry: Entry, expert: Expert, rules: Rules) -> bool:
    """Decide from the rules alone whether a new pair is legal (independent of the planner)."""
    return not (expert.org == entry.org
                or (rules.exclude_same_district and entry.district is not None
                    and entry.district == expert.district)
                or (entry.id, expert.id) in rules.declared_conflicts
                or (entry.id, expert.id) in rules.existing
                or (rules.match_tags == "require"
                    and not expert.tags & (entry.tags | {entry.category} - {None})))


def targets(entries: list[Entry], rules: Rules) -> dict[int, int]:
    """Return how many new experts each entry needs once its existing pairs count."""
    held = Counter(e for e, _ in rules.existing)
    return {e.id: max(0, rules.per_entry - held[e.id]) for e in entries}


# --- hand-checked cases -------------------------------------------------------------------------

def test_an_expert_never_reviews_their_own_unit() -> None:
    """The entry from unit 1 gets the two experts of other units, not the one of its own."""
    plan = plan_assignments([Entry(1, org=1, district=None)],
                            [Expert(10, 1, None), Expert(11, 2, None), Expert(12, 3, None)],
                            Rules(per_entry=2))
    assert plan.pairs == ((1, 11), (1, 12))
    assert plan.unfilled == {} and plan.warnings == ()


@pytest.mark.parametrize(("exclude", "expected"), [(True, [12]), (False, [11, 12])])
def test_same_district_is_excluded_only_when_the_rules_say_so(exclude: bool,
                                                              expected: list[int]) -> None:
    """An expert of the entry's district is left out only under exclude_same_district."""
    plan = plan_assignments([Entry(1, org=1, district=5)],
                            [Expert(11, 2, 5), Expert(12, 3, 6)],
                            Rules(per_entry=2, exclude_same_district=exclude))
    assert experts_of(plan, 1) == expected


def test_an_unknown_district_is_never_the_same_district() -> None:
    """City-level units (no district) conflict with nobody's district."""
    plan = plan_assignments([Entry(1, org=1, district=None), Entry(2, org=2, district=5)],
                            [Expert(11, 3, None), Expert(12, 4, 5)],
                            Rules(per_entry=2, exclude_same_district=True))
    assert plan.pairs == ((1, 11), (1, 12), (2, 11))
    assert plan.unfilled == {2: 1}


def test_a_declared_conflict_is_respected_and_given_as_the_reason() -> None:
    """An expert who declared a conflict is not assigned; the shortfall says why."""
    plan = plan_assignments([Entry(1, 1, None)], [Expert(11, 2, None), Expert(12, 3, None)],
                            Rules(per_entry=2, declared_conflicts=frozenset({(1, 12)})))
    assert plan.pairs == ((1, 11),)
    assert plan.unfilled == {1: 1}
    assert plan.reasons[1] == "专家库共 2 人，其中声明回避 1 人，本次分配 1 人"
    assert plan.warnings == ("申报 1 缺 1 名专家：专家库共 2 人，其中声明回避 1 人，本次分配 1 人",)


def test_existing_pairs_count_towards_the_entry_and_the_load_and_are_not_repeated() -> None:
    """Entry 1 already has expert 11, so it gets one more; 11's earlier work steers entry 2 away."""
    rules = Rules(per_entry=2, existing=frozenset({(1, 11), (9, 11)}))
    plan = plan_assignments([Entry(1, 1, None), Entry(2, 1, None)],
                            [Expert(11, 2, None), Expert(12, 3, None), Expert(13, 4, None)], rules)
    assert experts_of(plan, 1) == [12]
    assert experts_of(plan, 2) == [12, 13]  # 11 already carries two reviews
    assert plan.loads == {11: 2, 12: 2, 13: 1}
    assert plan.unfilled == {}


@pytest.mark.parametrize(("mode", "expected"), [("off", [11]), ("prefer", [13]), ("require", [13])])
def test_tag_modes_choose_the_expert(mode: str, expected: list[int]) -> None:
    """Ties go to the lowest id unless tags are preferred or required."""
    experts = [Expert(11, 2, None), Expert(12, 3, None, SPORT), Expert(13, 4, None, MUSIC)]
    plan = plan_assignments([Entry(1, 1, None, MUSIC)], experts,
                            Rules(per_entry=1, match_tags=mode))  # type: ignore[arg-type]
    assert experts_of(plan, 1) == expected


def test_the_category_counts_as_a_tag_when_tags_are_required() -> None:
    """An entry of category 书法 may only go to calligraphy experts under "require"."""
    experts = [Expert(11, 2, None, MUSIC), Expert(12, 3, None, frozenset({"书法"}))]
    plan = plan_assignments([Entry(1, 1, None, category="书法")], experts,
                            Rules(per_entry=2, match_tags="require"))
    assert plan.pairs == ((1, 12),)
    assert plan.reasons[1] == "专家库共 2 人，其中专长不符 1 人，本次分配 1 人"


def test_preferred_tags_never_cost_balance_but_required_ones_do() -> None:
    """Two music entries, one music expert: "prefer" shares them out, "require" cannot."""
    entries = [Entry(1, 1, None, MUSIC), Entry(2, 1, None, MUSIC)]
    experts = [Expert(11, 2, None), Expert(12, 3, None, MUSIC)]
    prefer = plan_assignments(entries, experts, Rules(per_entry=1, match_tags="prefer"))
    assert prefer.loads == {11: 1, 12: 1} and prefer.warnings == ()
    require = plan_assignments(entries, experts, Rules(per_entry=1, match_tags="require"))
    assert require.pairs == ((1, 12), (2, 12))
    assert require.warnings == (
        "专家负荷为 0–2 项，相差超过 1：回避、专长、上限或已有分配使任何合规调整都不能"
        "把任务从负荷为 L 的专家移给负荷不超过 L−2 的专家",
        "专家 11 没有可评的申报（回避、专长或已分配）")


def test_preferred_tags_swap_pairs_when_loads_stay_the_same() -> None:
    """Entry 1 (untagged) is planned first and takes 11; a swap hands the music entry to 11."""
    plan = plan_assignments([Entry(1, 1, None), Entry(2, 1, None, MUSIC)],
                            [Expert(11, 2, None, MUSIC), Expert(12, 3, None)],
                            Rules(per_entry=1, match_tags="prefer"))
    assert plan.pairs == ((1, 12), (2, 11))


def test_max_load_is_never_exceeded_and_the_shortfall_is_reported() -> None:
    """Three entries, two experts taking one each: one entry stays short, with the reason."""
    experts = [Expert(11, 2, None, max_load=1), Expert(12, 3, None, max_load=1)]
    plan = plan_assignments([Entry(i, 1, None) for i in (1, 2, 3)], experts, Rules(per_entry=1))
    assert plan.pairs == ((1, 11), (2, 12))
    assert plan.loads == {11: 1, 12: 1}
    assert plan.unfilled == {3: 1}
    assert plan.reasons[3] == "专家库共 2 人，其中已满额 2 人"


def test_a_chain_of_moves_frees_a_capped_expert() -> None:
    """Greedy gives 11 to entry 2 and leaves entry 3 without anyone; moving 2 to 12 frees 11."""
    conflicts = {(1, 11), (1, 12), (2, 13), (3, 12)}  # 1 may take 13; 2 11 or 12; 3 11 or 13
    experts = [Expert(x, x, None, max_load=1) for x in (11, 12, 13)]
    plan = plan_assignments([Entry(e, 1, None) for e in (1, 2, 3)], experts,
                            Rules(per_entry=1, declared_conflicts=frozenset(conflicts)))
    assert plan.pairs == ((1, 13), (2, 12), (3, 11))
    assert plan.unfilled == {}


def test_the_repair_pass_evens_out_what_greedy_left_uneven() -> None:
    """Greedy gives 11 two entries and 12 none; the repair pass moves entry 2 to 12."""
    conflicts = {(1, 11), (1, 12), (2, 13), (3, 12)}
    experts = [Expert(x, x, None) for x in (11, 12, 13)]
    plan = plan_assignments([Entry(e, 1, None) for e in (1, 2, 3)], experts,
                            Rules(per_entry=1, declared_conflicts=frozenset(conflicts)))
    assert plan.loads == {11: 1, 12: 1, 13: 1}


def test_an_impossible_entry_is_reported_not_silently_short() -> None:
    """Only one expert may review entry 1, which needs three: one pair, two missing, reasons."""
    experts = [Expert(11, 1, None), Expert(12, 2, 7), Expert(13, 3, None),
               Expert(14, 4, None, max_load=0)]
    rules = Rules(per_entry=3, exclude_same_district=True, existing=frozenset({(1, 13)}))
    plan = plan_assignments([Entry(1, 1, 7)], experts, rules)
    assert plan.pairs == ()
    assert plan.unfilled == {1: 2}
    assert plan.reasons[1] == ("专家库共 4 人，其中已有分配 1 人，同单位 1 人，同区 1 人，"
                               "已满额 1 人")
    assert plan.warnings[0].startswith("申报 1 缺 2 名专家：")


def test_existing_pairs_that_break_the_rules_and_overfull_experts_are_warned_about() -> None:
    """The planner keeps existing pairs but says which ones need a look."""
    rules = Rules(per_entry=1, existing=frozenset({(1, 11), (2, 11)}),
                  declared_conflicts=frozenset({(2, 11)}))
    plan = plan_assignments([Entry(1, 1, None), Entry(2, 2, None), Entry(3, 2, None)],
                            [Expert(11, 1, None, max_load=1), Expert(12, 3, None)], rules)
    assert plan.pairs == ((3, 12),)
    assert plan.warnings[:3] == ("已有分配（申报 1，专家 11）须回避：同单位",
                                 "已有分配（申报 2，专家 11）须回避：声明回避",
                                 "专家 11 已有 2 项评审，超过上限 1")


@pytest.mark.parametrize("rules_args", [{"per_entry": -1}, {"per_entry": 1, "match_tags": "some"}])
def test_bad_rules_are_refused(rules_args: dict[str, object]) -> None:
    """A negative count or an unknown tag mode is a programming error."""
    with pytest.raises(ValueError):
        Rules(**rules_args)  # type: ignore[arg-type]


def test_duplicate_ids_are_refused() -> None:
    """Two experts with one id would make loads meaningless."""
    with pytest.raises(ValueError, match="duplicate expert ids"):
        plan_assignments([], [Expert(1, 1, None), Expert(1, 2, None)], Rules(per_entry=1))


# --- properties over random pools ---------------------------------------------------------------

@st.composite
def pools(draw: st.DrawFn, max_entries: int = 10, max_experts: int = 8, max_per_entry: int = 3,
          caps: tuple[int | None, ...] = (None, None, 0, 1, 2),
          max_conflicts: int = 6) -> tuple[list[Entry], list[Expert], Rules]:
    """Draw entries, experts and rules from a few units, districts, tags and caps."""
    tags = st.frozensets(st.sampled_from("abc"), max_size=2)
    districts = st.sampled_from([None, 1, 2])
    entries = [Entry(i, draw(st.integers(0, 3)), draw(districts), draw(tags),
                     draw(st.sampled_from([None, "a", "c"])))
               for i in range(draw(st.integers(0, max_entries)))]
    experts = [Expert(100 + i, draw(st.integers(0, 3)), draw(districts), draw(tags),
                      draw(st.sampled_from(caps)))
               for i in range(draw(st.integers(0, max_experts)))]
    pairs = st.sampled_from([(e.id, x.id) for e in entries for x in experts] or [(0, 0)])
    rules = Rules(draw(st.integers(0, max_per_entry)), draw(st.booleans()),
                  draw(st.sampled_from(["off", "prefer", "require"])),
                  draw(st.frozensets(pairs, max_size=4)),
                  draw(st.frozensets(pairs, max_size=max_conflicts)))
    return entries, experts, rules


@quick
@given(pools())
def test_a_plan_never_breaks_a_rule(pool: tuple[list[Entry], list[Expert], Rules]) -> None:
    """No illegal or repeated pair, no cap exceeded, loads and shortfalls add up."""
    entries, experts, rules = pool
    plan = plan_assignments(entries, experts, rules)
    by_id = {e.id: e for e in entries}, {x.id: x for x in experts}
    assert len(set(plan.pairs)) == len(plan.pairs) and list(plan.pairs) == sorted(plan.pairs)
    assert all(allowed(by_id[0][e], by_id[1][x], rules) for e, x in plan.pairs)
    new = Counter(x for _, x in plan.pairs)
    held = Counter(x for _, x in rules.existing)
    assert plan.loads == {x.id: held[x.id] + new[x.id] for x in experts}
    for x in experts:
        if x.max_load is not None and new[x.id]:
            assert plan.loads[x.id] <= x.max_load
    got = Counter(e for e, _ in plan.pairs)
    short = {e: n - got[e] for e, n in targets(entries, rules).items() if n > got[e]}
    assert plan.unfilled == short and set(plan.reasons) == set(short)
    assert all(any(w.startswith(f"申报 {e} 缺 {n} 名") for w in plan.warnings)
               for e, n in short.items())


@quick
@given(pools(caps=(None,)))
def test_without_caps_each_entry_gets_every_eligible_expert_it_needs(
        pool: tuple[list[Entry], list[Expert], Rules]) -> None:
    """Each entry gets min(experts needed, experts eligible)."""
    entries, experts, rules = pool
    plan = plan_assignments(entries, experts, rules)
    need = targets(entries, rules)
    got = Counter(e for e, _ in plan.pairs)
    for entry in entries:
        eligible = sum(allowed(entry, x, rules) for x in experts)
        assert got[entry.id] == min(need[entry.id], eligible)


@quick
@given(st.integers(0, 30), st.integers(1, 10), st.integers(0, 5),
       st.sampled_from(["off", "prefer"]), st.randoms(use_true_random=False))
def test_loads_differ_by_at_most_one_when_anyone_may_review_anything(
        n_entries: int, n_experts: int, per_entry: int, mode: str, rnd: random.Random) -> None:
    """With no conflicts, caps or earlier pairs each entry gets min(N, experts); loads within 1."""
    entries = [Entry(i, 0, rnd.choice([1, 2]), frozenset(rnd.sample("ab", 1)))
               for i in range(n_entries)]
    experts = [Expert(100 + i, 1, rnd.choice([1, 2]), frozenset(rnd.sample("ab", 1)))
               for i in range(n_experts)]
    plan = plan_assignments(entries, experts, Rules(per_entry, match_tags=mode))  # type: ignore[arg-type]
    assert len(plan.pairs) == n_entries * min(per_entry, n_experts)
    assert spread(plan) <= 1
    assert not any(warning.startswith("专家负荷") for warning in plan.warnings)


@pytest.mark.slow
@settings(database=None, deadline=None, max_examples=300)
@given(pools(max_entries=20, max_experts=10, caps=(None, None, 2, 4), max_conflicts=60))
def test_no_chain_of_moves_could_fill_more_or_even_out_loads_more(
        pool: tuple[list[Entry], list[Expert], Rules]) -> None:
    """The plan's certificate: no chain frees a slot for a short entry or moves work down by 2."""
    entries, experts, rules = pool
    plan = plan_assignments(entries, experts, rules)
    on: dict[int, set[int]] = {e.id: set() for e in entries}
    for e, x in plan.pairs:
        on[e].add(x)
    takers = {e.id: {x.id for x in experts if allowed(e, x, rules) and x.id not in on[e.id]}
              for e in entries}
    hands_to = {x.id: set().union(*(takers[e] for e, y in plan.pairs if y == x.id))
                for x in experts}  # experts a move of one of x's new pairs could go to
    free = {x.id for x in experts if x.max_load is None or plan.loads[x.id] < x.max_load}
    for entry_id in plan.unfilled:
        assert not _reachable(hands_to, takers[entry_id]) & free
    for holder in {x for _, x in plan.pairs}:
        lighter = {x for x in free if plan.loads[x] <= plan.loads[holder] - 2}
        assert not _reachable(hands_to, hands_to[holder]) & lighter


def _reachable(graph: dict[int, set[int]], starts: set[int]) -> set[int]:
    """Return the nodes reachable from the start nodes, the starts included."""
    seen, stack = set(starts), list(starts)
    while stack:
        for node in graph[stack.pop()] - seen:
            seen.add(node)
            stack.append(node)
    return seen


@pytest.mark.slow
@settings(database=None, deadline=None, max_examples=300)
@given(pools(max_entries=4, max_experts=4, max_per_entry=2, caps=(None, 1, 1, 2), max_conflicts=10))
def test_no_legal_plan_is_fuller_or_better_balanced(
        pool: tuple[list[Entry], list[Expert], Rules]) -> None:
    """Against every legal plan: as many pairs, then the lowest top load, highest bottom load."""
    entries, experts, rules = pool
    plan = plan_assignments(entries, experts, rules)
    loads = [plan.loads[x.id] for x in experts]
    best = _best_by_brute_force(entries, experts, rules)
    assert (len(plan.pairs), max(loads, default=0), min(loads, default=0),
            sum(n * n for n in loads)) == best


def _best_by_brute_force(entries: list[Entry], experts: list[Expert],
                         rules: Rules) -> tuple[int, int, int, int]:
    """Enumerate all legal plans: most pairs; among those the best max, min and sum of squares."""
    held = Counter(x for _, x in rules.existing)
    need = targets(entries, rules)
    choices = []
    for entry in entries:
        eligible = [x.id for x in experts if allowed(entry, x, rules)]
        choices.append([c for k in range(min(need[entry.id], len(eligible)) + 1)
                        for c in itertools.combinations(eligible, k)])
    best: tuple[int, int, int, int] | None = None
    for combo in itertools.product(*choices):
        new = Counter(x for chosen in combo for x in chosen)
        if any(x.max_load is not None and new[x.id] and held[x.id] + new[x.id] > x.max_load
               for x in experts):
            continue
        loads = [held[x.id] + new[x.id] for x in experts]
        key = (sum(new.values()), max(loads, default=0), min(loads, default=0),
               sum(n * n for n in loads))
        if best is None or key[0] > best[0]:
            best = key
        elif key[0] == best[0]:
            best = (key[0], min(best[1], key[1]), max(best[2], key[2]), min(best[3], key[3]))
    assert best is not None
    return best


@quick
@given(pools(), st.randoms(use_true_random=False))
def test_the_same_input_in_any_order_gives_the_same_plan(
        pool: tuple[list[Entry], list[Expert], Rules], rnd: random.Random) -> None:
    """Ties break by id, never by input order."""
    entries, experts, rules = pool
    shuffled_entries, shuffled_experts = entries[:], experts[:]
    rnd.shuffle(shuffled_entries)
    rnd.shuffle(shuffled_experts)
    assert plan_assignments(shuffled_entries, shuffled_experts, rules) == plan_assignments(
        entries, experts, rules)


# --- the case ---------------------------------------------------------------------------

@pytest.mark.parametrize("seed", [1, 2, 3])
def test_300_entries_40_experts_6_districts_no_conflict_and_loads_within_one(seed: int) -> None:
    """Three experts per entry from other units and districts; every load is 22 or 23."""
    rnd = random.Random(seed)
    units = [(unit, district) for district in range(1, 7) for unit in range(district * 10,
                                                                          district * 10 + 8)]
    entries = [Entry(i, *rnd.choice(units)) for i in range(1, 301)]
    experts = [Expert(1000 + i, *rnd.choice(units)) for i in range(40)]
    rules = Rules(per_entry=3, exclude_same_district=True)
    plan = plan_assignments(entries, experts, rules)
    by_id = {e.id: e for e in entries}, {x.id: x for x in experts}
    assert all(allowed(by_id[0][e], by_id[1][x], rules) for e, x in plan.pairs)
    assert Counter(e for e, _ in plan.pairs) == dict.fromkeys(range(1, 301), 3)
    assert set(plan.loads.values()) == {22, 23}
    assert plan.unfilled == {} and plan.warnings == ()
