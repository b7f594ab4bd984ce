"""`make bench`: the issue-8 benchmark from seeding to bench/results.json.

Usage: .venv/bin/python bench/run.py [--folder /tmp/pingshen-bench] [--seconds 10]
       [--database-url postgresql+psycopg://...]   (a throwaway database: its schema is dropped)

Seeds 1,000 and 10,000 entries (bench/seed.py), then for each size: statements per page
(bench/queries.py) and page throughput against the floor (bench/pages.py, which also reads the
web workers' peak memory); at 10,000 entries the queue worker's peak memory on the largest
call's applications workbook (bench/worker_memory.py), and the bulk transition and ranking of a
10,000-entry call against their floors (bench/bulk.py). Writes every figure, one named number
each, to bench/results.json and prints the targets with what was measured. With
``--database-url`` the sizes are seeded one after the other into that database.
Takes about half an hour on the project's 2-core machine.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
SIZES = (1_000, 10_000)


def script(name: str, *args: str) -> dict[str, Any]:
    """Run bench/<name> with the same Python; its last line is JSON."""
    print(f"$ bench/{name} {' '.join(args)}", flush=True)
    done = subprocess.run([sys.executable, str(ROOT / "bench" / name), *args], cwd=ROOT,
                          capture_output=True, text=True)
    if done.returncode != 0:
        raise SystemExit(f"bench/{name} failed:\n{done.stdout[-3000:]}\n{done.stderr[-3000:]}")
    return json.loads(done.stdout.strip().splitlines()[-1])  # type: ignore[no-any-return]


def key(name: str) -> str:
    """A page's name as part of a figure's name."""
    return name.replace(",", "").replace(" ", "_")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--folder", type=Path, default=Path("/tmp/pingshen-bench"))
    parser.add_argument("--seconds", type=int, default=10)
    parser.add_argument("--database-url", default=None)
    parser.add_argument("--sizes", default=",".join(map(str, SIZES)),
                        help="entries of the small and the large dataset (a quick trial: 200,400)")
    args = parser.parse_args()
    sizes = tuple(int(n) for n in args.sizes.split(","))
    url = ["--database-url", args.database_url] if args.database_url else []
    figures: dict[str, float | int] = {}
    started = time.time()
    pages: dict[int, dict[str, Any]] = {}
    for size in sizes:
        folder = str(args.folder / f"{size}")
        seeded = script("seed.py", "--entries", str(size), "--folder", folder, *url)
        figures[f"seed.{size}.seconds"] = seeded["seconds"]
        statements = script("queries.py", "--folder", folder, *url)
        for page, count in statements["statements"].items():
            figures[f"statements.{size}.{key(page)}"] = count
        pages[size] = script("pages.py", "--folder", folder, "--seconds", str(args.seconds),
                             *url)
        floor = pages[size]["floor"]
        figures[f"pages.{size}.floor.rps"] = floor["rps"]
        figures[f"pages.{size}.floor.p50_ms"] = floor["p50_ms"]
        figures[f"pages.{size}.floor.p99_ms"] = floor["p99_ms"]
        for page in pages[size]["pages"]:
            for field in ("rps", "p50_ms", "p99_ms", "ratio", "p99_vs_floor", "kb"):
                figures[f"pages.{size}.{key(page['name'])}.{field}"] = page[field]
        figures[f"memory.{size}.web_worker_peak_mb"] = max(pages[size]["web_worker_peak_rss_mb"])
        if size == sizes[-1]:
            memory = script("worker_memory.py", "--folder", folder, *url)
            figures[f"memory.{size}.queue_worker_peak_mb"] = memory["worker_peak_rss_max_mb"]
            figures[f"memory.{size}.queue_job_seconds"] = memory["seconds"]
    small, large = ({p["name"]: p for p in pages[s]["pages"]} for s in sizes)
    for name, page in large.items():
        figures[f"growth.{key(name)}.p50"] = round(page["p50_ms"] / small[name]["p50_ms"], 2)
    bulk = script("bulk.py", "--entries", str(sizes[-1]), "--folder",
                  str(args.folder / "bulk"), *url)
    for field in ("rank_s", "rank_floor_s", "rank_ratio", "bulk_s", "bulk_floor_s",
                  "bulk_ratio", "bulk_dry_run_s"):
        figures[f"bulk.{sizes[-1]}.{field}"] = bulk[field]
    result = {"database": "postgresql" if args.database_url else "sqlite",
              "date": time.strftime("%Y-%m-%d"), "minutes": round((time.time() - started) / 60),
              "figures": figures}
    name = "results-postgresql.json" if args.database_url else "results.json"
    out = ROOT / "bench" / (name if sizes == SIZES else f"trial-{name}")
    out.write_text(json.dumps(result, indent=1, ensure_ascii=False) + "\n")
    report(figures, sizes)
    print(f"written to {out.relative_to(ROOT)}")


def report(figures: dict[str, float | int], sizes: tuple[int, ...]) -> None:
    """The targets of issue 8 with what was measured."""
    big = sizes[-1]
    print(f"\n{'page':32} {'x floor rps':>11} {'p99 x floor':>11} {'growth p50':>10} "
          f"{'statements 1k/10k':>18}")
    names = sorted({k.split(".")[2] for k in figures if k.startswith(f"pages.{big}.")} - {"floor"})
    for name in names:
        count = (figures.get(f"statements.{sizes[0]}.{name}"),
                 figures.get(f"statements.{big}.{name}"))
        print(f"{name:32} {figures[f'pages.{big}.{name}.ratio']:>11} "
              f"{figures[f'pages.{big}.{name}.p99_vs_floor']:>11} "
              f"{figures[f'growth.{name}.p50']:>10} {f'{count[0]}/{count[1]}':>18}")
    print(f"\nbulk transition {figures[f'bulk.{big}.bulk_s']} s, floor "
          f"{figures[f'bulk.{big}.bulk_floor_s']} s: x{figures[f'bulk.{big}.bulk_ratio']}"
          f" (target x3)")
    print(f"ranking {figures[f'bulk.{big}.rank_s']} s, floor "
          f"{figures[f'bulk.{big}.rank_floor_s']} s: x{figures[f'bulk.{big}.rank_ratio']}"
          f" (target x3)")
    print(f"web worker peak {figures[f'memory.{big}.web_worker_peak_mb']} MB (target < 250), "
          f"queue worker peak {figures[f'memory.{big}.queue_worker_peak_mb']} MB")


if __name__ == "__main__":
    main()
