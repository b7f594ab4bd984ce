"""Combine rounds, rank entries with a tie-break chain, and propose award levels.

Rules, stated once:
- Round weights are Decimals summing to exactly 1; the final score is Σ weight × round score
  (the rounds' published two-decimal scores), rounded half up. An entry missing from a round with a
  positive weight gets no final score: `incomplete_entries` reports it.
- Ranking: higher score first; equal scores go through the tie-break chain in order ("round:<name>"
  and "criterion:<key>" higher first, "submitted_at" earlier first, a missing value last); entries
  still equal share a position (1, 2, 2, 4). Vetoed entries come last with no position.
- Proportions: a level's count is round-half-up(proportion × N) (15% of 10 = 1.5 → 2), N being
  the non-vetoed entries (of the group when per_group); level i covers positions up to the sum of
  the counts of levels 1..i. Entries tied across a boundary share a position, so they all take the
  higher level, and the extra places come out of the next level (at the last level they are added).
- Thresholds are inclusive (优秀 ≥ 90). With both, an entry needs the position AND the score; it
  takes the first (highest) level it qualifies for.
- Caps count the entries of a group given any level, in ranking order; entries tied across a cap are
  all held back (reason "tied_at_cap") for the administrator to decide, and the group then closes.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from decimal import ROUND_HALF_UP, Decimal

from app.review.aggregate import require_decimal, round_half_up

TieValue = Decimal | datetime


def _check_weights(results_by_round: Mapping[str, Mapping[int, Decimal]],
                   weights: Mapping[str, Decimal]) -> None:
    """Refuse weights that are not Decimals summing to 1 over exactly the rounds given."""
    for name, weight in weights.items():
        require_decimal(weight, f"weight of round {name}")
        if weight < 0:
            raise ValueError(f"weight of round {name} is negative: {weight}")
    total = sum(weights.values(), Decimal(0))
    if total != 1:
        shown = ", ".join(f"{name}={weight}" for name, weight in weights.items())
        raise ValueError(f"round weights must sum to 1, got {total} ({shown})")
    if set(weights) != set(results_by_round):
        raise ValueError(f"weights are for rounds {sorted(weights)}, "
                         f"results for rounds {sorted(results_by_round)}")


def incomplete_entries(results_by_round: Mapping[str, Mapping[int, Decimal]],
                       weights: Mapping[str, Decimal]) -> dict[int, tuple[str, ...]]:
    """Entries left without a final score, with the weighted rounds each one is missing from."""
    _check_weights(results_by_round, weights)
    entries = {entry for scores in results_by_round.values() for entry in scores}
    missing = {entry: tuple(sorted(name for name, weight in weights.items()
                                   if weight > 0 and entry not in results_by_round[name]))
               for entry in entries}
    return {entry: rounds for entry, rounds in sorted(missing.items()) if rounds}


def combine_rounds(results_by_round: Mapping[str, Mapping[int, Decimal]],
                   weights: Mapping[str, Decimal]) -> dict[int, Decimal]:
    """Weight the rounds' scores into final scores (e.g. 初赛 30% + 决赛 70%), by entry."""
    excluded = incomplete_entries(results_by_round, weights)
    entries = {entry for scores in results_by_round.values() for entry in scores} - set(excluded)
    final = {}
    for entry in sorted(entries):
        total = Decimal(0)
        for name, weight in sorted(weights.items()):
            if weight > 0:
                score = results_by_round[name][entry]
                total += weight * require_decimal(score, f"score of entry {entry} in {name}")
        final[entry] = round_half_up(total)
    return final


@dataclass(frozen=True)
class RankInput:
    """An entry to rank: its score, veto, tie-break values and group (district or category)."""

    entry: int
    score: Decimal
    vetoed: bool = False
    tiebreak: dict[str, TieValue] = field(default_factory=dict)
    group: str | None = None


@dataclass(frozen=True)
class Ranked:
    """An entry's place: position None when vetoed; `tied_with` the entries sharing it."""

    entry: int
    position: int | None
    score: Decimal
    tied_with: tuple[int, ...] = ()
    decided_by: str | None = None  # deepest tie-break key needed to separate it from equal scores
    vetoed: bool = False
    group: str | None = None


def _check_chain(tie_break: Sequence[str]) -> None:
    """Refuse unknown or repeated tie-break keys (a typo would silently change a ranking)."""
    for key in tie_break:
        if key != "submitted_at" and not key.startswith(("round:", "criterion:")):
            raise ValueError(f"unknown tie-break key {key!r}: use 'round:<name>', "
                             "'criterion:<key>' or 'submitted_at'")
    if len(set(tie_break)) != len(tie_break):
        raise ValueError(f"tie-break keys repeat: {list(tie_break)}")


def _merit(item: RankInput, tie_break: Sequence[str]) -> tuple[object, ...]:
    """Sort key: smaller is better (score and values negated, missing values last)."""
    parts: list[object] = [-require_decimal(item.score, f"score of entry {item.entry}")]
    for key in tie_break:
        value = item.tiebreak.get(key)
        if value is None:
            parts.append((1,))
        elif key == "submitted_at":
            if not isinstance(value, datetime):
                raise TypeError(f"submitted_at of entry {item.entry} must be a datetime")
            parts.append((0, value))
        else:
            parts.append((0, -require_decimal(value, f"{key} of entry {item.entry}")))
    return tuple(parts)


def _decided_by(merit: tuple[object, ...], peers: list[tuple[object, ...]],
                tie_break: Sequence[str]) -> str | None:
    """The deepest chain key needed to separate an entry from the others with its score."""
    depth = -1
    for other in peers:
        first = next((i for i in range(len(tie_break)) if merit[i + 1] != other[i + 1]), None)
        if first is not None:
            depth = max(depth, first)
    return tie_break[depth] if depth >= 0 else None


def rank(entries: Sequence[RankInput], tie_break: Sequence[str] = ()) -> list[Ranked]:
    """Rank entries best first with the tie-break chain; vetoed entries last, unranked."""
    _check_chain(tie_break)
    if len({item.entry for item in entries}) != len(entries):
        raise ValueError("an entry appears twice in the ranking input")
    live = [item for item in entries if not item.vetoed]
    merits = {item.entry: _merit(item, tie_break) for item in live}
    live.sort(key=lambda item: (merits[item.entry], item.entry))
    position: dict[tuple[object, ...], int] = {}
    sharing: dict[tuple[object, ...], list[int]] = defaultdict(list)
    by_score: dict[Decimal, list[tuple[object, ...]]] = defaultdict(list)
    for index, item in enumerate(live):
        merit = merits[item.entry]
        position.setdefault(merit, index + 1)
        sharing[merit].append(item.entry)
        by_score[item.score].append(merit)
    ranked = [Ranked(item.entry, position[merits[item.entry]], item.score,
                     tuple(e for e in sharing[merits[item.entry]] if e != item.entry),
                     _decided_by(merits[item.entry], by_score[item.score], tie_break),
                     False, item.group)
              for item in live]
    vetoed = sorted((item for item in entries if item.vetoed), key=lambda i: (-i.score, i.entry))
    ranked += [Ranked(item.entry, None, item.score, vetoed=True, group=item.group)
               for item in vetoed]
    return ranked


@dataclass(frozen=True)
class Level:
    """An award level (一等奖, 优秀): a share of the entries, a minimum score, or both."""

    name: str
    proportion: Decimal | None = None
    threshold: Decimal | None = None

    def __post_init__(self) -> None:
        """Refuse a level without a rule, or with a share outside (0, 1]."""
        if self.proportion is None and self.threshold is None:
            raise ValueError(f"level {self.name} needs a proportion, a threshold or both")
        if self.proportion is not None:
            require_decimal(self.proportion, f"proportion of {self.name}")
            if not 0 < self.proportion <= 1:
                raise ValueError(f"proportion of {self.name} must be in (0, 1]")
        if self.threshold is not None:
            require_decimal(self.threshold, f"threshold of {self.name}")


@dataclass(frozen=True)
class AwardProposal:
    """A proposed award (level None: none) and the reason code behind it, for confirmation."""

    entry: int
    level: str | None
    reason: str  # proportion | threshold | proportion_and_threshold | boundary_tie |
    #              below_threshold | outside_proportion | vetoed | cap_reached | tied_at_cap
    group: str | None = None
    held_back: str | None = None  # the level a cap withheld


_AWARDED = {(True, False): "proportion", (False, True): "threshold",
            (True, True): "proportion_and_threshold"}


def level_counts(levels: Sequence[Level], n: int) -> list[int | None]:
    """Places per level among n entries: round-half-up(proportion × n); None without a share."""
    return [None if level.proportion is None
            else int((level.proportion * n).quantize(Decimal(1), rounding=ROUND_HALF_UP))
            for level in levels]


def _check_levels(levels: Sequence[Level], caps: Mapping[str, int]) -> None:
    """Refuse repeated names, shares over 100%, thresholds out of order, negative caps."""
    if len({level.name for level in levels}) != len(levels):
        raise ValueError("award level names repeat")
    if sum((level.proportion or Decimal(0) for level in levels), Decimal(0)) > 1:
        raise ValueError("award level proportions add up to more than 100%")
    thresholds = [level.threshold for level in levels if level.threshold is not None]
    if thresholds != sorted(thresholds, reverse=True):
        raise ValueError("award levels must be listed highest first (thresholds descending)")
    if any(cap < 0 for cap in caps.values()):
        raise ValueError("caps cannot be negative")


def _level_for(item: Ranked, position: int, ordinal: int, levels: Sequence[Level],
               cutoffs: Sequence[int | None]) -> tuple[str | None, str]:
    """The first level an entry qualifies for (by position and score), with the reason."""
    reason = "outside_proportion"
    for level, cutoff in zip(levels, cutoffs, strict=True):
        within = cutoff is None or position <= cutoff
        if within and (level.threshold is None or item.score >= level.threshold):
            if cutoff is not None and ordinal > cutoff:
                return level.name, "boundary_tie"
            return level.name, _AWARDED[(cutoff is not None, level.threshold is not None)]
        if within:
            reason = "below_threshold"
    return None, reason


def _assign(entries: Sequence[Ranked],
            levels: Sequence[Level]) -> dict[int, tuple[str | None, str]]:
    """Levels for one pool of ranked, non-vetoed entries (positions counted within the pool)."""
    cutoffs: list[int | None] = []
    running = 0
    for count in level_counts(levels, len(entries)):
        running += count or 0
        cutoffs.append(None if count is None else running)
    first_at: dict[int | None, int] = {}
    result = {}
    for ordinal, item in enumerate(entries, start=1):
        position = first_at.setdefault(item.position, ordinal)
        result[item.entry] = _level_for(item, position, ordinal, levels, cutoffs)
    return result


def _apply_cap(entries: Sequence[Ranked], cap: int,
               proposals: dict[int, tuple[str | None, str]]) -> dict[int, str]:
    """Hold back a group's awards beyond its cap; returns the withheld level by entry."""
    awarded = [item for item in entries if proposals[item.entry][0] is not None]
    blocks: dict[int | None, list[Ranked]] = defaultdict(list)
    for item in awarded:
        blocks[item.position].append(item)
    taken, closed, held = 0, False, {}
    for block in blocks.values():
        if closed or taken + len(block) > cap:
            reason = "cap_reached" if closed or taken >= cap else "tied_at_cap"
            closed = True
            for item in block:
                held[item.entry] = proposals[item.entry][0] or ""
                proposals[item.entry] = (None, reason)
        else:
            taken += len(block)
    return held


def award_levels(ranked: Sequence[Ranked], levels: Sequence[Level], per_group: bool = False,
                 caps: Mapping[str, int] | None = None) -> list[AwardProposal]:
    """Propose a level for each ranked entry, in ranking order (rules in the module docstring)."""
    caps = caps or {}
    _check_levels(levels, caps)
    live = [item for item in ranked if not item.vetoed]
    pools: dict[str | None, list[Ranked]] = defaultdict(list)
    for item in live:
        pools[item.group if per_group else None].append(item)
    proposals: dict[int, tuple[str | None, str]] = {}
    for pool in pools.values():
        proposals.update(_assign(pool, levels))
    held: dict[int, str] = {}
    for group, cap in caps.items():
        held.update(_apply_cap([item for item in live if item.group == group], cap, proposals))
    return [AwardProposal(item.entry, None, "vetoed", item.group) if item.vetoed
            else AwardProposal(item.entry, *proposals[item.entry], item.group,
                               held.get(item.entry))
            for item in ranked]
