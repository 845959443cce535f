"""The SQL home of the ingest and watch use cases' statements (``engine.application.ports.CaseStore``).

The watcher's queries select running clocks not yet flagged overdue by due instant (indexes
``ix_case_step_watch`` and ``ix_cases_watch``), so a pass costs what is due, not what is open.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, Engine, Integer, Table, bindparam, select

from engine.core.calendar import Calendar
from engine.core.events import CaseEvent
from engine.store import cases as case_rows
from engine.store.cases import CASES, PARKED, STEPS, LiveCase, Recorded, recorded_fingerprint
from engine.store.outbox import DeadLetter, Outbox
from engine.store.tables import RefusedEvent
from engine.store.writes import Writes

REFUSED_TABLE: Table = RefusedEvent.__table__  # type: ignore[attr-defined]

_STEP_WATCHED = (STEPS.c.running.is_(True), STEPS.c.overdue_flagged.is_(False))
_CASE_WATCHED = (CASES.c.clock_running.is_(True), CASES.c.overdue_flagged.is_(False))
# Read in batches, earliest due first: a bounded read that the planner costs as the small index
# scan it is (unbounded, it reckons on every step with a past due, and PostgreSQL compiles it with JIT).
DUE_STEPS = (select(STEPS.c.case_id).where(*_STEP_WATCHED, STEPS.c.due_at < bindparam("at"))
             .order_by(STEPS.c.due_at).limit(bindparam("batch", type_=Integer)))
DUE_CASES = (select(CASES.c.case_id).where(*_CASE_WATCHED, CASES.c.due_at < bindparam("at"))
             .order_by(CASES.c.due_at).limit(bindparam("batch", type_=Integer)))
NEXT_STEP_DUE = (select(STEPS.c.due_at).where(*_STEP_WATCHED, STEPS.c.due_at >= bindparam("after"))
                 .order_by(STEPS.c.due_at).limit(1))
NEXT_CASE_DUE = (select(CASES.c.due_at).where(*_CASE_WATCHED, CASES.c.due_at >= bindparam("after"))
                 .order_by(CASES.c.due_at).limit(1))
# A step row whose overdue nonconformity is raised: the watcher no longer selects it.
FLAG_STEPS = (STEPS.update().where(STEPS.c.case_id == bindparam("b_case_id"), STEPS.c.seq == bindparam("b_seq"),
                                   STEPS.c.overdue_flagged.is_(False)).values(overdue_flagged=True))


@dataclass(frozen=True)
class ParkedFilter:
    """Which parked events to read: those of one case, of one procedure, or (neither) all."""

    case_id: str | None = None
    procedure: str | None = None


class SqlCaseTransaction:
    """One database transaction of the ingest and watch use cases."""

    def __init__(self, conn: Connection, outbox: Outbox | None):
        self.conn = conn
        self.outbox = outbox

    def recorded(self, event_id: str, include_parked: bool) -> Recorded | None:
        return recorded_fingerprint(self.conn, event_id, include_parked=include_parked)

    def load_case(self, case_id: str, catalog: Any, calendar: Calendar) -> LiveCase | None:
        # looked up in its module at each call, so that a measurement (bench/) may wrap it
        return case_rows.load_case(self.conn, case_id, catalog, calendar)

    def prefetch_seen(self, writes: Writes, event_ids: list[str]) -> None:
        writes.prefetch_seen(self.conn, event_ids)

    def prefetch_cases(self, writes: Writes, case_ids: list[str], receipts: list[str], catalog: Any,
                       calendar: Calendar) -> None:
        writes.prefetch_cases(self.conn, case_ids, receipts, catalog, calendar)

    def park(self, event: CaseEvent, reason: str, now: datetime) -> None:
        self.conn.execute(PARKED.insert(), {"event_id": event.event_id, "case_id": event.case_id,
                                            "procedure": event.procedure, "reason": reason,
                                            "payload": event.to_dict(), "parked_at": now})

    def repark(self, parked_id: int, reason: str) -> None:
        self.conn.execute(PARKED.update().where(PARKED.c.id == parked_id).values(reason=reason))

    def unpark(self, parked_id: int) -> None:
        self.conn.execute(PARKED.delete().where(PARKED.c.id == parked_id))

    def keep_refused(self, row: dict[str, Any]) -> None:
        self.conn.execute(REFUSED_TABLE.insert(), row)

    def dead_letter(self, letter: DeadLetter, reason: str, now: datetime) -> None:
        if self.outbox is not None:
            self.outbox.dead_letter(self.conn, letter, reason, now)

    def acknowledge(self, ack: dict[str, Any]) -> None:
        if self.outbox is not None:
            self.outbox.insert(self.conn, [ack])

    def flag_steps(self, case_id: str, seqs: list[int]) -> None:
        self.conn.execute(FLAG_STEPS, [{"b_case_id": case_id, "b_seq": seq} for seq in seqs])

    def flush(self, writes: Writes) -> None:
        writes.flush(self.conn, self.outbox)


class SqlCaseStore:
    """Cases in the database: one connection per transaction (``engine.begin``)."""

    def __init__(self, engine: Engine, outbox: Outbox | None = None):
        self.engine = engine
        self.outbox = outbox

    @contextmanager
    def transaction(self) -> Iterator[SqlCaseTransaction]:
        with self.engine.begin() as conn:
            yield SqlCaseTransaction(conn, self.outbox)

    def due_cases(self, at: datetime, batch: int) -> tuple[list[str], bool]:
        with self.engine.connect() as conn:
            steps = conn.execute(DUE_STEPS, {"at": at, "batch": batch}).scalars().all()
            cases = conn.execute(DUE_CASES, {"at": at, "batch": batch}).scalars().all()
        return sorted(set(steps) | set(cases)), batch in (len(steps), len(cases))

    def next_due(self, after: datetime) -> datetime | None:
        """Two index range scans (``ix_case_step_watch``, ``ix_cases_watch``), one row each."""
        with self.engine.connect() as conn:
            step = conn.execute(NEXT_STEP_DUE, {"after": after}).scalar()
            case = conn.execute(NEXT_CASE_DUE, {"after": after}).scalar()
        found = [due for due in (step, case) if due is not None]
        return min(found) if found else None

    def parked_page(self, which: ParkedFilter, after_id: int, limit: int) -> list[tuple[int, dict[str, Any]]]:
        query = select(PARKED.c.id, PARKED.c.payload).where(PARKED.c.id > after_id)
        if which.case_id is not None:
            query = query.where(PARKED.c.case_id == which.case_id)
        if which.procedure is not None:
            query = query.where(PARKED.c.procedure == which.procedure)
        with self.engine.connect() as conn:
            return [(p.id, p.payload) for p in conn.execute(query.order_by(PARKED.c.id).limit(limit)).all()]
