"""The deadline watcher at scale: its due query, the cost of a pass, and due-to-nonconformity latency.

Run after ``eval "$(scripts/services up)"``:

    python3 bench/watcher_latency.py --cases 1000000            # loads 10,000 and 1,000,000 cases
    python3 bench/watcher_latency.py --url postgresql+psycopg://.../eiso_bench_x   # a kept data set

For a small data set (``--small``, 10,000 cases) and the large one (``--cases``), both made by
``bench/dataset.py``:

1. ``EXPLAIN (ANALYZE, BUFFERS)`` of the watcher's two due queries (steps and case clocks);
2. a catch-up pass as of now, then the same ``--due`` cases planted due just before that instant,
   and one timed pass that raises exactly them: the same work at both sizes;
3. on the large set only, ``eiso watch`` running for real (system clock, its own process): cases
   planted to fall due a few seconds later, and the time from each due instant until the bench,
   polling every 10 ms, sees the committed nonconformity.

A case is planted through ``CaseService`` like any other: a receipt back-dated so that its first
step falls due at the wanted instant (the benchmark calendar works round the clock).
A benchmark, not a test: no threshold.
"""

from __future__ import annotations

import argparse
import os
import signal
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import psycopg
from sqlalchemy import select

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench.dataset import CALENDAR_ENV, load, psycopg_url, settings  # noqa: E402
from bench.environment import drop_database, fresh_database, machine  # noqa: E402
from engine.bootstrap import App, build  # noqa: E402
from engine.service import DUE_CASES, DUE_STEPS, WATCH_BATCH  # noqa: E402
from engine.store.cases import NCS, STEPS  # noqa: E402

PROCEDURE, AGENCY = "1.001193", "000.31.12.H10"


@dataclass
class Scale:
    cases: int
    open_cases: int
    plans: dict[str, str]
    query_ms: dict[str, float]
    query_ms_before_vacuum: dict[str, float]
    catch_up: tuple[int, float]
    empty_pass_ms: float
    due_pass: tuple[int, float]


@dataclass
class Latency:
    seconds: list[float]
    background_passes: int


def now() -> datetime:
    return datetime.now(UTC)


# -- the due query -------------------------------------------------------------------------------
def explain(url: str, at: datetime) -> tuple[dict[str, str], dict[str, float]]:
    """The plans of the watcher's due queries, as PostgreSQL runs them, and their execution times."""
    app = build(settings(url), migrate=False)
    plans, times = {}, {}
    with psycopg.connect(psycopg_url(url)) as conn:
        for name, statement in (("steps", DUE_STEPS), ("cases", DUE_CASES)):
            sql = str(statement.compile(dialect=app.engine.dialect))
            rows = conn.execute("EXPLAIN (ANALYZE, BUFFERS) " + sql, {"at": at, "batch": WATCH_BATCH}).fetchall()
            plans[name] = "\n".join(str(r[0]) for r in rows)
            times[name] = float(next(str(r[0]) for r in rows if "Execution Time" in str(r[0])).split()[2])
    app.engine.dispose()
    return plans, times


def vacuum(url: str) -> None:
    with psycopg.connect(psycopg_url(url), autocommit=True) as conn:
        conn.execute("VACUUM (ANALYZE) case_step, cases")


# -- planting cases that fall due when wanted ------------------------------------------------
class Planter:
    """Receives cases through ``CaseService`` so that their first step falls due at a chosen instant."""

    def __init__(self, app: App):
        self.app = app
        probe = now() - timedelta(days=1)
        case_id = self.receive(probe)
        with app.engine.connect() as conn:
            due = conn.execute(select(STEPS.c.due_at).where(STEPS.c.case_id == case_id)).scalar_one()
        self.lead = due - probe

    def receive(self, at: datetime) -> str:
        key = uuid.uuid4().hex[:10]
        case_id = f"{AGENCY}-PLANT-{key}"
        outcome = self.app.service.ingest_object({
            "event_id": f"{case_id}:001", "type": "case.received", "case_id": case_id, "agency": AGENCY,
            "procedure": PROCEDURE, "occurred_at": at.isoformat(), "data": {},
        }, "bench")
        assert outcome.status == "applied", outcome
        return case_id

    def due_at(self, due: datetime) -> str:
        return self.receive(due - self.lead)


def catch_up(app: App) -> tuple[datetime, int, float]:
    """Passes as of one instant until one raises nothing (the backlog since the data set was made)."""
    at, raised, begun = now(), 0, time.perf_counter()
    while True:
        result = app.service.watch(at)
        raised += result.cases
        if not result.nonconformities:
            return at, raised, time.perf_counter() - begun


def pass_cost(url: str, due: int) -> Scale:
    app = build(settings(url), migrate=False)
    with app.engine.connect() as conn:
        cases = int(conn.exec_driver_sql("SELECT count(*) FROM cases").scalar_one())
        open_cases = int(conn.exec_driver_sql(
            "SELECT count(*) FROM cases WHERE resolved_at IS NULL AND closed_at IS NULL").scalar_one())
    planter = Planter(app)
    at, backlog, seconds = catch_up(app)
    _, fresh_ms = explain(url, at)  # right after the catch-up: the flagged rows' old versions still in the index
    vacuum(url)  # what autovacuum does between passes
    plans, query_ms = explain(url, at)
    begun = time.perf_counter()
    empty = app.service.watch(at)
    empty_ms = (time.perf_counter() - begun) * 1000
    if empty.cases:
        raise RuntimeError(f"{empty.cases} case(s) stay due after the catch-up: the watcher would tick them "
                           "on every pass")
    for n in range(due):
        planter.due_at(at - timedelta(seconds=1 + n))
    app.service.forget_cache()
    begun = time.perf_counter()
    result = app.service.watch(at)
    due_ms = (time.perf_counter() - begun) * 1000
    app.engine.dispose()
    return Scale(cases, open_cases, plans, query_ms, fresh_ms, (backlog, seconds), empty_ms, (result.cases, due_ms))


# -- latency with the real watcher loop ---------------------------------------------------------
def latency(url: str, planted: int, interval: float, lead: float, gap: float) -> Latency:
    """Run ``eiso watch`` and time due instant -> nonconformity committed for ``planted`` cases."""
    overrides = tempfile.NamedTemporaryFile("w", suffix=".toml", delete=False)  # noqa: SIM115
    overrides.close()
    env = {**os.environ, **CALENDAR_ENV, "EISO_CALENDAR_OVERRIDES": overrides.name, "EISO_DATABASE_URL": url,
           "EISO_OUTBOX": "false"}
    env.pop("EISO_KAFKA_BOOTSTRAP", None)
    watcher = subprocess.Popen([sys.executable, "-m", "engine.cli.app", "watch", "--interval", str(interval)],
                               cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    app = build(settings(url), migrate=False)
    try:
        planter = Planter(app)
        _wait_caught_up(app, watcher)
        first = now() + timedelta(seconds=lead)
        dues = {planter.due_at(first + timedelta(seconds=n * gap)): first + timedelta(seconds=n * gap)
                for n in range(planted)}
        seen: dict[str, float] = {}
        deadline = time.time() + lead + planted * gap + 30
        with psycopg.connect(psycopg_url(url), autocommit=True) as conn:
            while len(seen) < planted and time.time() < deadline:
                rows = conn.execute(f"SELECT DISTINCT case_id FROM {NCS.name} WHERE case_id = ANY(%s)",
                                    ([c for c in dues if c not in seen],)).fetchall()
                stamp = time.time()
                for (case_id,) in rows:
                    seen[case_id] = stamp
                time.sleep(0.01)
        if watcher.poll() is not None:
            raise RuntimeError(f"eiso watch stopped: {watcher.stderr.read() if watcher.stderr else ''}")
    finally:
        watcher.send_signal(signal.SIGINT)
        try:
            _, err = watcher.communicate(timeout=30)
        except subprocess.TimeoutExpired:
            watcher.kill()
            _, err = watcher.communicate()
        app.engine.dispose()
        os.unlink(overrides.name)
    missing = [c for c in dues if c not in seen]
    if missing:
        raise RuntimeError(f"no nonconformity within 30 s for {len(missing)} planted case(s)")
    passes = sum(1 for line in (err or "").splitlines() if line.startswith("watch as of"))
    return Latency([seen[c] - dues[c].timestamp() for c in dues], passes)


def _wait_caught_up(app: App, watcher: subprocess.Popen[str], limit: float = 1800) -> None:
    """Until the running watcher has raised the backlog left since the data set was made."""
    begun = time.time()
    while time.time() - begun < limit:
        if watcher.poll() is not None:
            raise RuntimeError(f"eiso watch stopped: {watcher.stderr.read() if watcher.stderr else ''}")
        with app.engine.connect() as conn:
            at = now() - timedelta(seconds=2)
            due = (conn.execute(DUE_STEPS, {"at": at, "batch": 1}).first()
                   or conn.execute(DUE_CASES, {"at": at, "batch": 1}).first())
        if due is None:
            return
        time.sleep(1)
    raise RuntimeError("the watcher did not catch up")


# -- the benchmark --------------------------------------------------------------------------------
@dataclass
class Results:
    small: Scale
    large: Scale
    latency: Latency


def measure(cases: int, small: int = 10_000, url: str | None = None, small_url: str | None = None,
            due: int = 20, planted: int = 10, interval: float = 5.0, base: str | None = None) -> Results:
    base = base or os.environ.get("EISO_DATABASE_URL", "")
    if (url is None or small_url is None) and not base.startswith("postgresql"):
        sys.exit('start the services first: eval "$(scripts/services up)"')
    made: list[str] = []
    try:
        if small_url is None:
            small_url = fresh_database(base)
            made.append(small_url)
            load(small_url, small)
        if url is None:
            url = fresh_database(base)
            made.append(url)
            load(url, cases)
        small_scale = pass_cost(small_url, due)
        large_scale = pass_cost(url, due)
        measured = latency(url, planted, interval, lead=2 * interval, gap=1.5)
    finally:
        for database in made:
            drop_database(database)
    return Results(small_scale, large_scale, measured)


def rows(results: Results) -> list[dict[str, Any]]:
    s, m, lat = results.small, results.large, results.latency
    indexed = all("Index" in plan and "Seq Scan" not in plan for x in (s, m) for plan in x.plans.values())
    worst = max(lat.seconds)
    return [
        {"target": "watcher due queries use an index", "measured":
         f"{s.cases:,}: {sum(s.query_ms.values()):.2f} ms; {m.cases:,}: {sum(m.query_ms.values()):.2f} ms",
         "goal": "index scans, same cost at both sizes", "met": indexed},
        {"target": f"watcher pass raising {m.due_pass[0]} due cases", "measured":
         f"{s.cases:,}: {s.due_pass[1]:.0f} ms; {m.cases:,}: {m.due_pass[1]:.0f} ms",
         "goal": "about equal", "met": s.due_pass[0] == m.due_pass[0] and m.due_pass[1] <= 1.5 * s.due_pass[1] + 20},
        {"target": f"due -> nonconformity committed, {m.open_cases:,} open cases", "measured":
         f"median {statistics.median(lat.seconds):.3f} s, max {worst:.3f} s ({len(lat.seconds)} cases)",
         "goal": "< 2 s", "met": worst < 2.0},
    ]


def summary(**kwargs: Any) -> list[dict[str, Any]]:
    return rows(measure(**kwargs))


def print_table(table: list[dict[str, Any]]) -> None:
    widths = {k: max(len(k), *(len(str(r[k])) for r in table)) for k in ("target", "measured", "goal", "met")}
    print("  ".join(k.ljust(widths[k]) for k in widths))
    for row in table:
        print("  ".join(str(row[k]).ljust(widths[k]) for k in widths))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--cases", type=int, default=1_000_000, help="the large data set")
    parser.add_argument("--small", type=int, default=10_000, help="the small data set")
    parser.add_argument("--url", help="a data set kept by bench/dataset.py --keep, instead of loading --cases")
    parser.add_argument("--small-url", help="the same for the small data set")
    parser.add_argument("--due", type=int, default=20, help="cases due in the timed pass")
    parser.add_argument("--planted", type=int, default=10, help="cases timed from due to nonconformity")
    parser.add_argument("--interval", type=float, default=5.0, help="eiso watch --interval")
    args = parser.parse_args()
    results = measure(args.cases, args.small, args.url, args.small_url, args.due, args.planted, args.interval)
    print(f"machine: {machine()}")
    for scale in (results.small, results.large):
        print(f"\n{scale.cases:,} cases ({scale.open_cases:,} open): catch-up raised {scale.catch_up[0]} "
              f"case(s) in {scale.catch_up[1]:.1f} s; due queries {sum(scale.query_ms_before_vacuum.values()):.2f} ms "
              f"right after it, {sum(scale.query_ms.values()):.2f} ms after VACUUM; an empty pass "
              f"{scale.empty_pass_ms:.1f} ms; a pass raising {scale.due_pass[0]} case(s) {scale.due_pass[1]:.0f} ms")
        for name, plan in scale.plans.items():
            print(f"-- due {name}:\n{plan}")
    lat = results.latency
    print(f"\neiso watch: {len(lat.seconds)} planted cases, due -> nonconformity seen (10 ms polling): "
          + ", ".join(f"{x:.3f}" for x in lat.seconds) + f" s; {lat.background_passes} passes that raised")
    print()
    print_table(rows(results))


if __name__ == "__main__":
    main()
