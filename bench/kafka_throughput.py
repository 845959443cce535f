"""End-to-end throughput of one worker: real Kafka -> engine -> PostgreSQL, on a simulated stream.

Run after ``eval "$(scripts/services up)"``:

    python3 bench/kafka_throughput.py --cases 2000

One simulated stream (``eiso simulate``'s, keyed by case, 4 partitions), measured every way in
one run so that the ratios compare like with like:

* SpiffWorkflow alone executing the same steps in memory (the ceiling the library sets), and
  eiso's engine in memory (rules and clocks on top of it);
* a naive store on PostgreSQL that reads and rewrites each case's whole serialized workflow per
  event (on the first 3,000 events of the stream);
* one worker (the shipped ``CaseEventWorker``), Kafka -> engine -> PostgreSQL, timed from its
  first batch to its last offset commit: publishing its own outbox, and with ``eiso publisher``
  as a separate process beside it (then also until every outbox message was sent).

A benchmark, not a test: no threshold.
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import subprocess
import sys
import time
import uuid
from dataclasses import dataclass
from datetime import date, datetime
from pathlib import Path
from typing import Any

from kafka import KafkaAdminClient, KafkaProducer
from kafka.admin import NewTopic
from sqlalchemy import text

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench.environment import drop_database, fresh_database, machine  # noqa: E402
from bench.store_vs_ceiling import in_memory, make_app, naive_store, spiff_only  # noqa: E402
from connectors.settings import KafkaSettings  # noqa: E402
from connectors.worker import CaseEventWorker  # noqa: E402
from engine.bootstrap import build  # noqa: E402
from engine.core.events import parse_event  # noqa: E402
from engine.settings import DatabaseSettings, EngineSettings, Settings  # noqa: E402
from engine.simulation import Simulator  # noqa: E402


@dataclass
class Throughput:
    events: int
    ceiling: float  # SpiffWorkflow alone, in memory, events/s
    engine: float  # eiso's engine in memory (rules + SpiffWorkflow), events/s
    naive: float  # whole serialized state per event on PostgreSQL, events/s
    worker: float  # one worker, Kafka -> engine -> PostgreSQL, publishing its own outbox
    split: float  # one worker with `eiso publisher` beside it: applied and committed
    drained: float  # the same, until the publisher has sent every outbox message


def measure(base: str, bootstrap: str, cases: int, seed: int = 1, batch: int = 500,
            naive_events: int = 3000) -> Throughput:
    """Every throughput figure of the issue's table, on one simulated stream, in one run."""
    reference = make_app("sqlite://")
    procedures = [reference.catalog.get(v.code, v.version) for v in reference.catalog.versions()]
    stream = Simulator(procedures, reference.calendar, seed).month(date(2026, 10, 1), cases)
    events = [parse_event(e) for e in stream]
    ceiling = len(events) / spiff_only(reference, events)
    engine = len(events) / in_memory(reference, events)
    sample = events[:naive_events]
    naive_url = fresh_database(base)
    naive = len(sample) / naive_store(reference, naive_url, sample)
    drop_database(naive_url)
    worker = run_worker(base, bootstrap, stream, batch, separate_publisher=False)[0]
    split, drained = run_worker(base, bootstrap, stream, batch, separate_publisher=True)
    return Throughput(len(events), ceiling, engine, naive, worker, split, drained)


def run_worker(base: str, bootstrap: str, stream: list[dict[str, Any]], batch: int,
               separate_publisher: bool) -> tuple[float, float]:
    """Events/s of one worker from its first message to its last commit, and to the outbox drained."""
    url = fresh_database(base)
    app = build(Settings(database=DatabaseSettings(url=url), engine=EngineSettings(outbox=True)))
    for path in sorted((ROOT / "bpmn").glob("*.bpmn")):
        app.catalog.deploy(path.read_bytes(), path.name, datetime.fromisoformat("2026-09-01T00:00:00+07:00"))
    prefix = f"bench{uuid.uuid4().hex[:6]}"
    settings = KafkaSettings(bootstrap=bootstrap, topic=f"{prefix}.case-events", dlq_topic=f"{prefix}.dlq",
                             outbound_topic=f"{prefix}.nonconformities", group=f"{prefix}.engine",
                             batch_size=batch, poll_timeout_ms=200, publish_in_worker=not separate_publisher)
    admin = KafkaAdminClient(bootstrap_servers=bootstrap)
    topics = (settings.topic, settings.dlq_topic, settings.outbound_topic)
    admin.create_topics([NewTopic(t, 4, 1) for t in topics])
    producer = KafkaProducer(bootstrap_servers=bootstrap, linger_ms=20, acks="all")
    for event in stream:
        producer.send(settings.topic, key=event["case_id"].encode(), value=json.dumps(event).encode())
    producer.flush()
    producer.close()
    publisher = None
    if separate_publisher:
        env = {**os.environ, "EISO_DATABASE_URL": url, "EISO_KAFKA_BOOTSTRAP": bootstrap,
               "EISO_KAFKA_OUTBOUND_TOPIC": settings.outbound_topic, "EISO_KAFKA_DLQ_TOPIC": settings.dlq_topic}
        publisher = subprocess.Popen([sys.executable, "-m", "engine.cli.app", "publisher", "--log-level", "WARNING"],
                                     cwd=ROOT, env=env, stdout=subprocess.DEVNULL)
    worker = _TimedWorker(app, settings)
    worker.run(exit_when_idle=10)  # idle time is not timed: first batch to last commit
    applied = sum(worker.stats.outcomes.values())
    if worker.first is None or applied < len({e["event_id"] for e in stream}):
        raise RuntimeError(f"the worker applied {applied} of {len(stream)} events")
    first = worker.first
    applied_in = worker.last - first
    drained_in = applied_in
    if publisher is not None:
        while _pending(app) > 0:
            time.sleep(0.05)
        drained_in = time.perf_counter() - first
        publisher.send_signal(signal.SIGTERM)
        publisher.wait(timeout=60)
    app.engine.dispose()
    admin.delete_topics(list(topics))
    admin.close()
    drop_database(url)
    return len(stream) / applied_in, len(stream) / drained_in


class _TimedWorker(CaseEventWorker):
    """The worker as shipped, timed from the first batch it takes to the last one it commits."""

    first: float | None = None
    last: float = 0.0

    def _process(self, batch: Any) -> Any:
        if self.first is None:
            self.first = time.perf_counter()
        done = super()._process(batch)
        return done

    def _commit(self, done: Any) -> None:
        super()._commit(done)
        self.last = time.perf_counter()


def _pending(app: Any) -> int:
    with app.engine.connect() as conn:
        return int(conn.execute(text("SELECT count(*) FROM outbox WHERE published_at IS NULL")).scalar() or 0)


def summary(base: str, bootstrap: str, cases: int = 2000, **_: Any) -> list[dict[str, Any]]:
    """The throughput rows of the one table (``python3 -m bench``)."""
    t = measure(base, bootstrap, cases)
    best = max(t.worker, t.split)
    return [
        {"target": "throughput, one worker, Kafka -> engine -> PostgreSQL (publishing its outbox)",
         "measured": f"{t.worker:,.0f} events/s", "goal": ">= 2,000 events/s", "met": t.worker >= 2000},
        {"target": "throughput, one worker beside `eiso publisher` (applied / outbox sent)",
         "measured": f"{t.split:,.0f} / {t.drained:,.0f} events/s", "goal": ">= 2,000 events/s",
         "met": t.split >= 2000},
        {"target": "x naive store (whole serialized state per event, PostgreSQL)",
         "measured": f"{best / t.naive:.1f}x ({t.naive:,.0f} events/s)", "goal": ">= 3x", "met": best >= 3 * t.naive},
        {"target": "% of SpiffWorkflow alone in memory (the ceiling)",
         "measured": f"{100 * best / t.ceiling:.0f}% (ceiling {t.ceiling:,.0f}; eiso engine in memory "
                     f"{t.engine:,.0f} events/s)", "goal": ">= 50%", "met": best >= 0.5 * t.ceiling},
    ]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--cases", type=int, default=2000)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--batch", type=int, default=500)
    args = parser.parse_args()
    bootstrap = os.environ.get("EISO_KAFKA_BOOTSTRAP")
    base = os.environ.get("EISO_DATABASE_URL", "")
    if not bootstrap or not base.startswith("postgresql"):
        sys.exit('start the services first: eval "$(scripts/services up)"')
    t = measure(base, bootstrap, args.cases, args.seed, args.batch)
    print(f"machine: {machine()}")
    print(f"stream: {args.cases} cases, {t.events} events; batches of {args.batch}; 4 partitions")
    rows = [
        ("SpiffWorkflow alone, in memory (ceiling)", t.ceiling),
        ("eiso engine (rules + SpiffWorkflow), in memory", t.engine),
        ("naive store, PostgreSQL (whole state per event)", t.naive),
        ("one worker, Kafka -> engine -> PostgreSQL", t.worker),
        ("one worker beside `eiso publisher`: applied", t.split),
        ("  ... and every outbox message sent", t.drained),
    ]
    print(f"{'path':50} {'events/s':>10} {'x naive':>8} {'% ceiling':>10}")
    for name, rate in rows:
        print(f"{name:50} {rate:10,.0f} {rate / t.naive:8.1f} {100 * rate / t.ceiling:9.0f}%")


if __name__ == "__main__":
    main()
