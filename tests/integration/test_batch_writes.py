"""The worker's batch path writes exactly what one transaction per event writes.

Batches load their cache misses together (``load_cases``) and, on PostgreSQL, write their rows
by COPY (``engine.store.bulk``); a tiny case cache forces cases to be reloaded from the
database mid-stream. Compared table by table with the one-event-per-transaction path.
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from sqlalchemy import text

from engine.bootstrap import App, build
from engine.core.clock import ManualClock
from engine.core.events import parse_event
from engine.settings import DatabaseSettings, EngineSettings, Settings
from engine.simulation import Simulator
from tests.conftest import BUNDLED, fresh_postgres_database

DEPLOYED = datetime.fromisoformat("2026-09-01T00:00:00+07:00")
TABLES = {
    "cases": "SELECT case_id, agency, procedure, status, due_at, clock_running, overdue_flagged, resolved_at, "
             "timeliness, delay_seconds, closed_at, event_count FROM cases ORDER BY case_id",
    "case_step": "SELECT case_id, seq, step, status, due_at, completed_at, timeliness, delay_seconds, running, "
                 "overdue_flagged FROM case_step ORDER BY case_id, seq",
    "nonconformity": "SELECT key, type, step, due_at, actual_at, delay_seconds, status FROM nonconformity "
                     "ORDER BY key",
    "journal": "SELECT event_id, case_id, type FROM journal ORDER BY case_id, seq",
    "outbox": "SELECT message_id, kind, message_key, value FROM outbox ORDER BY message_id",
    "parked_event": "SELECT event_id FROM parked_event ORDER BY event_id",
}


def make(url: str, cache_size: int) -> App:
    app = build(Settings(database=DatabaseSettings(url=url),
                         engine=EngineSettings(outbox=True, case_cache_size=cache_size)),
                clock=ManualClock(datetime.fromisoformat("2026-11-01T08:00:00+07:00")))
    for path in BUNDLED:
        app.catalog.deploy(path.read_bytes(), path.name, DEPLOYED)
    return app


def tables(app: App) -> dict[str, list[tuple[Any, ...]]]:
    with app.engine.connect() as conn:
        return {name: [tuple(row) for row in conn.execute(text(sql))] for name, sql in TABLES.items()}


def stream(app: App, cases: int) -> list[Any]:
    procedures = [app.catalog.get(v.code, v.version) for v in app.catalog.versions()]
    events = [parse_event(e) for e in Simulator(procedures, app.calendar, 7).month(date(2026, 10, 1), cases)]
    # Out of order on purpose: some events arrive before their case's receipt and are parked.
    for index in range(5, len(events) - 3, 97):
        events[index], events[index + 2] = events[index + 2], events[index]
    return events


def test_batches_write_what_single_events_write(database_url: str, tmp_path: Any) -> None:
    second = None if database_url.startswith("sqlite") else fresh_postgres_database()
    reference_url = f"sqlite:///{tmp_path / 'reference.db'}" if second is None else next(second)
    batched = make(database_url, cache_size=7)
    reference = make(reference_url, cache_size=20_000)
    try:
        events = stream(batched, 120)
        for start in range(0, len(events), 150):
            batched.service.ingest_batch(events[start:start + 150])
        again = batched.service.ingest_batch(events[:150])
        for event in events:
            reference.service.ingest(event)
        assert {o.status for o in again} == {"duplicate"}
        got, want = tables(batched), tables(reference)
        for name in TABLES:
            if name != "outbox":
                assert [_plain(r) for r in got[name]] == [_plain(r) for r in want[name]], name
        # Acknowledgements are identical; a nonconformity's message carries its committed state, so a
        # batch in which a record changed twice (case_overdue, then case_late) sends only the last.
        sent, expected = {r[0]: _plain(r) for r in got["outbox"]}, {r[0]: _plain(r) for r in want["outbox"]}
        assert {k: v for k, v in sent.items() if v[1] == "ack"} == {k: v for k, v in expected.items() if v[1] == "ack"}
        assert sent.items() <= expected.items()
        final = {f"nc:{key}:{type_}:{status}" for key, type_, *_, status in got["nonconformity"]}
        assert final <= sent.keys()
        assert len(got["journal"]) > 1000 and got["nonconformity"]
    finally:
        batched.engine.dispose()
        reference.engine.dispose()
        if second is not None:
            second.close()


def _plain(row: tuple[Any, ...]) -> tuple[Any, ...]:
    return tuple(bytes(v) if isinstance(v, memoryview) else v for v in row)
