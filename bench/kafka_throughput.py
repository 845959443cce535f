"""End-to-end throughput of one worker: real Kafka -> engine -> PostgreSQL, on a simulated stream.

Run after ``eval "$(scripts/services up)"``:

    python3 bench/kafka_throughput.py --cases 2000

It produces ``eiso simulate``'s stream to a fresh topic (keyed by case), then times one
worker from its first message to the last applied event, and prints events per second with
the machine it ran on. A benchmark, not a test: no threshold.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import time
import uuid
from datetime import date, datetime
from pathlib import Path

from kafka import KafkaAdminClient, KafkaProducer
from kafka.admin import NewTopic
from sqlalchemy import create_engine, text

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from connectors.settings import KafkaSettings  # noqa: E402
from connectors.worker import CaseEventWorker  # noqa: E402
from engine.bootstrap import build  # noqa: E402
from engine.settings import DatabaseSettings, EngineSettings, Settings  # noqa: E402
from engine.simulation import Simulator  # noqa: E402


def machine() -> str:
    cpu = "unknown cpu"
    try:
        for row in Path("/proc/cpuinfo").read_text().splitlines():
            if row.startswith("model name"):
                cpu = row.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    memory = ""
    try:
        kib = int(Path("/proc/meminfo").read_text().split()[1])
        memory = f", {kib / 1024 / 1024:.0f} GiB"
    except (OSError, ValueError, IndexError):
        pass
    return f"{os.cpu_count()} cores ({cpu}){memory}, Python {platform.python_version()}, {platform.system()}"


def fresh_database(base: str) -> str:
    name = f"eiso_bench_{uuid.uuid4().hex[:8]}"
    admin = create_engine(base, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    admin.dispose()
    return base.rsplit("/", 1)[0] + "/" + name


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
    url = fresh_database(base)
    app = build(Settings(database=DatabaseSettings(url=url), engine=EngineSettings(outbox=True)))
    for path in sorted((ROOT / "bpmn").glob("*.bpmn")):
        app.catalog.deploy(path.read_bytes(), path.name, datetime.fromisoformat("2026-09-01T00:00:00+07:00"))
    procedures = [app.catalog.get(v.code, v.version) for v in app.catalog.versions()]
    events = Simulator(procedures, app.calendar, args.seed).month(date(2026, 10, 1), args.cases)

    prefix = f"bench{uuid.uuid4().hex[:6]}"
    settings = KafkaSettings(bootstrap=bootstrap, topic=f"{prefix}.case-events", dlq_topic=f"{prefix}.dlq",
                             outbound_topic=f"{prefix}.nonconformities", group=f"{prefix}.engine",
                             batch_size=args.batch, poll_timeout_ms=200)
    admin = KafkaAdminClient(bootstrap_servers=bootstrap)
    admin.create_topics([NewTopic(t, 4, 1) for t in (settings.topic, settings.dlq_topic, settings.outbound_topic)])
    admin.close()
    producer = KafkaProducer(bootstrap_servers=bootstrap, linger_ms=20, acks="all")
    for event in events:
        producer.send(settings.topic, key=event["case_id"].encode(), value=json.dumps(event).encode())
    producer.flush()
    producer.close()

    worker = CaseEventWorker(app, settings)
    marks: list[float] = []
    begun = time.perf_counter()
    worker.run(exit_when_idle=3, on_batch=lambda stats: marks.append(time.perf_counter()))
    elapsed = (marks[-1] if marks else time.perf_counter()) - begun
    applied = worker.stats.outcomes.get("applied", 0)
    print(f"machine: {machine()}")
    print(f"stream: {args.cases} cases, {len(events)} events ({applied} applied, "
          f"{worker.stats.outcomes.get('duplicate', 0)} repeated deliveries)")
    print(f"one worker, Kafka -> engine -> PostgreSQL: {len(events) / elapsed:,.0f} events/s "
          f"({elapsed:.1f} s, batches of {args.batch})")
    app.engine.dispose()


if __name__ == "__main__":
    main()
