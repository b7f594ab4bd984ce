"""Plan automatic expert assignment: N experts per entry, no conflicts, balanced loads.

Pure and database-free: the review service turns rows into `Entry` and `Expert`, shows the `Plan`
as a preview and applies its pairs. The planner treats assignment as a flow problem, in passes:

1. greedy: entries with the fewest eligible experts first; each takes the eligible experts with the
   lowest load (then, with ``match_tags="prefer"``, one sharing a tag; then the lowest id);
2. fill: an entry left short because experts reached ``max_load`` gets a chain of moves (an
   augmenting path) that frees a slot, so the plan makes as many pairs as the rules allow;
3. balance: while a chain of legal moves can take one new assignment from an expert with load L to
   an expert with load L - 2 or less (a cost-reducing path), apply it;
4. with ``"prefer"``: move or swap an assignment to an expert sharing a tag when every load stays
   as balanced (the multiset of loads is unchanged).

What "balanced within ±1" means: no chain of legal reassignments of the new pairs can move work
from an expert with load L to one with load L - 2 or less. Such a plan is the most balanced of all
plans making the same number of pairs: it minimises the highest load, maximises the lowest and
minimises the sum of squares at once. When every expert may review every entry (no unit, district,
tag, cap or earlier pair in the way) the loads differ by at most 1. A wider spread forced by the
rules is reported in `Plan.warnings`. Loads count the existing pairs, which never move.
"""

from __future__ import annotations

import heapq
from collections import Counter, deque
from collections.abc import Callable, Iterable
from collections.abc import Set as AbstractSet
from dataclasses import dataclass, field
from typing import Literal, TypeVar

TagMode = Literal["off", "prefer", "require"]
TAG_MODES = ("off", "prefer", "require")
OBSTACLES = {"held": "已有分配", "own_unit": "同单位", "same_district": "同区",
             "declared": "声明回避", "no_tag": "专长不符", "full": "已满额", "assigned": "本次分配"}


@dataclass(frozen=True)
class Entry:
    """An entry to review: its unit, district, expertise tags and category."""

    id: int
    org: int
    district: int | None
    tags: frozenset[str] = frozenset()
    category: str | None = None

    @property
    def topics(self) -> frozenset[str]:
        """Return what experts' tags are matched against: the tags plus the category."""
        return self.tags | {self.category} if self.category else self.tags


@dataclass(frozen=True)
class Expert:
    """An expert in the pool: unit, district, expertise tags and an optional load cap."""

    id: int
    org: int
    district: int | None
    tags: frozenset[str] = frozenset()
    max_load: int | None = None


@dataclass(frozen=True)
class Rules:
    """How many experts each entry needs; which pairs are forbidden or already made."""

    per_entry: int
    exclude_same_district: bool = False
    match_tags: TagMode = "off"
    existing: frozenset[tuple[int, int]] = frozenset()  # (entry id, expert id)
    declared_conflicts: frozenset[tuple[int, int]] = frozenset()  # (entry id, expert id)

    def __post_init__(self) -> None:
        """Refuse a negative number of experts or an unknown tag mode."""
        if self.per_entry < 0:
            raise ValueError(f"per_entry must be 0 or more, not {self.per_entry}")
        if self.match_tags not in TAG_MODES:
            raise ValueError(f"match_tags must be one of {TAG_MODES}, not {self.match_tags!r}")


@dataclass(frozen=True)
class Plan:
    """New (entry id, expert id) pairs, total loads, shortfalls with their reasons, warnings."""

    pairs: tuple[tuple[int, int], ...]
    loads: dict[int, int]
    unfilled: dict[int, int]
    warnings: tuple[str, ...]
    reasons: dict[int, str] = field(default_factory=dict)


Item = TypeVar("Item", Entry, Expert)


def plan_assignments(entries: Iterable[Entry], experts: Iterable[Expert], rules: Rules) -> Plan:
    """Plan new assignments so each entry gets `rules.per_entry` experts (module docstring)."""
    planner = _Planner(_by_id(entries, "entry"), _by_id(experts, "expert"), rules)
    planner.greedy()
    planner.fill()
    planner.balance()
    if rules.match_tags == "prefer":
        planner.prefer_tags()
    return planner.plan()


def _by_id(items: Iterable[Item], kind: str) -> dict[int, Item]:
    """Index items by id, in id order, so the plan never depends on input order."""
    ordered = sorted(items, key=lambda item: item.id)
    index = {item.id: item for item in ordered}
    if len(index) != len(ordered):
        raise ValueError(f"duplicate {kind} ids")
    return index


def _static_obstacle(entry: Entry, expert: Expert, rules: Rules) -> str | None:
    """Return why the expert may never review the entry (own unit, district, tags), or None."""
    if expert.org == entry.org:
        return "own_unit"
    if (rules.exclude_same_district and entry.district is not None
            and entry.district == expert.district):
        return "same_district"
    if rules.match_tags == "require" and not expert.tags & entry.topics:
        return "no_tag"
    return None


class _Planner:
    """The working state of one run: loads, the new pairs, what each entry may still get."""

    def __init__(self, entries: dict[int, Entry], experts: dict[int, Expert], rules: Rules):
        """Count existing pairs into loads and needs; list each entry's eligible experts."""
        self.entries, self.experts, self.rules = entries, experts, rules
        self.load = dict.fromkeys(experts, 0)
        for _, expert_id in rules.existing:
            if expert_id in self.load:
                self.load[expert_id] += 1
        held = Counter(entry_id for entry_id, _ in rules.existing)
        self.target = {e: max(0, rules.per_entry - held[e]) for e in entries}
        self.on: dict[int, set[int]] = {e: set() for e in entries}  # new experts of each entry
        self.work: dict[int, set[int]] = {x: set() for x in experts}  # new entries of an expert
        self.full = {x for x in experts if not self._room(x)}
        self.eligible = self._eligible_lists()
        distinct = {id(experts): experts for experts in self.eligible.values()}.values()
        self.allowed = {x for experts in distinct for x in experts}  # eligible for some entry
        self.order = sorted(entries, key=lambda e: (len(self.eligible[e]), e))

    def _room(self, expert_id: int) -> bool:
        """Tell whether the expert's load is under their cap."""
        cap = self.experts[expert_id].max_load
        return cap is None or self.load[expert_id] < cap

    def _eligible_lists(self) -> dict[int, list[int]]:
        """List, in id order, the experts each entry may still get; entries share equal lists."""
        blocked: dict[int, set[int]] = {}
        for entry_id, expert_id in self.rules.existing | self.rules.declared_conflicts:
            blocked.setdefault(entry_id, set()).add(expert_id)
        shared: dict[tuple[object, ...], list[int]] = {}
        eligible = {}
        for entry_id, entry in self.entries.items():
            key = (entry.org, entry.district if self.rules.exclude_same_district else None,
                   entry.topics if self.rules.match_tags == "require" else None)
            if key not in shared:
                shared[key] = [x.id for x in self.experts.values()
                               if _static_obstacle(entry, x, self.rules) is None]
            skip = blocked.get(entry_id)
            eligible[entry_id] = [x for x in shared[key] if x not in skip] if skip else shared[key]
        return eligible

    def _short(self, entry_id: int) -> int:
        """Return how many experts the entry still lacks."""
        return self.target[entry_id] - len(self.on[entry_id])

    def _matches(self, entry_id: int, expert_id: int) -> bool:
        """Tell whether the expert shares a tag with the entry's tags or category."""
        return bool(self.experts[expert_id].tags & self.entries[entry_id].topics)

    def _add(self, entry_id: int, expert_id: int) -> None:
        """Record a new pair and its load."""
        self.on[entry_id].add(expert_id)
        self.work[expert_id].add(entry_id)
        self.load[expert_id] += 1
        if not self._room(expert_id):
            self.full.add(expert_id)

    def _drop(self, entry_id: int, expert_id: int) -> None:
        """Undo a new pair and its load."""
        self.on[entry_id].discard(expert_id)
        self.work[expert_id].discard(entry_id)
        self.load[expert_id] -= 1
        if self._room(expert_id):
            self.full.discard(expert_id)

    def greedy(self) -> None:
        """Give each entry, fewest eligible first, the free experts with the lowest load."""
        prefer = self.rules.match_tags == "prefer"
        for entry_id in self.order:
            topics = self.entries[entry_id].topics if prefer else frozenset()
            free = [x for x in self.eligible[entry_id] if x not in self.full]
            chosen = heapq.nsmallest(self.target[entry_id], free, key=lambda x: (
                self.load[x], not self.experts[x].tags & topics, x))
            for expert_id in chosen:
                self._add(entry_id, expert_id)

    def fill(self) -> None:
        """Complete entries left short by full experts through chains of moves."""
        dead_entries: set[int] = set()  # no chain from these reaches a free expert, ever again
        dead_experts: set[int] = set()
        for entry_id in self.order:
            while self._short(entry_id) > 0 and entry_id not in dead_entries:
                found, seen_entries, seen_experts = self._chain(
                    {entry_id: None}, set(), lambda x: x not in self.full,
                    dead_entries, dead_experts)
                if not found:
                    dead_entries |= seen_entries
                    dead_experts |= seen_experts

    def balance(self) -> None:
        """Move new pairs along chains from heavy to light experts while that narrows loads."""
        level = self._next_level(None)
        while level is not None:
            sources = [x for x, work in self.work.items() if work and self.load[x] >= level]
            starts: dict[int, int | None] = {}
            for source in sources:
                for entry_id in sorted(self.work[source]):
                    starts.setdefault(entry_id, source)
            found, _, _ = self._chain(starts, set(sources), lambda x, most=level - 2: (
                x not in self.full and self.load[x] <= most))
            if not found:  # experts at `level` or above cannot pass work on: look lower
                level = self._next_level(level)

    def _next_level(self, below: int | None) -> int | None:
        """Return the highest load under `below` of an expert with new work, if it may shrink."""
        levels = [self.load[x] for x, work in self.work.items()
                  if work and (below is None or self.load[x] < below)]
        free = [self.load[x] for x in self.allowed if x not in self.full]
        if not levels or not free or max(levels) - 2 < min(free):
            return None
        return max(levels)

    def _chain(self, starts: dict[int, int | None], seen_experts: set[int],
               is_goal: Callable[[int], bool], dead_entries: AbstractSet[int] = frozenset(),
               dead_experts: AbstractSet[int] = frozenset()) -> tuple[bool, set[int], set[int]]:
        """Search breadth-first for moves from the start entries to a goal expert; apply one."""
        leaves = {e: holder for e, holder in starts.items() if holder is not None}
        reached_by: dict[int, int] = {}  # expert -> the entry it would take
        seen_entries = set(starts)
        queue = deque(starts)
        while queue:
            entry_id = queue.popleft()
            for expert_id in self.eligible[entry_id]:
                if (expert_id in seen_experts or expert_id in self.on[entry_id]
                        or expert_id in dead_experts):
                    continue
                seen_experts.add(expert_id)
                reached_by[expert_id] = entry_id
                if is_goal(expert_id):
                    self._apply(expert_id, reached_by, leaves)
                    return True, seen_entries, seen_experts
                for other in sorted(self.work[expert_id] - seen_entries - dead_entries):
                    seen_entries.add(other)
                    leaves[other] = expert_id
                    queue.append(other)
        return False, seen_entries, seen_experts

    def _apply(self, expert_id: int, reached_by: dict[int, int], leaves: dict[int, int]) -> None:
        """Apply a chain backwards: each expert takes the entry that reached it from its holder."""
        while expert_id in reached_by:
            entry_id = reached_by[expert_id]
            self._add(entry_id, expert_id)
            if entry_id not in leaves:
                return
            expert_id = leaves[entry_id]
            self._drop(entry_id, expert_id)

    def prefer_tags(self) -> None:
        """Hand unmatched pairs to experts sharing a tag where the loads stay as balanced."""
        improved = True
        while improved:
            improved = False
            for entry_id in self.entries:
                for holder in sorted(self.on[entry_id]):
                    if not self._matches(entry_id, holder) and self._retag(entry_id, holder):
                        improved = True

    def _retag(self, entry_id: int, holder: int) -> bool:
        """Move the pair to a matching expert one load lighter, or swap it with one of theirs."""
        for expert_id in self.eligible[entry_id]:
            if expert_id in self.on[entry_id] or not self._matches(entry_id, expert_id):
                continue
            if expert_id not in self.full and self.load[expert_id] == self.load[holder] - 1:
                self._drop(entry_id, holder)
                self._add(entry_id, expert_id)
                return True
            for other in sorted(self.work[expert_id]):
                if (holder not in self.on[other] and holder in self.eligible[other]
                        and self._matches(other, holder) >= self._matches(other, expert_id)):
                    self._drop(entry_id, holder)
                    self._drop(other, expert_id)
                    self._add(entry_id, expert_id)
                    self._add(other, holder)
                    return True
        return False

    def plan(self) -> Plan:
        """Freeze the working state into a Plan with shortfalls, reasons and warnings."""
        pairs = tuple(sorted((e, x) for e, experts in self.on.items() for x in experts))
        unfilled = {e: self._short(e) for e in self.entries if self._short(e) > 0}
        reasons = {e: self._explain(e) for e in unfilled}
        warnings = [*self._existing_warnings(),
                    *(f"申报 {e} 缺 {n} 名专家：{reasons[e]}" for e, n in unfilled.items()),
                    *self._balance_warnings()]
        return Plan(pairs, dict(self.load), unfilled, tuple(warnings), reasons)

    def _obstacle(self, entry: Entry, expert: Expert) -> str | None:
        """Return what stands between the entry and the expert now, or None if they may pair."""
        pair = (entry.id, expert.id)
        if pair in self.rules.existing:
            return "held"
        reason = _static_obstacle(entry, expert, self.rules)
        if reason is None and pair in self.rules.declared_conflicts:
            reason = "declared"
        if reason is None and expert.id in self.on[entry.id]:
            reason = "assigned"
        if reason is None and expert.id in self.full:
            reason = "full"
        return reason

    def _explain(self, entry_id: int) -> str:
        """Count the pool by obstacle to say why the entry could not get all its experts."""
        entry = self.entries[entry_id]
        counts = Counter(self._obstacle(entry, x) for x in self.experts.values())
        parts = [f"{label} {counts[key]} 人" for key, label in OBSTACLES.items() if counts[key]]
        return f"专家库共 {len(self.experts)} 人" + (f"，其中{'，'.join(parts)}" if parts else "")

    def _existing_warnings(self) -> list[str]:
        """Warn about existing pairs that break a conflict rule and loads already over a cap."""
        warnings = []
        for entry_id, expert_id in sorted(self.rules.existing):
            if entry_id in self.entries and expert_id in self.experts:
                entry, expert = self.entries[entry_id], self.experts[expert_id]
                reason = _static_obstacle(entry, expert, self.rules)
                if reason is None and (entry_id, expert_id) in self.rules.declared_conflicts:
                    reason = "declared"
                if reason is not None:
                    warnings.append(f"已有分配（申报 {entry_id}，专家 {expert_id}）须回避："
                                    f"{OBSTACLES[reason]}")
        for expert_id, expert in self.experts.items():
            if expert.max_load is not None and self.load[expert_id] > expert.max_load:
                warnings.append(f"专家 {expert_id} 已有 {self.load[expert_id]} 项评审，"
                                f"超过上限 {expert.max_load}")
        return warnings

    def _balance_warnings(self) -> list[str]:
        """Warn when loads differ by more than 1, naming experts who may take no entry."""
        if not self.load or max(self.load.values()) - min(self.load.values()) <= 1:
            return []
        low, high = min(self.load.values()), max(self.load.values())
        warnings = [f"专家负荷为 {low}–{high} 项，相差超过 1：回避、专长、上限或已有分配"
                    f"使任何合规调整都不能把任务从负荷为 L 的专家移给负荷不超过 L−2 的专家"]
        idle = [str(x) for x in self.experts if x not in self.allowed]
        if idle:
            warnings.append(f"专家 {'、'.join(idle)} 没有可评的申报（回避、专长或已分配）")
        return warnings
