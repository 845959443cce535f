"""Every target of the province-scale issue in one table, from one run.

After ``eval "$(scripts/services up)"``:

    python3 -m bench                      # full sizes: 1,000,000 cases, 100,000 active, 2,000-case stream
    python3 -m bench --quick              # small sizes, to see it work (the figures then mean little)
    python3 -m bench --markdown           # the table as Markdown, for BENCHMARKS.md

Runs, in order: throughput (``bench/kafka_throughput.py``: the ceiling, the naive store and
the worker on one stream), the million-case data set (``bench/dataset.py``, by COPY), the
deadline watcher on it (``bench/watcher_latency.py``), the API on it with 20 clients
(``bench/api_latency.py``), the console's pages on it with 20 clients (``bench/console_pages.py``), and the
worker's memory with 100,000 active cases
(``bench/worker_memory.py``). A benchmark, not a test: it prints what it measured.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench import api_latency, console_pages, dataset, kafka_throughput, watcher_latency, worker_memory  # noqa: E402
from bench.environment import drop_database, machine  # noqa: E402

# The memory run keeps the default cache only (about 15 minutes); bench/worker_memory.py compares
# it with a cache that holds every case (that the bound comes from the cache).
FULL = {"stream": 2000, "cases": 1_000_000, "small": 10_000, "active": 100_000, "seconds": 20.0,
        "caches": (worker_memory.DEFAULT,)}
QUICK = {"stream": 200, "cases": 5_000, "small": 1_000, "active": 2_000, "seconds": 5.0,
         "caches": ("50",)}


def run(sizes: dict[str, Any], base: str, bootstrap: str, log: Any = print) -> list[dict[str, Any]]:
    rows: list[dict[str, Any]] = []
    log(f"throughput: {sizes['stream']:,}-case stream through Kafka ...")
    rows += kafka_throughput.summary(base, bootstrap, cases=sizes["stream"])
    log(f"data set: {sizes['cases']:,} and {sizes['small']:,} cases by COPY ...")
    large, problems = dataset.run(sizes["cases"], url=base, keep=True)
    small, small_problems = dataset.run(sizes["small"], url=base, keep=True)
    try:
        rows += dataset.summary(large)
        if problems or small_problems:
            rows.append({"target": "loaded clones behave as their templates", "measured":
                         f"{len(problems) + len(small_problems)} difference(s)", "goal": "none", "met": False})
        log("deadline watcher ...")
        rows += watcher_latency.summary(cases=sizes["cases"], small=sizes["small"], url=large.url,
                                        small_url=small.url, base=base)
        log("API with 20 clients, back to back and at 1 request/s each ...")
        rows += api_latency.summary(cases=sizes["cases"], url=large.url, seconds=sizes["seconds"], base=base)
        rows += api_latency.summary(cases=sizes["cases"], url=large.url, seconds=sizes["seconds"], base=base, rate=1)
        log("console pages with 20 clients, back to back and at a page every 5 s each ...")
        rows += console_pages.summary(cases=sizes["cases"], url=large.url, seconds=sizes["seconds"], base=base)
        rows += console_pages.summary(cases=sizes["cases"], url=large.url, seconds=sizes["seconds"], base=base,
                                      rate=0.2)
    finally:
        drop_database(large.url)
        drop_database(small.url)
    log(f"worker memory: {sizes['active']:,} active cases ...")
    rows += worker_memory.summary(cases=sizes["active"], cache_sizes=sizes["caches"], bootstrap=bootstrap,
                                  database_url=base)
    return rows


def render(rows: list[dict[str, Any]], markdown: bool) -> str:
    cells = [(r["target"], str(r["measured"]), str(r["goal"]), "yes" if r["met"] else "NO") for r in rows]
    head = ("target", "measured", "goal", "met")
    if markdown:
        lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
        lines += ["| " + " | ".join(c.replace("|", "\\|") for c in row) + " |" for row in cells]
        return "\n".join(lines)
    widths = [max(len(h), *(len(row[i]) for row in cells)) for i, h in enumerate(head)]
    lines = ["  ".join(h.ljust(w) for h, w in zip(head, widths, strict=True))]
    lines += ["  ".join(c.ljust(w) for c, w in zip(row, widths, strict=True)) for row in cells]
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(prog="python3 -m bench", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="small sizes (a smoke run)")
    parser.add_argument("--markdown", action="store_true", help="print the table as Markdown")
    args = parser.parse_args()
    base = os.environ.get("EISO_DATABASE_URL", "")
    bootstrap = os.environ.get("EISO_KAFKA_BOOTSTRAP", "")
    if not bootstrap or not base.startswith("postgresql"):
        sys.exit('start the services first: eval "$(scripts/services up)"')
    began = time.monotonic()
    rows = run(QUICK if args.quick else FULL, base, bootstrap, log=lambda text: print(text, file=sys.stderr))
    print(f"machine: {machine()}; PostgreSQL and Kafka from scripts/services on the same machine")
    print(f"sizes: {'quick' if args.quick else 'full'}; whole run {time.monotonic() - began:.0f} s")
    print(render(rows, args.markdown))


if __name__ == "__main__":
    main()
