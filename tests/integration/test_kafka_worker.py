"""The Kafka worker on a real Apache Kafka (KRaft) and a real PostgreSQL."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from connectors.worker import CaseEventWorker
from engine.service import CaseBusy, ingest_lines
from tests.integration.kafka_support import (
    create_topics,
    digest,
    journal_count,
    kafka_settings,
    make_app,
    produce,
    read_all,
    simulated_events,
    unique_prefix,
)


def test_stream_ends_as_ingest_and_outbound_mirrors_the_database(postgres_database: str, tmp_path: Path) -> None:
    events = simulated_events(120, seed=11)
    lines = [json.dumps(e, ensure_ascii=False) for e in events]
    baseline = make_app(f"sqlite:///{tmp_path / 'ingest.db'}")
    list(ingest_lines(baseline.service, lines, "file"))  # exactly what `eiso ingest` does

    settings = kafka_settings(unique_prefix("same"))
    create_topics(settings)
    produce(settings, lines, keys=[e["case_id"] for e in events])
    app = make_app(postgres_database)
    stats = CaseEventWorker(app, settings).run(exit_when_idle=3)

    assert stats.messages == len(lines)
    assert digest(app) == digest(baseline)
    applied, distinct = journal_count(postgres_database)
    assert applied == distinct == len({e["event_id"] for e in events})
    # The outbound topic carries every nonconformity as the database has it, and an answer per event.
    outbound = [json.loads(m.value) for m in read_all(settings, settings.outbound_topic)]
    ncs = {m["key"]: m for m in outbound if m["message"] == "nonconformity"}
    from engine.store.queries import Presenter, nonconformity_list

    in_db = nonconformity_list(app.engine, Presenter(app.calendar), include_retracted=True)
    assert len(ncs) >= len(in_db)
    latest = {}
    for message in outbound:
        if message["message"] == "nonconformity":
            latest[message["key"]] = {k: v for k, v in message.items() if k not in ("message", "key")}
    assert sorted(latest.values(), key=lambda n: json.dumps(n, sort_keys=True)) == sorted(
        in_db, key=lambda n: json.dumps(n, sort_keys=True))
    acks = [m for m in outbound if m["message"] == "event_outcome"]
    assert {a["event_id"] for a in acks} == {e["event_id"] for e in events}


def test_malformed_message_goes_to_the_dead_letter_topic_and_the_next_is_applied(postgres_database: str) -> None:
    settings = kafka_settings(unique_prefix("dlq"))
    create_topics(settings, partitions=1)
    events = simulated_events(3, seed=2)
    good = [json.dumps(e) for e in events]
    bad = [b"\xff\xfe not even utf-8", b'{"event_id": "e-bad", "type": "case.received"}', b"", b"[]"]
    produce(settings, [good[0], *bad, *good[1:]])
    app = make_app(postgres_database)
    stats = CaseEventWorker(app, settings).run(exit_when_idle=3)
    assert stats.dead_letters == len(bad)
    assert stats.outcomes.get("applied", 0) + stats.outcomes.get("duplicate", 0) == len(good)
    letters = read_all(settings, settings.dlq_topic, expected=len(bad))
    assert [m.value for m in letters] == bad
    headers = [dict(m.headers) for m in letters]
    assert all(h["source_topic"] == settings.topic.encode() for h in headers)
    assert [int(h["source_offset"]) for h in headers] == [1, 2, 3, 4]
    assert b"missing field 'case_id'" in headers[1]["reason"]


def test_same_events_delivered_twice_change_nothing(postgres_database: str) -> None:
    settings = kafka_settings(unique_prefix("twice"))
    create_topics(settings)
    events = simulated_events(40, seed=5)
    lines = [json.dumps(e) for e in events]
    keys = [e["case_id"] for e in events]
    produce(settings, lines, keys)
    app = make_app(postgres_database)
    CaseEventWorker(app, settings).run(exit_when_idle=2)
    once = digest(app)
    produce(settings, lines, keys)
    stats = CaseEventWorker(app, settings).run(exit_when_idle=2)
    assert stats.outcomes == {"duplicate": len(lines)}
    assert digest(app) == once


def test_portal_payloads_on_their_own_topic_are_mapped_and_applied(postgres_database: str) -> None:
    from tests.unit.test_portal_mapping import CASE, life_cycle

    prefix = unique_prefix("portal")
    settings = kafka_settings(prefix, portal_topic=f"{prefix}.portal")
    create_topics(settings)
    payloads = life_cycle()
    # Keyed by dossier code, as the one-stop-shop produces them: one dossier's payloads stay in order.
    produce(settings, [json.dumps(p, ensure_ascii=False) for p in payloads], keys=[CASE] * len(payloads),
            topic=settings.portal_topic)
    produce(settings, [b'{"MaHoSo": "X-1", "TrangThaiHoSo": 42}'], keys=["X-1"], topic=settings.portal_topic)
    app = make_app(postgres_database)
    stats = CaseEventWorker(app, settings).run(exit_when_idle=3)
    assert stats.dead_letters == 1
    from engine.store.queries import Presenter, case_detail

    case = case_detail(app.engine, CASE, Presenter(app.calendar))
    assert case is not None and case["status"] == "returned"
    assert case["timeliness"] in ("early", "on_time")
    letters = read_all(settings, settings.dlq_topic, expected=1)
    assert dict(letters[0].headers)["source_topic"] == settings.portal_topic.encode()


def test_worker_on_a_sasl_plain_listener(postgres_database: str) -> None:
    """The production settings path: SASL/PLAIN credentials from settings, on a real secured listener."""
    import os

    import pytest

    sasl = os.environ.get("EISO_TEST_KAFKA_SASL_BOOTSTRAP")
    if not sasl:
        if os.environ.get("CI"):
            raise RuntimeError("CI must provide EISO_TEST_KAFKA_SASL_BOOTSTRAP (scripts/services up kafka)")
        pytest.skip("no SASL listener: restart Kafka with scripts/services")
    prefix = unique_prefix("sasl")
    plain = kafka_settings(prefix)
    create_topics(plain)
    events = simulated_events(5, seed=9)
    produce(plain, [json.dumps(e) for e in events], keys=[e["case_id"] for e in events])
    app = make_app(postgres_database)
    secured = kafka_settings(prefix, bootstrap=sasl, security_protocol="SASL_PLAINTEXT", sasl_mechanism="PLAIN",
                             sasl_username="eiso", sasl_password=os.environ["EISO_TEST_KAFKA_SASL_PASSWORD"])
    stats = CaseEventWorker(app, secured).run(exit_when_idle=2)
    assert stats.messages == len(events)
    assert len(read_all(plain, secured.outbound_topic)) >= len(events)


def test_a_separate_publisher_sends_what_the_worker_wrote(postgres_database: str) -> None:
    """`eiso publisher` beside a worker that does not publish: every outbox row reaches its topic once."""
    import os
    import subprocess
    import sys

    from sqlalchemy import text

    from tests.conftest import ROOT

    events = simulated_events(40, seed=5)
    lines = [json.dumps(e, ensure_ascii=False) for e in events] + ["{not json"]
    settings = kafka_settings(unique_prefix("pub"), publish_in_worker=False)
    create_topics(settings)
    produce(settings, lines, keys=[e["case_id"] for e in events] + ["bad"])
    app = make_app(postgres_database)
    CaseEventWorker(app, settings).run(exit_when_idle=3)

    def pending() -> int:
        with app.engine.connect() as conn:
            return int(conn.execute(text("SELECT count(*) FROM outbox WHERE published_at IS NULL")).scalar_one())

    written = pending()
    assert written > len(events)  # an acknowledgement per event, nonconformities, one dead letter
    assert read_all(settings, settings.outbound_topic, timeout_ms=1500) == []
    env = {**os.environ, "EISO_DATABASE_URL": postgres_database, "EISO_KAFKA_BOOTSTRAP": settings.bootstrap,
           "EISO_KAFKA_OUTBOUND_TOPIC": settings.outbound_topic, "EISO_KAFKA_DLQ_TOPIC": settings.dlq_topic}
    done = subprocess.run([sys.executable, "-m", "engine.cli.app", "publisher", "--exit-when-idle", "2"], cwd=ROOT,
                          env=env, capture_output=True, text=True, timeout=120, check=False)
    assert done.returncode == 0, done.stderr[-2000:]
    assert f"{written} message(s) sent" in done.stdout
    assert pending() == 0
    outbound = read_all(settings, settings.outbound_topic, expected=written - 1)
    dead = read_all(settings, settings.dlq_topic, expected=1)
    assert len(outbound) == written - 1 and len(dead) == 1
    answered = [json.loads(m.value)["event_id"] for m in outbound if json.loads(m.value)["message"] == "event_outcome"]
    assert len(answered) == len(set(answered))  # once each; repeated deliveries are not answered again
    assert set(answered) == {e["event_id"] for e in events} | {None}  # None: the refusal of the bad message


def test_a_case_busy_with_other_writers_is_retried_never_dead_lettered(postgres_database: str) -> None:
    """Other writers (API processes, the watcher) kept changing a case until the service gave up
    (``CaseBusy``): a race, not bad data. Before: the worker's one-by-one fallback sent the event to the
    dead-letter topic and moved on; now the batch is retried and every event is applied once."""
    settings = kafka_settings(unique_prefix("busy"))
    create_topics(settings, partitions=1)
    events = simulated_events(3, seed=5)
    produce(settings, [json.dumps(e) for e in events])
    app = make_app(postgres_database)
    real_batch, real_one = app.service.ingest_batch, app.service.ingest
    busy = {"left": 3}

    def contended(event: Any) -> Any:  # the first attempts lose the race, as CaseService._apply reports it
        if busy["left"] > 0:
            busy["left"] -= 1
            raise CaseBusy(event.case_id, event.event_id, 12)
        return real_one(event)

    def batch_falling_back(batch: Any) -> Any:  # as ingest_batch does after a StaleCase: one event at a time
        return [contended(e) for e in batch] if busy["left"] > 0 else real_batch(batch)

    app.service.ingest_batch = batch_falling_back  # type: ignore[method-assign]
    app.service.ingest = contended  # type: ignore[method-assign]
    stats = CaseEventWorker(app, settings).run(exit_when_idle=3)
    assert stats.dead_letters == 0
    assert busy["left"] == 0 and stats.database_retries >= 1
    applied, distinct = journal_count(postgres_database)
    assert applied == distinct == len({e["event_id"] for e in events})
