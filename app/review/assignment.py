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
legal plans making the most pairs: it minimises the highest load, maximises the lowest and
minimises the sum of squares at once. When every expert may review every entry (no unit, district,
tag, cap or earlier pair in the way) the loads differ by at most 1. A wider spread forced by the
rules is reported in `Plan.warnings`; entries left short are in `Plan.unfilled` with `Plan.reasons`.

Existing pairs never move; they count towards their entry's N and their expert's load. An unknown
district (None) is nobody's district. Ties break by id, so input order never changes the plan.
"""

from __future__ import annotations

import heapq
from collections import Counter, deque
from collections.abc import Iterable
from collections.abc import Set as AbstractSet
from dataclasses import dataclass, field
from typing import Literal, TypeVar

from app.i18n import joined, zh, zh_mark

TagMode = Literal["off", "prefer", "require"]
TAG_MODES = ("off", "prefer", "require")
OBSTACLES = {"held": zh_mark("已有分配"), "own_unit": zh_mark("同单位"),
             "same_district": zh_mark("同区"), "declared": zh_mark("声明回避"),
             "no_tag": zh_mark("专长不符"), "full": zh_mark("已满额"),
             "assigned": zh_mark("本次分配")}


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
Key = TypeVar("Key", int, str)


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


def _group(pairs: Iterable[tuple[Key, int]]) -> dict[Key, set[int]]:
    """Collect the second items of pairs under their first items."""
    groups: dict[Key, set[int]] = {}
    for key, value in pairs:
        groups.setdefault(key, set()).add(value)
    return groups


def _rule_obstacle(entry: Entry, expert: Expert, rules: Rules) -> str | None:
    """Return which conflict rule keeps the expert from the entry (declared ones too), or None."""
    if (entry.id, expert.id) in rules.declared_conflicts:
        return _static_obstacle(entry, expert, rules) or "declared"
    return _static_obstacle(entry, expert, rules)


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
        distinct = {id(listed): listed for listed in self.eligible.values()}.values()
        self.allowed = {x for listed in distinct for x in listed}  # eligible for some entry
        self.order = sorted(entries, key=lambda e: (len(self.eligible[e]), e))
        self.topics = {e: entry.topics for e, entry in entries.items()}
        self.tags = {x: expert.tags for x, expert in experts.items()}
        self.by_tag = _group((tag, x.id) for x in experts.values() for tag in x.tags)
        self.may: dict[int, set[int]] = {}  # eligible experts as sets (filled for "prefer")
        self.loose: dict[int, set[int]] = {}  # an expert's new entries sharing no tag with them
        self.audience: dict[int, set[int]] = {}  # the entries sharing a tag with an expert

    def _room(self, expert_id: int) -> bool:
        """Tell whether the expert's load is under their cap."""
        cap = self.experts[expert_id].max_load
        return cap is None or self.load[expert_id] < cap

    def _eligible_lists(self) -> dict[int, list[int]]:
        """List, in id order, the experts each entry may still get; entries share equal lists."""
        blocked = _group(self.rules.existing | self.rules.declared_conflicts)
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
        return not self.tags[expert_id].isdisjoint(self.topics[entry_id])

    def _fans(self, entry_id: int) -> set[int]:
        """Return the experts (eligible or not) sharing a tag with the entry's tags or category."""
        return set().union(*(self.by_tag.get(topic, ()) for topic in self.topics[entry_id]))

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
            free = [x for x in self.eligible[entry_id] if x not in self.full]  # in id order
            if prefer:  # sorts are stable: a shared tag first, then the lower id
                free.sort(key=self._fans(entry_id).__contains__, reverse=True)
            for expert_id in heapq.nsmallest(self.target[entry_id], free,
                                             key=self.load.__getitem__):
                self._add(entry_id, expert_id)

    def fill(self) -> None:
        """Complete entries left short by full experts through chains of moves."""
        dead_entries: set[int] = set()  # no chain from these reaches a free expert, ever again
        dead_experts: set[int] = set()
        for entry_id in self.order:
            while self._short(entry_id) > 0 and entry_id not in dead_entries:
                found, seen_entries, seen_experts = self._chain(
                    {entry_id: None}, set(), None, dead_entries, dead_experts)
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
            found, _, _ = self._chain(starts, set(sources), level - 2)
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

    def _chain(self, starts: dict[int, int | None], seen_experts: set[int], most: int | None,
               dead_entries: AbstractSet[int] = frozenset(),
               dead_experts: AbstractSet[int] = frozenset()) -> tuple[bool, set[int], set[int]]:
        """Search moves breadth-first from the start entries to a free expert with load <= most."""
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
                if expert_id not in self.full and (most is None or self.load[expert_id] <= most):
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
        as_sets = {id(listed): set(listed) for listed in self.eligible.values()}
        self.may = {e: as_sets[id(listed)] for e, listed in self.eligible.items()}
        self.loose = {x: {e for e in work if not self._matches(e, x)}
                      for x, work in self.work.items()}
        by_topic = _group((topic, e) for e, topics in self.topics.items() for topic in topics)
        self.audience = {x: set().union(*(by_topic.get(tag, ()) for tag in tags))
                         for x, tags in self.tags.items()}
        improved = True
        while improved:  # every change adds a match, so this ends
            improved = False
            for holder, loose in self.loose.items():
                for entry_id in sorted(loose):
                    if entry_id in loose and self._retag(entry_id, holder):
                        improved = True

    def _retag(self, entry_id: int, holder: int) -> bool:
        """Move the pair to a matching expert one load lighter, or swap it with one of theirs."""
        for expert_id in sorted(self._fans(entry_id) & self.may[entry_id] - self.on[entry_id]):
            if expert_id not in self.full and self.load[expert_id] == self.load[holder] - 1:
                self._move(entry_id, holder, expert_id)  # the two loads trade places
                return True
            other = self._swappable(holder, expert_id)
            if other is not None:
                self._move(entry_id, holder, expert_id)
                self._move(other, expert_id, holder)
                return True
        return False

    def _swappable(self, holder: int, expert_id: int) -> int | None:
        """Find an entry of the expert's that `holder` may take without losing a tag match."""
        matched = self.audience[holder] & self.work[expert_id] - self.loose[expert_id]
        for other in sorted(self.loose[expert_id]) + sorted(matched):
            if holder not in self.on[other] and holder in self.may[other]:
                return other
        return None

    def _move(self, entry_id: int, old: int, new: int) -> None:
        """Hand a new pair from one expert to another, keeping the unmatched index current."""
        self._drop(entry_id, old)
        self.loose[old].discard(entry_id)
        self._add(entry_id, new)
        if not self._matches(entry_id, new):
            self.loose[new].add(entry_id)

    def plan(self) -> Plan:
        """Freeze the working state into a Plan with shortfalls, reasons and warnings."""
        pairs = tuple(sorted((e, x) for e, experts in self.on.items() for x in experts))
        unfilled = {e: self._short(e) for e in self.entries if self._short(e) > 0}
        reasons = {e: self._explain(e) for e in unfilled}
        warnings = [*self._existing_warnings(),
                    *(zh("申报 %(entry)s 缺 %(missing)s 名专家：%(reasons)s",
                         entry=e, missing=n, reasons=reasons[e]) for e, n in unfilled.items()),
                    *self._balance_warnings()]
        return Plan(pairs, dict(self.load), unfilled, tuple(warnings), reasons)

    def _obstacle(self, entry: Entry, expert: Expert) -> str | None:
        """Return what stands between the entry and the expert now, or None if they may pair."""
        if (entry.id, expert.id) in self.rules.existing:
            return "held"
        return (_rule_obstacle(entry, expert, self.rules)
                or ("assigned" if expert.id in self.on[entry.id] else None)
                or ("full" if expert.id in self.full else None))

    def _explain(self, entry_id: int) -> str:
        """Count the pool by obstacle to say why the entry could not get all its experts."""
        entry = self.entries[entry_id]
        counts = Counter(self._obstacle(entry, x) for x in self.experts.values())
        parts = [zh("%(obstacle)s %(count)s 人", obstacle=zh(label), count=counts[key])
                 for key, label in OBSTACLES.items() if counts[key]]
        if not parts:
            return zh("专家库共 %(experts)s 人", experts=len(self.experts))
        return zh("专家库共 %(experts)s 人，其中%(parts)s", experts=len(self.experts),
                  parts=joined(parts, "，"))

    def _existing_warnings(self) -> list[str]:
        """Warn about existing pairs that break a conflict rule and loads already over a cap."""
        warnings = []
        for entry_id, expert_id in sorted(self.rules.existing):
            if entry_id in self.entries and expert_id in self.experts:
                reason = _rule_obstacle(self.entries[entry_id], self.experts[expert_id],
                                        self.rules)
                if reason is not None:
                    warnings.append(zh("已有分配（申报 %(entry_id)s，专家 %(expert_id)s）须回避："
                                       "%(obstacle)s", entry_id=entry_id, expert_id=expert_id,
                                       obstacle=zh(OBSTACLES[reason])))
        for expert_id, expert in self.experts.items():
            if expert.max_load is not None and self.load[expert_id] > expert.max_load:
                warnings.append(zh("专家 %(expert_id)s 已有 %(load)s 项评审，超过上限 %(max_load)s",
                                   expert_id=expert_id, load=self.load[expert_id],
                                   max_load=expert.max_load))
        return warnings

    def _balance_warnings(self) -> list[str]:
        """Warn when loads differ by more than 1, naming experts who may take no entry."""
        if not self.load or max(self.load.values()) - min(self.load.values()) <= 1:
            return []
        low, high = min(self.load.values()), max(self.load.values())
        warnings = [zh("专家负荷为 %(low)s–%(high)s 项，相差超过 1：回避、专长、上限或已有分配使"
                       "任何合规调整都不能把任务从负荷为 L 的专家移给负荷不超过 L−2 的专家",
                       low=low, high=high)]
        idle = [str(x) for x in self.experts if x not in self.allowed]
        if idle:
            warnings.append(zh("专家 %(idle)s 没有可评的申报（回避、专长或已分配）",
                               idle=joined(idle)))
        return warnings
