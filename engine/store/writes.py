"""The rows one transaction writes, staged while events are applied and flushed with one
statement per table: a batch of 500 events costs a handful of round trips, not thousands.

Staging keeps the last version of a row (a case touched by three events in a batch is written
once); the case update keeps the optimistic check against the event count read at the start.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, Table, delete, select

from engine.core.calendar import Calendar
from engine.core.nonconformities import Nonconformity
from engine.store.bulk import CopyWriter, next_sequence_values
from engine.store.cases import (
    CASES,
    INSERT_CASE,
    INSERT_JOURNAL_MANY,
    JOURNAL,
    NCS,
    PARKED,
    SNAPSHOTS,
    STEPS,
    UPDATE_CASE,
    UPSERT_SPECS,
    LiveCase,
    StaleCase,
    case_values,
    load_cases,
    payload_fingerprint,
    snapshot_row,
    step_rows,
    upserts,
)
from engine.store.outbox import OUTBOX, Outbox


@dataclass
class Writes:
    now: datetime
    # Event ids recorded, with the fingerprint of what was recorded (None: not a readable event).
    prefetched_seen: dict[str, str | None] | None = None
    seen: dict[str, str | None] = field(default_factory=dict)
    journal: list[dict[str, Any]] = field(default_factory=list)
    case_inserts: dict[str, dict[str, Any]] = field(default_factory=dict)
    case_updates: dict[str, dict[str, Any]] = field(default_factory=dict)
    steps: dict[tuple[str, int], dict[str, Any]] = field(default_factory=dict)
    nonconformities: dict[str, dict[str, Any]] = field(default_factory=dict)
    snapshots: dict[str, dict[str, Any]] = field(default_factory=dict)
    acks: list[dict[str, Any]] = field(default_factory=list)
    nc_messages: dict[str, None] = field(default_factory=dict)
    parked_deletes: list[int] = field(default_factory=list)
    prefetched_cases: dict[str, LiveCase | None] = field(default_factory=dict)  # None: no row
    waiting: set[str] = field(default_factory=set)

    # -- staging ------------------------------------------------------------------------------
    def prefetch_seen(self, conn: Connection, event_ids: list[str]) -> None:
        """One query per table for the whole batch's duplicate and conflict check (journal and parked);
        only ids already recorded bring their payload back."""
        found: dict[str, str | None] = {}
        for start in range(0, len(event_ids), 1000):
            chunk = event_ids[start:start + 1000]
            for table in (JOURNAL, PARKED):
                for event_id, payload in conn.execute(select(table.c.event_id, table.c.payload)
                                                      .where(table.c.event_id.in_(chunk))):
                    found.setdefault(event_id, payload_fingerprint(payload))
        self.prefetched_seen = found

    def prefetch_cases(self, conn: Connection, case_ids: list[str], receipts: list[str], catalog: Any,
                       calendar: Calendar) -> None:
        """The batch's cases not in memory, loaded together, and which received cases have parked events."""
        found = load_cases(conn, case_ids, catalog, calendar)
        self.prefetched_cases = {case_id: found.get(case_id) for case_id in case_ids}
        for start in range(0, len(receipts), 1000):
            chunk = receipts[start:start + 1000]
            self.waiting.update(conn.execute(select(PARKED.c.case_id).where(PARKED.c.case_id.in_(chunk))).scalars())

    def prefetched_case(self, case_id: str) -> tuple[bool, LiveCase | None]:
        """(True, the case or None when it has no row) when the batch's prefetch answered; (False, None) if not."""
        if case_id not in self.prefetched_cases:
            return False, None
        return True, self.prefetched_cases.pop(case_id)

    def is_seen(self, event_id: str) -> bool | None:
        """True or False when known without asking the database; None when it must be asked."""
        if event_id in self.seen:
            return True
        if self.prefetched_seen is not None:
            return event_id in self.prefetched_seen
        return None

    def recorded(self, event_id: str) -> tuple[bool, str | None]:
        """(True, fingerprint) for an id recorded, as far as known without asking the database;
        (False, None) when it is new or the database must be asked (``prefetched_seen`` says which)."""
        if event_id in self.seen:
            return True, self.seen[event_id]
        if self.prefetched_seen is not None and event_id in self.prefetched_seen:
            return True, self.prefetched_seen[event_id]
        return False, None

    def asks_database(self) -> bool:
        """Whether an id not staged must still be looked up (no batch prefetch answered)."""
        return self.prefetched_seen is None

    def journal_row(self, *, event_id: str, case_id: str, type_: str, occurred_at: datetime,
                    payload: dict[str, Any], notes: list[str], fingerprint: str | None = None) -> int:
        self.seen[event_id] = fingerprint
        self.journal.append({"event_id": event_id, "case_id": case_id, "type": type_, "occurred_at": occurred_at,
                             "recorded_at": self.now, "payload": payload, "notes": "\n".join(notes) or None})
        return len(self.journal) - 1

    def case(self, live: LiveCase, journal_index: int, snapshot_every: int) -> None:
        case = live.case
        values = case_values(case)
        values["event_count"] = live.event_count + 1
        values["journal_index"] = journal_index
        if live.is_new or case.case_id in self.case_inserts:
            self.case_inserts[case.case_id] = {"case_id": case.case_id, **values}
        else:
            first = self.case_updates.get(case.case_id)
            expected = first["b_event_count"] if first else live.event_count
            self.case_updates[case.case_id] = {"b_case_id": case.case_id, "b_event_count": expected, **values}
        for row in step_rows(live):
            self.steps[(row["case_id"], row["seq"])] = row
        live.event_count = values["event_count"]
        live.is_new = False
        live.since_snapshot += 1
        if case.closed or live.since_snapshot >= snapshot_every:
            self.snapshots[case.case_id] = {**snapshot_row(live, self.now), "journal_index": journal_index}
            live.since_snapshot = 0

    def nonconformity_records(self, records: list[Nonconformity], with_messages: bool) -> None:
        # procedure_scope is written with a new record only (not among the upsert's fields): a record's scope is its
        # case's, fixed at receipt, and the row of a record raised before 0010 already has it from the migration.
        for r in records:
            self.nonconformities[r.key] = {
                "key": r.key, "type": r.type, "case_id": r.case_id, "agency": r.agency, "procedure": r.procedure,
                "procedure_version": r.procedure_version, "procedure_scope": r.procedure_scope, "step": r.step,
                "due_at": r.due_at, "actual_at": r.actual_at, "delay_seconds": r.delay_seconds,
                "detected_at": r.detected_at,
                "event_ids": list(r.event_ids), "details": r.details, "status": r.status, "updated_at": self.now,
            }
            if with_messages:
                self.nc_messages[r.key] = None

    # -- flushing -------------------------------------------------------------------------------
    def flush(self, conn: Connection, outbox: Outbox | None) -> None:
        """Write the staged rows, one statement per table: by COPY on PostgreSQL for a batch
        (``engine.store.bulk``), by multi-row VALUES otherwise; the same rows and checks either way."""
        by_copy = conn.dialect.name == "postgresql" and len(self.journal) >= _COPY_FROM
        sink: _CopySink | _ValuesSink = _CopySink(conn) if by_copy else _ValuesSink(conn, outbox)
        seqs = sink.journal(self.journal) if self.journal else []
        if self.case_inserts:
            sink.write(CASES, [_resolve(row, seqs) for row in self.case_inserts.values()])
        if self.case_updates:
            rows = [_resolve(row, seqs) for row in self.case_updates.values()]
            if sink.write(CASES, rows, "update") != len(rows):
                raise StaleCase(", ".join(self.case_updates))
        if self.steps:
            sink.write(STEPS, list(self.steps.values()), "upsert")
        if self.nonconformities:
            sink.write(NCS, list(self.nonconformities.values()), "upsert")
        if self.snapshots:
            sink.write(SNAPSHOTS, [_resolve(row, seqs) for row in self.snapshots.values()], "upsert")
        if outbox is not None:
            if self.acks:
                sink.write(OUTBOX, self.acks, "ignore")
            outbox.nonconformities(conn, list(self.nc_messages), self.now)
        if self.parked_deletes:
            conn.execute(delete(PARKED).where(PARKED.c.id.in_(self.parked_deletes)))


def _resolve(row: dict[str, Any], seqs: list[int]) -> dict[str, Any]:
    out = dict(row)
    out["journal_seq"] = seqs[out.pop("journal_index")]
    return out


_COPY_FROM = 20  # below this many events a batch's VALUES statements are as quick as COPY


class _ValuesSink:
    """Multi-row INSERT/UPDATE statements (SQLite, and small transactions on PostgreSQL)."""

    def __init__(self, conn: Connection, outbox: Outbox | None):
        self.conn = conn
        self.outbox = outbox

    def journal(self, rows: list[dict[str, Any]]) -> list[int]:
        return list(self.conn.execute(INSERT_JOURNAL_MANY, rows).scalars())

    def write(self, table: Table, rows: list[dict[str, Any]], merge: str | None = None) -> int:
        if merge == "ignore":
            assert self.outbox is not None
            self.outbox.insert(self.conn, rows)
            return len(rows)
        if merge == "upsert":
            statement = upserts(self.conn).by_table[table.name]
        else:
            assert table is CASES
            statement = UPDATE_CASE if merge == "update" else INSERT_CASE
        return int(self.conn.execute(statement, rows).rowcount)


class _CopySink:
    """PostgreSQL COPY (``engine.store.bulk``); journal sequence numbers drawn beforehand."""

    def __init__(self, conn: Connection):
        self.conn = conn

    def journal(self, rows: list[dict[str, Any]]) -> list[int]:
        seqs = next_sequence_values(self.conn, "journal", "seq", len(rows))
        numbered = [{**row, "seq": seq} for row, seq in zip(rows, seqs, strict=True)]
        _writer(JOURNAL, numbered).write(self.conn, numbered)
        return seqs

    def write(self, table: Table, rows: list[dict[str, Any]], merge: str | None = None) -> int:
        return _writer(table, rows, merge).write(self.conn, rows)


_WRITERS: dict[tuple[str, tuple[str, ...], str | None], CopyWriter] = {}
_MATCH_CASE = {"b_case_id": "case_id", "b_event_count": "event_count"}


def _writer(table: Table, rows: list[dict[str, Any]], merge: str | None = None) -> CopyWriter:
    columns = tuple(rows[0])
    key = (table.name, columns, merge)
    writer = _WRITERS.get(key)
    if writer is None:
        if merge == "update":
            writer = CopyWriter(table, columns, "update", match=_MATCH_CASE)
        elif merge == "upsert":
            spec = UPSERT_SPECS[table.name]
            writer = CopyWriter(table, columns, "upsert", conflict=spec.keys, set_=spec.values)
        elif merge == "ignore":
            writer = CopyWriter(table, columns, "ignore", conflict=["message_id"])
        else:
            writer = CopyWriter(table, columns)
        _WRITERS[key] = writer
    return writer
