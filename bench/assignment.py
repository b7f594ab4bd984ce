"""Time the automatic expert assignment planner on the issue's case and on a tenfold one.

Usage: .venv/bin/python bench/assignment.py [REPETITIONS]   (default 7)
Cases (fixed seed): 300 entries x 40 experts and 3,000 entries x 300 experts, 3 experts per entry,
6 districts of 8 (tenfold: 80) units each plus city-level units without a district, same-district
experts excluded. Prints one line per case, then a last line of JSON; copy them to bench/RESULTS.md.
"""

from __future__ import annotations

import json
import random
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from app.review.assignment import Entry, Expert, Plan, Rules, plan_assignments  # noqa: E402

SEED = 20260601
RULES = Rules(per_entry=3, exclude_same_district=True)


def build_case(n_entries: int, n_experts: int,
               seed: int = SEED) -> tuple[list[Entry], list[Expert]]:
    """Build entries from district units and experts from the same units and city-level ones."""
    rnd = random.Random(seed)
    per_district = max(8, n_entries // 38)
    units = [(d * 1000 + u, d) for d in range(1, 7) for u in range(per_district)]
    city_units = [(u, None) for u in range(1, 6)]  # colleges, the guidance centre: no district
    entries = [Entry(i, *rnd.choice(units)) for i in range(1, n_entries + 1)]
    experts = [Expert(100_000 + i, *rnd.choice(city_units if i % 8 == 0 else units))
               for i in range(n_experts)]
    return entries, experts


def time_case(n_entries: int, n_experts: int, repetitions: int) -> tuple[float, Plan]:
    """Plan the case once to warm up, then `repetitions` times; return the median ms and a plan."""
    entries, experts = build_case(n_entries, n_experts)
    plan = plan_assignments(entries, experts, RULES)
    times = []
    for _ in range(repetitions):
        start = time.perf_counter()
        plan_assignments(entries, experts, RULES)
        times.append((time.perf_counter() - start) * 1000)
    return statistics.median(times), plan


def main(repetitions: int = 7) -> None:
    """Time both cases and print a human line per case and a JSON line."""
    results: dict[str, float] = {}
    spreads = []
    for n_entries, n_experts in ((300, 40), (3000, 300)):
        ms, plan = time_case(n_entries, n_experts, repetitions)
        loads = plan.loads.values()
        spreads.append(max(loads) - min(loads))
        results[f"assign_{n_entries}x{n_experts}_ms"] = round(ms, 1)
        print(f"assignment: {n_entries} entries x {n_experts} experts x {RULES.per_entry} "
              f"= {len(plan.pairs)} pairs in {ms:.1f} ms (median of {repetitions}), "
              f"loads {min(loads)}-{max(loads)}, unfilled {sum(plan.unfilled.values())}, "
              f"warnings {len(plan.warnings)}")
    print(json.dumps({**results, "max_load_spread": max(spreads)}))


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else 7)
