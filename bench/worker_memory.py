"""Resident memory of one worker at 100,000 active cases: bounded by the case cache, not by the cases seen.

Run after ``eval "$(scripts/services up)"``:

    python3 bench/worker_memory.py                      # 100,000 cases; cache default (20000) and 100000
    python3 bench/worker_memory.py --cache-sizes 1000,default,100000
    python3 bench/worker_memory.py --cases 20000 --cache-sizes 500,default

It writes a stream of contract events to a fresh topic (keyed by case, 4 partitions): every case
is received, then its first step is started and later completed, interleaved so that a case is
touched again only after ``3 x --gap`` events of other cases (30,000 by default: more than the
default cache holds, so the cache must evict and reload). No case closes: after the stream every
case is active. Then, once per cache size, it runs the real worker (``CaseEventWorker`` wired as
``eiso worker`` wires it, with its Prometheus metrics) in a subprocess of its own against a fresh
PostgreSQL database and a fresh consumer group, and samples the subprocess's VmRSS and VmHWM
(peak) from ``/proc`` every second next to the number of cases in the database. It prints the
RSS after 10%, 50% and 100% of the cases were received, at the end of the stream, the peak, and
the cache reloads; then whether the memory is bounded.

"Bounded" is defined as: with a cache smaller than half the cases, RSS grows by at most 10% while
the active cases double (from 50% to 100% of ``--cases``), and by at most 10% more in the tail of
the stream where only existing cases are touched. When a run whose cache holds every case is in
the table, it also shows the per-case cost of a cached case, and the bounded runs must grow by
less than a tenth of it per case. A benchmark, not a test: no threshold on time or memory in CI.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench.environment import fresh_database, machine  # noqa: E402

MIB = 1024 * 1024
DEFAULT = "default"
# Case data that lets each bundled procedure's gateways decide (see engine/simulation.py).
CASE_DATA: dict[str, dict[str, Any]] = {
    "1.001029": {"eligible": True, "min_room_area_m2": 30},
    "1.009972": {"needs_site_inspection": False, "total_floor_area_m2": 200},
}
FIRST_STEP = "receive_dossier"  # the first task of every bundled procedure
DEPLOYED_AT = "2026-09-01T00:00:00+07:00"
MARKS = (0.1, 0.5, 1.0)
MARGIN = 0.10


# -- the stream ---------------------------------------------------------------------------------
def stream(cases: int, gap: int) -> Iterator[dict[str, Any]]:
    """Receipt of case k, start of case k - gap, completion of case k - 2*gap, for k = 0, 1, ...

    Between two events of one case come about ``3 * gap`` events of other cases.
    """
    from engine.simulation import AGENCIES

    codes = sorted(AGENCIES)
    monday = datetime.fromisoformat("2026-10-05T07:45:00+07:00")

    def fields(i: int) -> tuple[str, str, str, datetime]:
        code = codes[i % len(codes)]
        agency = AGENCIES[code][i % len(AGENCIES[code])]
        week, weekday = divmod(i // 5000 % 20, 5)  # 5,000 receipts a working day over four weeks
        received = monday + timedelta(days=7 * week + weekday, minutes=i % 180)
        return f"{agency}-bench-{i:07d}", agency, code, received

    def event(i: int, kind: str, number: int, offset: timedelta, **extra: Any) -> dict[str, Any]:
        case_id, agency, code, received = fields(i)
        return {"event_id": f"{case_id}:{number}", "type": kind, "case_id": case_id, "agency": agency,
                "procedure": code, "occurred_at": (received + offset).isoformat(), **extra}

    for k in range(cases + 2 * gap):
        if k < cases:
            yield event(k, "case.received", 1, timedelta(0), data=CASE_DATA.get(fields(k)[2], {}))
        if 0 <= k - gap < cases:
            yield event(k - gap, "step.started", 2, timedelta(minutes=20), step=FIRST_STEP,
                        actor={"unit": "Bộ phận một cửa", "officer": "Nguyễn Văn An"})
        if 0 <= k - 2 * gap < cases:
            yield event(k - 2 * gap, "step.completed", 3, timedelta(minutes=50), step=FIRST_STEP,
                        actor={"unit": "Bộ phận một cửa", "officer": "Nguyễn Văn An"})


def produce(bootstrap: str, topic: str, cases: int, gap: int) -> int:
    from kafka import KafkaProducer

    producer = KafkaProducer(bootstrap_servers=bootstrap, linger_ms=50, acks="all", batch_size=256 * 1024)
    count = 0
    for item in stream(cases, gap):
        producer.send(topic, key=item["case_id"].encode(), value=json.dumps(item, ensure_ascii=False).encode())
        count += 1
    producer.flush(120)
    producer.close()
    return count


# -- one worker run -------------------------------------------------------------------------------
@dataclass
class Sample:
    seconds: float
    rss: int  # bytes
    hwm: int
    cases: int
    events: int


@dataclass
class Run:
    cache: str
    cases: int
    expected_events: int
    samples: list[Sample] = field(default_factory=list)
    probes: list[dict[str, Any]] = field(default_factory=list)
    final: dict[str, Any] = field(default_factory=dict)
    applied_events: int = 0
    parked: int = 0
    refused: int = 0
    seconds: float = 0.0
    returncode: int | None = None

    def rss_at(self, share: float) -> int | None:
        """RSS at the first sample where ``share`` of the cases were received (in the database)."""
        wanted = max(1, int(self.cases * share))
        for sample in self.samples:
            if sample.cases >= wanted:
                return sample.rss
        return None

    @property
    def peak(self) -> int:
        return max((s.hwm for s in self.samples), default=0)

    @property
    def rss_end(self) -> int:
        return self.samples[-1].rss if self.samples else 0

    @property
    def tail_max(self) -> int:
        """Highest RSS once every case was received (the stream's tail touches existing cases only)."""
        return max((s.rss for s in self.samples if s.cases >= self.cases), default=0)

    @property
    def reloads(self) -> int:
        return int(self.final.get("reloads", 0))

    @property
    def all_applied(self) -> bool:
        return (self.returncode == 0 and self.applied_events == self.expected_events and not self.parked
                and not self.refused and self.final.get("outcomes", {}).get("applied") == self.expected_events)

    def slope(self) -> float | None:
        """Bytes of RSS per active case from 50% to 100% of the cases."""
        low, high = self.rss_at(0.5), self.rss_at(1.0)
        if low is None or high is None:
            return None
        return (high - low) / (self.cases - max(1, int(self.cases * 0.5)))


def _status(pid: int) -> tuple[int, int] | None:
    try:
        text = Path(f"/proc/{pid}/status").read_text()
    except OSError:
        return None
    values = {}
    for row in text.splitlines():
        if row.startswith(("VmRSS:", "VmHWM:")):
            name, amount, _unit = row.split()
            values[name[:-1]] = int(amount) * 1024
    if "VmRSS" not in values:
        return None
    return values["VmRSS"], values.get("VmHWM", values["VmRSS"])


def _worker_env(*, url: str, bootstrap: str, topic: str, prefix: str, cache: str, batch: int | None) -> dict[str, str]:
    env = {**os.environ, "EISO_DATABASE_URL": url, "EISO_KAFKA_BOOTSTRAP": bootstrap, "EISO_KAFKA_TOPIC": topic,
           "EISO_KAFKA_GROUP": f"{prefix}.engine.{uuid.uuid4().hex[:6]}", "EISO_KAFKA_DLQ_TOPIC": f"{prefix}.dlq",
           "EISO_KAFKA_OUTBOUND_TOPIC": f"{prefix}.outbound", "EISO_KAFKA_POLL_TIMEOUT_MS": "200",
           "PYTHONPATH": str(ROOT)}
    env.pop("EISO_KAFKA_PORTAL_TOPIC", None)
    if batch is not None:
        env["EISO_KAFKA_BATCH_SIZE"] = str(batch)
    if cache == DEFAULT:
        env.pop("EISO_CASE_CACHE_SIZE", None)
    else:
        env["EISO_CASE_CACHE_SIZE"] = cache
    return env


def _deploy(url: str) -> None:
    from engine.bootstrap import build
    from engine.settings import DatabaseSettings, EngineSettings, Settings

    app = build(Settings(database=DatabaseSettings(url=url), engine=EngineSettings(outbox=True)))
    for path in sorted((ROOT / "bpmn").glob("*.bpmn")):
        app.catalog.deploy(path.read_bytes(), path.name, datetime.fromisoformat(DEPLOYED_AT))
    app.engine.dispose()


def _sample_until_exit(child: subprocess.Popen[str], url: str, run: Run, timeout: float, progress: bool) -> None:
    """Every second: the child's VmRSS and VmHWM, and the cases and journal rows its commits made."""
    from sqlalchemy import create_engine, text

    watch = create_engine(url, pool_size=1, max_overflow=0)
    begun = told = time.monotonic()
    try:
        with watch.connect() as conn:
            while child.poll() is None:
                status = _status(child.pid)
                received = conn.execute(text("SELECT count(*) FROM cases")).scalar_one()
                events = conn.execute(text("SELECT coalesce(max(seq), 0) FROM journal")).scalar_one()
                conn.rollback()
                if status is not None:
                    run.samples.append(Sample(time.monotonic() - begun, status[0], status[1], received, events))
                if progress and time.monotonic() - told >= 30 and run.samples:
                    told = time.monotonic()
                    s = run.samples[-1]
                    print(f"  [cache {run.cache}] {s.seconds:5.0f} s: {s.cases:,} cases, {s.events:,} events, "
                          f"RSS {s.rss / MIB:,.0f} MiB", file=sys.stderr, flush=True)
                if time.monotonic() - begun > timeout:
                    raise TimeoutError(f"worker with cache {run.cache} did not finish in {timeout:.0f} s")
                time.sleep(1.0)
    finally:
        if child.poll() is None:
            child.kill()
        run.returncode = child.wait()
        run.seconds = time.monotonic() - begun
        watch.dispose()


def run_worker(*, bootstrap: str, base_url: str, topic: str, prefix: str, cache: str, cases: int, expected: int,
               batch: int | None, idle: float, timeout: float, progress: bool) -> Run:
    """One worker subprocess over the whole topic with its own database and consumer group."""
    from sqlalchemy import create_engine, text

    url = fresh_database(base_url)
    run = Run(cache=cache, cases=cases, expected_events=expected)
    try:
        _deploy(url)
        env = _worker_env(url=url, bootstrap=bootstrap, topic=topic, prefix=prefix, cache=cache, batch=batch)
        with tempfile.TemporaryFile("w+") as out, tempfile.TemporaryFile("w+") as err:
            child = subprocess.Popen([sys.executable, str(Path(__file__).resolve()), "--child", "--idle", str(idle)],
                                     cwd=ROOT, env=env, stdout=out, stderr=err, text=True)
            _sample_until_exit(child, url, run, timeout, progress)
            out.seek(0)
            for row in out.read().splitlines():
                if row.startswith("probe "):
                    run.probes.append(json.loads(row[6:]))
                elif row.startswith("final "):
                    run.final = json.loads(row[6:])
            if run.returncode != 0:
                err.seek(0)
                raise RuntimeError(f"worker exited with {run.returncode}:\n{err.read()[-3000:]}")
        counts = create_engine(url)
        with counts.connect() as conn:
            run.applied_events = conn.execute(text("SELECT count(*) FROM journal")).scalar_one()
            run.parked = conn.execute(text("SELECT count(*) FROM parked_event")).scalar_one()
            run.refused = conn.execute(text("SELECT count(*) FROM refused_event")).scalar_one()
        counts.dispose()
    finally:
        admin = create_engine(base_url, isolation_level="AUTOCOMMIT")
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{url.rsplit("/", 1)[1]}" WITH (FORCE)'))
        admin.dispose()
    return run


def child_main(idle: float) -> None:
    """The worker, wired as ``eiso worker`` wires it (engine/cli/worker.py), with a probe on each batch."""
    import gc
    import logging

    import engine.store.cases
    import engine.store.writes
    from connectors.settings import KafkaSettings
    from connectors.worker import CaseEventWorker, WorkerStats
    from engine.bootstrap import build
    from engine.settings import EngineSettings, Settings
    from monitoring import WorkerMetrics, install
    from monitoring.http import serve

    logging.basicConfig(level="WARNING", format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    kafka = KafkaSettings()
    app = build(Settings(engine=EngineSettings(outbox=True)))
    metrics = install(app)
    server, _ = serve(metrics.registry, 0)  # the /metrics endpoint a production worker serves
    runner = CaseEventWorker(app, kafka, metrics=WorkerMetrics(metrics.registry))

    reloads = 0
    load_one = engine.store.cases.load_case

    def counting_load(*args: Any, **kwargs: Any) -> Any:  # a cache miss on a received case: read from the store
        nonlocal reloads
        live = load_one(*args, **kwargs)
        if live is not None:
            reloads += 1
        return live

    engine.store.cases.load_case = counting_load
    load_many = getattr(engine.store.writes, "load_cases", None)  # a batch's misses read together, when present
    if load_many is not None:
        def counting_load_many(*args: Any, **kwargs: Any) -> Any:
            nonlocal reloads
            found = load_many(*args, **kwargs)
            reloads += len(found)
            return found

        setattr(engine.store.writes, "load_cases", counting_load_many)  # noqa: B010
    last = 0.0

    def probe(stats: WorkerStats) -> None:
        nonlocal last
        if time.monotonic() - last < 5:
            return
        last = time.monotonic()
        print("probe " + json.dumps({
            "messages": stats.messages, "cache": len(app.service._cache), "reloads": reloads,
            "blocks": sys.getallocatedblocks(), "gc": gc.get_count(),
        }), flush=True)

    # The topic's partitions in the consumer's metadata before it joins: on a busy broker the group leader
    # otherwise may assign nothing ("No partition metadata") and wait for the next metadata refresh.
    deadline = time.monotonic() + 60
    while not runner.consumer.partitions_for_topic(kafka.topic) and time.monotonic() < deadline:
        time.sleep(0.5)
    stats = runner.run(exit_when_idle=idle, on_batch=probe)
    server.shutdown()
    server.server_close()
    print("final " + json.dumps({
        "messages": stats.messages, "outcomes": stats.outcomes, "dead_letters": stats.dead_letters,
        "cache": len(app.service._cache), "cache_size": app.service.cache_size, "reloads": reloads,
        "blocks": sys.getallocatedblocks(),
    }), flush=True)


# -- the benchmark ------------------------------------------------------------------------------------
def measure(*, cases: int = 100_000, cache_sizes: tuple[str, ...] = (DEFAULT, "100000"),
            gap: int | None = None, batch: int | None = None, idle: float = 5.0, timeout: float = 7200.0,
            bootstrap: str | None = None, database_url: str | None = None, progress: bool = False
            ) -> tuple[list[Run], dict[str, Any]]:
    from kafka import KafkaAdminClient
    from kafka.admin import NewTopic

    bootstrap = bootstrap or os.environ.get("EISO_KAFKA_BOOTSTRAP")
    base = database_url or os.environ.get("EISO_DATABASE_URL", "")
    if not bootstrap or not base.startswith("postgresql"):
        raise RuntimeError('start the services first: eval "$(scripts/services up)" (EISO_KAFKA_BOOTSTRAP, '
                           'EISO_DATABASE_URL on PostgreSQL)')
    gap = gap if gap is not None else max(1, min(10_000, cases // 10))
    prefix = f"benchmem{uuid.uuid4().hex[:6]}"
    topics = [f"{prefix}.case-events", f"{prefix}.dlq", f"{prefix}.outbound"]
    admin = KafkaAdminClient(bootstrap_servers=bootstrap)
    admin.create_topics([NewTopic(t, 4, 1) for t in topics])
    info: dict[str, Any] = {"cases": cases, "gap": gap}
    runs: list[Run] = []
    try:
        begun = time.monotonic()
        info["events"] = produce(bootstrap, topics[0], cases, gap)
        info["produce_seconds"] = time.monotonic() - begun
        for cache in cache_sizes:
            if progress:
                print(f"  worker with cache {cache} ...", file=sys.stderr, flush=True)
            runs.append(run_worker(bootstrap=bootstrap, base_url=base, topic=topics[0], prefix=prefix, cache=cache,
                                   cases=cases, expected=info["events"], batch=batch, idle=idle, timeout=timeout,
                                   progress=progress))
        info["seconds"] = time.monotonic() - begun
    finally:
        try:
            admin.delete_topics(topics)
        finally:
            admin.close()
    return runs, info


def _cache_number(run: Run) -> int:
    return int(run.final.get("cache_size", 0)) if run.final else (20_000 if run.cache == DEFAULT else int(run.cache))


def rows(runs: list[Run]) -> list[dict[str, Any]]:
    """One row per run whose cache is smaller than half the cases (it must be bounded), and one comparing
    its growth per case with the per-case cost of a cache that holds every case, when there is one."""
    out: list[dict[str, Any]] = []
    holds_all = [r for r in runs if _cache_number(r) >= r.cases and r.slope() is not None]
    reference = holds_all[0].slope() if holds_all else None
    for run in runs:
        if _cache_number(run) * 2 > run.cases:
            continue
        half, full = run.rss_at(0.5), run.rss_at(1.0)
        label = f"worker RSS at {run.cases:,} active cases, cache {run.cache}"
        if half is None or full is None or not run.all_applied:
            out.append({"target": label, "measured": "incomplete run", "goal": "bounded", "met": False})
            continue
        growth = full / half - 1
        tail = run.tail_max / full - 1
        met = growth <= MARGIN and tail <= MARGIN
        measured = (f"{full / MIB:,.0f} MiB ({growth:+.1%} from {run.cases // 2:,} cases; tail {tail:+.1%}; "
                    f"peak {run.peak / MIB:,.0f} MiB)")
        out.append({"target": label, "measured": measured,
                    "goal": f"bounded: within +{MARGIN:.0%} while the active cases double, and in the tail",
                    "met": met})
        slope = run.slope()
        if reference is not None and slope is not None and reference > 0:
            out.append({"target": f"growth per active case, cache {run.cache}, vs a cache holding every case",
                        "measured": f"{slope / 1024:,.2f} KiB vs {reference / 1024:,.2f} KiB per case",
                        "goal": f"bounded: below {MARGIN:.0%} of a cached case's cost",
                        "met": slope < MARGIN * reference})
    return out


def summary(**kwargs: Any) -> list[dict[str, Any]]:
    """Run the benchmark (``measure``'s arguments) and return its rows: target, measured, goal, met."""
    runs, _info = measure(**kwargs)
    return rows(runs)


def _mib(value: int | None) -> str:
    return "-" if value is None else f"{value / MIB:,.0f}"


def table(runs: list[Run]) -> str:
    marks = [f"{int(m * 100)}% of cases" for m in MARKS]
    head = ["cache", "first RSS", *marks, "end", "peak", "reloads", "applied", "s", "events/s"]
    lines = [" | ".join(head), " | ".join("---" for _ in head)]
    for run in runs:
        cache = f"{run.cache} ({_cache_number(run):,})" if run.cache == DEFAULT else f"{int(run.cache):,}"
        first = run.samples[0].rss if run.samples else None
        lines.append(" | ".join([
            cache, _mib(first), *(_mib(run.rss_at(m)) for m in MARKS), _mib(run.rss_end), _mib(run.peak),
            f"{run.reloads:,}", f"{run.applied_events:,}/{run.expected_events:,}", f"{run.seconds:,.0f}",
            f"{run.expected_events / run.seconds:,.0f}" if run.seconds else "-",
        ]))
    return "\n".join(lines)


def probes_table(runs: list[Run]) -> str:
    """The worker's own view over time: cache entries and Python's allocated blocks (every 5th probe)."""
    lines = []
    for run in runs:
        picked = run.probes[::max(1, len(run.probes) // 8)] + ([run.final] if run.final else [])
        points = ", ".join(f"{p['messages']:,} msgs: cache {p['cache']:,}, {p['blocks'] / 1e6:.2f} M blocks"
                           for p in picked)
        lines.append(f"cache {run.cache}: {points}")
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--cases", type=int, default=100_000)
    parser.add_argument("--cache-sizes", default="default,100000",
                        help="comma-separated EISO_CASE_CACHE_SIZE values, 'default' for the unset variable")
    parser.add_argument("--gap", type=int, default=None,
                        help="a case is touched again after 3 x gap other events (default min(10000, cases/10))")
    parser.add_argument("--batch", type=int, default=None, help="EISO_KAFKA_BATCH_SIZE (default: the worker's, 500)")
    parser.add_argument("--idle", type=float, default=5.0, help="the worker stops after this many idle seconds")
    parser.add_argument("--timeout", type=float, default=7200.0, help="seconds per worker run")
    parser.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        child_main(args.idle)
        return
    caches = tuple(c.strip() for c in args.cache_sizes.split(",") if c.strip())
    try:
        runs, info = measure(cases=args.cases, cache_sizes=caches, gap=args.gap, batch=args.batch, idle=args.idle,
                             timeout=args.timeout, progress=True)
    except RuntimeError as err:
        sys.exit(str(err))
    print(f"machine: {machine()}")
    print(f"stream: {info['cases']:,} cases, {info['events']:,} events (receipt, step started, step completed; "
          f"a case comes back after {3 * info['gap']:,} other events), produced in {info['produce_seconds']:.0f} s; "
          f"whole benchmark {info['seconds']:.0f} s")
    print("worker RSS in MiB (VmRSS from /proc, sampled every second; peak = VmHWM):")
    print(table(runs))
    print(probes_table(runs))
    for row in rows(runs):
        print(f"{'met' if row['met'] else 'NOT met'}: {row['target']}: {row['measured']} (goal {row['goal']})")


if __name__ == "__main__":
    main()
