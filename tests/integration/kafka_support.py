"""Helpers for tests on a real Apache Kafka (scripts/services) and a real PostgreSQL."""

from __future__ import annotations

import hashlib
import json
import os
import uuid
from collections.abc import Iterable
from datetime import date, datetime
from pathlib import Path
from typing import Any

import pytest
from kafka import KafkaAdminClient, KafkaConsumer, KafkaProducer
from kafka.admin import NewTopic
from sqlalchemy import create_engine, text

from connectors.settings import KafkaSettings
from engine.bootstrap import App, build
from engine.core.calendar import WorkingCalendar
from engine.procedures.loader import load_procedure
from engine.settings import DatabaseSettings, EngineSettings, Settings
from engine.simulation import Simulator
from engine.store.queries import Presenter, case_detail, nonconformity_list
from tests.conftest import BUNDLED

DEPLOYED_AT = datetime.fromisoformat("2026-09-01T00:00:00+07:00")


def bootstrap() -> str:
    value = os.environ.get("EISO_TEST_KAFKA_BOOTSTRAP")
    if not value:
        if os.environ.get("CI"):
            raise RuntimeError("CI must provide EISO_TEST_KAFKA_BOOTSTRAP (scripts/test starts Kafka)")
        pytest.skip("no Kafka: run through scripts/test (EISO_TEST_KAFKA_BOOTSTRAP)")
    return value


def kafka_settings(prefix: str, **overrides: Any) -> KafkaSettings:
    """Settings with topics and group of their own, so tests never see each other's messages."""
    values: dict[str, Any] = {
        "bootstrap": bootstrap(), "topic": f"{prefix}.case-events", "dlq_topic": f"{prefix}.case-events.dlq",
        "outbound_topic": f"{prefix}.nonconformities", "group": f"{prefix}.engine", "poll_timeout_ms": 200,
        "db_retry_seconds": 0.5,
    }
    values.update(overrides)
    return KafkaSettings(**values)


def unique_prefix(name: str) -> str:
    return f"t{uuid.uuid4().hex[:8]}.{name}"


def create_topics(settings: KafkaSettings, partitions: int = 4) -> None:
    admin = KafkaAdminClient(bootstrap_servers=settings.bootstrap)
    try:
        topics = [settings.topic, settings.dlq_topic, settings.outbound_topic]
        if settings.portal_topic:
            topics.append(settings.portal_topic)
        admin.create_topics([NewTopic(t, partitions, 1) for t in topics])
    finally:
        admin.close()


def produce(settings: KafkaSettings, values: Iterable[bytes | str], keys: Iterable[str | None] | None = None,
            topic: str | None = None) -> int:
    producer = KafkaProducer(bootstrap_servers=settings.bootstrap, acks="all", linger_ms=20)
    count = 0
    key_list = list(keys) if keys is not None else None
    for i, value in enumerate(values):
        key = key_list[i] if key_list is not None else None
        producer.send(topic or settings.topic, value=value.encode() if isinstance(value, str) else value,
                      key=key.encode() if key else None)
        count += 1
    producer.flush(60)
    producer.close()
    return count


def read_all(settings: KafkaSettings, topic: str, expected: int | None = None, timeout_ms: int = 5000
             ) -> list[Any]:
    consumer = KafkaConsumer(topic, bootstrap_servers=settings.bootstrap, auto_offset_reset="earliest",
                             enable_auto_commit=False, group_id=None, consumer_timeout_ms=timeout_ms)
    messages = []
    for message in consumer:
        messages.append(message)
        if expected is not None and len(messages) >= expected:
            break
    consumer.close()
    return messages


def make_app(url: str, **engine: Any) -> App:
    app = build(Settings(database=DatabaseSettings(url=url), engine=EngineSettings(outbox=True, **engine)))
    for path in BUNDLED:
        app.catalog.deploy(path.read_bytes(), path.name, DEPLOYED_AT)
    return app


def simulated_events(cases: int, seed: int) -> list[dict[str, Any]]:
    procedures = [load_procedure(p.read_bytes(), p.name) for p in BUNDLED]
    return Simulator(procedures, WorkingCalendar(), seed).month(date(2026, 10, 1), cases)


def digest(app: App) -> str:
    """Cases with their steps and the nonconformities, as the contract's JSON, hashed."""
    presenter = Presenter(app.calendar)
    with app.engine.connect() as conn:
        ids = [r[0] for r in conn.execute(text("SELECT case_id FROM cases ORDER BY case_id"))]
    cases = [case_detail(app.engine, cid, presenter) for cid in ids]
    ncs = sorted(nonconformity_list(app.engine, presenter), key=lambda n: json.dumps(n, sort_keys=True))
    return hashlib.sha256(json.dumps([cases, ncs], sort_keys=True).encode()).hexdigest()


def journal_count(url: str) -> tuple[int, int]:
    engine = create_engine(url)
    with engine.connect() as conn:
        journal = conn.execute(text("SELECT count(*), count(DISTINCT event_id) FROM journal")).one()
    engine.dispose()
    return int(journal[0]), int(journal[1])


def write_jsonl(path: Path, events: list[dict[str, Any]]) -> Path:
    path.write_text("".join(json.dumps(e, ensure_ascii=False) + "\n" for e in events), encoding="utf-8")
    return path


def ingest_all(app: App, lines: list[str]) -> None:
    """The uninterrupted reference run: the same events, in order, straight into the service."""
    from engine.core.events import parse_event_line

    events = [parse_event_line(line) for line in lines]
    for start in range(0, len(events), 500):
        app.service.ingest_batch(events[start:start + 500])
