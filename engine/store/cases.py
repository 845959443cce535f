"""Reading and writing cases: journal rows, the case row, step rows, snapshots, nonconformities.

The hot path uses SQLAlchemy Core statements built once (compiled-statement cache) on one
connection per transaction; the ORM models in ``tables`` only describe the schema.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, Table, bindparam, func, select, union_all
from sqlalchemy import case as sql_case
from sqlalchemy.dialects import postgresql, sqlite

from engine.core import migration
from engine.core.calendar import Calendar
from engine.core.case import Case, StepRun
from engine.core.events import EventInvalid, parse_event
from engine.core.handling import CaseHandler
from engine.core.nonconformities import case_key, step_key
from engine.core.states import NonconformityStatus
from engine.core.step_time import worked
from engine.core.workflow import SERIALIZER_VERSION, CaseWorkflow
from engine.store.catalog import ProcedureCatalog
from engine.store.tables import CaseRow, CaseSnapshot, CaseStepRow, JournalEntry, NonconformityRow, ParkedEvent

WATCH_TICK = "watch.tick"

JOURNAL: Table = JournalEntry.__table__  # type: ignore[attr-defined]
CASES: Table = CaseRow.__table__  # type: ignore[attr-defined]
STEPS: Table = CaseStepRow.__table__  # type: ignore[attr-defined]
SNAPSHOTS: Table = CaseSnapshot.__table__  # type: ignore[attr-defined]
NCS: Table = NonconformityRow.__table__  # type: ignore[attr-defined]
PARKED: Table = ParkedEvent.__table__  # type: ignore[attr-defined]

_RECORDED = union_all(
    select(JOURNAL.c.payload).where(JOURNAL.c.event_id == bindparam("event_id")),
    select(PARKED.c.payload).where(PARKED.c.event_id == bindparam("event_id")),
).limit(1)
_RECORDED_JOURNAL = select(JOURNAL.c.payload).where(JOURNAL.c.event_id == bindparam("event_id")).limit(1)
INSERT_JOURNAL_MANY = JOURNAL.insert().returning(JOURNAL.c.seq, sort_by_parameter_order=True)
INSERT_CASE = CASES.insert()
UPDATE_CASE = CASES.update().where(
    CASES.c.case_id == bindparam("b_case_id"), CASES.c.event_count == bindparam("b_event_count")
)
_CASE_ROW = select(CASES.c.procedure, CASES.c.procedure_version, CASES.c.procedure_scope, CASES.c.event_count).where(
    CASES.c.case_id == bindparam("case_id")
)
_SNAPSHOT = select(SNAPSHOTS.c.journal_seq, SNAPSHOTS.c.state).where(SNAPSHOTS.c.case_id == bindparam("case_id"))
_JOURNAL_AFTER = select(JOURNAL.c.type, JOURNAL.c.payload).where(
    JOURNAL.c.case_id == bindparam("case_id"), JOURNAL.c.seq > bindparam("after")
).order_by(JOURNAL.c.seq)

_LOAD_CHUNK = 500
_CASE_ROWS = select(CASES.c.case_id, CASES.c.procedure, CASES.c.procedure_version, CASES.c.procedure_scope,
                    CASES.c.event_count).where(
    CASES.c.case_id.in_(bindparam("ids", expanding=True))
)
_SNAPSHOTS_OF = select(SNAPSHOTS.c.case_id, SNAPSHOTS.c.journal_seq, SNAPSHOTS.c.state).where(
    SNAPSHOTS.c.case_id.in_(bindparam("ids", expanding=True))
)
_JOURNAL_AFTER_SNAPSHOTS = (
    select(JOURNAL.c.case_id, JOURNAL.c.type, JOURNAL.c.payload)
    .select_from(JOURNAL.outerjoin(SNAPSHOTS, SNAPSHOTS.c.case_id == JOURNAL.c.case_id))
    .where(JOURNAL.c.case_id.in_(bindparam("ids", expanding=True)),
           JOURNAL.c.seq > func.coalesce(SNAPSHOTS.c.journal_seq, 0))
    .order_by(JOURNAL.c.case_id, JOURNAL.c.seq)
)

_NC_ENGINE_FIELDS = ("type", "case_id", "agency", "procedure", "procedure_version", "step", "due_at",
                     "actual_at", "delay_seconds", "detected_at", "event_ids", "details", "updated_at")
_STEP_FIELDS = ("step", "unit", "agency", "procedure", "status", "activated_at", "started_at", "due_at",
                "completed_at", "timeliness", "delay_seconds", "running", "overdue_flagged", "worked_seconds")
_SNAPSHOT_FIELDS = ("journal_seq", "serializer_version", "state", "taken_at")


class StaleCase(Exception):
    """Another writer applied an event to this case since it was read."""


@dataclass
class LiveCase:
    """A case held in memory between events, with what was last written for it."""

    handler: CaseHandler
    event_count: int
    since_snapshot: int
    is_new: bool = False
    written_steps: dict[int, tuple[Any, ...]] = field(default_factory=dict)

    @property
    def case(self) -> Case:
        return self.handler.case


@dataclass(frozen=True)
class UpsertSpec:
    """How a table's rows merge with existing ones: the conflict keys and the fields the engine owns."""

    keys: tuple[str, ...]
    fields: tuple[str, ...]
    retractable: bool = False

    def values(self, statement: Any, table: Table) -> dict[str, Any]:
        values: dict[str, Any] = {name: statement.excluded[name] for name in self.fields}
        if self.retractable:  # the engine may retract or reopen a record; any other status is the secretaries'
            values["status"] = sql_case(
                (statement.excluded.status == NonconformityStatus.RETRACTED, NonconformityStatus.RETRACTED),
                (table.c.status == NonconformityStatus.RETRACTED, statement.excluded.status),
                else_=table.c.status,
            )
        return values


UPSERT_SPECS = {
    STEPS.name: UpsertSpec(("case_id", "seq"), _STEP_FIELDS),
    NCS.name: UpsertSpec(("key",), _NC_ENGINE_FIELDS, retractable=True),
    SNAPSHOTS.name: UpsertSpec(("case_id",), _SNAPSHOT_FIELDS),
}


class Upserts:
    """INSERT ... ON CONFLICT DO UPDATE statements for the connection's dialect, built once."""

    def __init__(self, dialect_name: str):
        insert = postgresql.insert if dialect_name == "postgresql" else sqlite.insert
        self.by_table = {table.name: self._upsert(insert, table) for table in (STEPS, NCS, SNAPSHOTS)}

    @staticmethod
    def _upsert(insert: Any, table: Table) -> Any:
        spec = UPSERT_SPECS[table.name]
        statement = insert(table)
        return statement.on_conflict_do_update(index_elements=list(spec.keys), set_=spec.values(statement, table))


_UPSERTS: dict[str, Upserts] = {}


def upserts(conn: Connection) -> Upserts:
    name = conn.dialect.name
    if name not in _UPSERTS:
        _UPSERTS[name] = Upserts(name)
    return _UPSERTS[name]


@dataclass(frozen=True)
class Recorded:
    """An event id already recorded (journal or parked), with the fingerprint of what it recorded."""

    fingerprint: str | None  # None: the row is no readable event (a watcher tick), so nothing equals it


def payload_fingerprint(payload: Any) -> str | None:
    """The content fingerprint of a recorded payload (``CaseEvent.fingerprint``), read back from its row.

    An event applied to a successor agency code keeps the code it was sent with as ``agency_original``
    (``engine.application.agency_codes``): the fingerprint is of the event as sent, so sending it again is
    a duplicate."""
    try:
        if isinstance(payload, dict) and isinstance(payload.get("agency_original"), str):
            payload = {**payload, "agency": payload["agency_original"]}
        return parse_event(payload, recorded=True).fingerprint()
    except EventInvalid:
        return None


def recorded_fingerprint(conn: Connection, event_id: str, include_parked: bool = True) -> Recorded | None:
    """What was recorded under ``event_id``, or None when the id is new.

    The payload is read back and hashed rather than a hash column kept: an id is seen again only
    on a duplicate or a conflict, so the cost falls on those alone, and every existing row answers.
    """
    statement = _RECORDED if include_parked else _RECORDED_JOURNAL
    row = conn.execute(statement, {"event_id": event_id}).first()
    return None if row is None else Recorded(payload_fingerprint(row[0]))


def load_case(conn: Connection, case_id: str, catalog: ProcedureCatalog, calendar: Calendar) -> LiveCase | None:
    """Rebuild a case from its latest snapshot plus the journal rows written after it."""
    row = conn.execute(_CASE_ROW, {"case_id": case_id}).first()
    if row is None:
        return None
    snapshot = conn.execute(_SNAPSHOT, {"case_id": case_id}).first()
    after = snapshot.journal_seq if snapshot is not None else 0
    entries = conn.execute(_JOURNAL_AFTER, {"case_id": case_id, "after": after}).all()
    return rebuild(case_id, row, snapshot, entries, catalog, calendar)


def load_cases(conn: Connection, case_ids: list[str], catalog: ProcedureCatalog, calendar: Calendar
               ) -> dict[str, LiveCase]:
    """Many cases at once (a batch's cache misses): three queries per chunk, not three per case.

    Case ids absent from the result have no row: they have not been received.
    """
    found: dict[str, LiveCase] = {}
    for start in range(0, len(case_ids), _LOAD_CHUNK):
        chunk = case_ids[start:start + _LOAD_CHUNK]
        rows = {r.case_id: r for r in conn.execute(_CASE_ROWS, {"ids": chunk})}
        if not rows:
            continue
        present = list(rows)
        snapshots = {s.case_id: s for s in conn.execute(_SNAPSHOTS_OF, {"ids": present})}
        entries: dict[str, list[Any]] = {case_id: [] for case_id in present}
        for entry in conn.execute(_JOURNAL_AFTER_SNAPSHOTS, {"ids": present}):
            entries[entry.case_id].append(entry)
        for case_id in present:
            found[case_id] = rebuild(case_id, rows[case_id], snapshots.get(case_id), entries[case_id], catalog,
                                      calendar)
    return found


def rebuild(case_id: str, row: Any, snapshot: Any, entries: Sequence[Any], catalog: ProcedureCatalog,
             calendar: Calendar) -> LiveCase:
    """A case from its row, its snapshot (or None) and the journal entries after it (any store's rows)."""
    version, scope = row.procedure_version, row.procedure_scope
    migrated = [e.payload for e in entries if e.type == migration.CASE_MIGRATED]
    if migrated:  # the state before a migration row to replay is on that row's old version
        version, scope = int(migrated[0]["from_version"]), migrated[0]["from_scope"]
    procedure = catalog.get(row.procedure, version, scope)
    handler: CaseHandler | None = None
    if snapshot is not None:
        case = Case.from_dict(snapshot.state["case"])
        workflow = CaseWorkflow.restore(procedure, snapshot.state["workflow"])
        handler = CaseHandler(case, workflow, procedure, calendar)
    for entry in entries:
        if handler is None:
            handler, _ = CaseHandler.receive(parse_event(entry.payload, recorded=True), procedure,
                                             version, calendar)
            handler.case.agency_original = entry.payload.get("agency_original")  # sent with a closed code
        elif entry.type == migration.CASE_MIGRATED:
            handler = migration.replay(handler, entry.payload, catalog.get(
                row.procedure, int(entry.payload["to_version"]), entry.payload["to_scope"]))
        elif entry.type == WATCH_TICK:
            handler.tick(datetime.fromisoformat(entry.payload["at"]))
        else:
            handler.apply(parse_event(entry.payload, recorded=True))
    if handler is None:
        raise LookupError(f"case {case_id} has a row but no journal")
    live = LiveCase(handler, event_count=row.event_count, since_snapshot=len(entries))
    live.written_steps = {run.seq: _step_tuple(handler.case, run) for run in handler.case.steps}
    return live


def snapshot_row(live: LiveCase, now: datetime) -> dict[str, Any]:
    state = {"case": live.case.to_dict(), "workflow": live.handler.workflow.snapshot()}
    return {"case_id": live.case.case_id, "serializer_version": SERIALIZER_VERSION, "state": state, "taken_at": now}


def case_values(case: Case) -> dict[str, Any]:
    return {
        "agency": case.agency,
        "agency_original": case.agency_original,
        "procedure": case.procedure,
        "procedure_version": case.procedure_version,
        "procedure_scope": case.procedure_scope,
        "status": case.status,
        "received_at": case.received_at,
        "started_at": case.started_at,
        "due_at": case.due_at,
        "clock_running": case.clock.running and case.resolved_at is None,
        "overdue_flagged": case_key(case.case_id) in case.nonconformities,
        "promised_at": case.promised_at,
        "extended_due_at": case.extended_due_at,
        "resolved_at": case.resolved_at,
        "timeliness": case.timeliness,
        "delay_seconds": case.delay_seconds,
        "closed_at": case.closed_at,
        "last_event_at": case.last_event_at,
    }


def _step_tuple(case: Case, run: StepRun) -> tuple[Any, ...]:
    """What a step row shows, to write it again only when it changed (its overdue flag included)."""
    return (run.started_at, run.completed_at, run.skipped, run.abandoned, run.current_due(),
            run.clock.running if run.clock else False, run.epoch, run.timeliness,
            _step_flagged(case, run))


def _step_flagged(case: Case, run: StepRun) -> bool:
    return step_key(case.case_id, run.seq) in case.nonconformities


def step_rows(live: LiveCase) -> list[dict[str, Any]]:
    """The step rows that changed since they were last written (and note them as written)."""
    case = live.case
    definition = live.handler.definition
    rows = []
    for run in case.steps:
        current = _step_tuple(case, run)
        if live.written_steps.get(run.seq) == current:
            continue
        step = definition.steps.get(run.step)
        rows.append({
            "case_id": case.case_id, "seq": run.seq, "step": run.step, "unit": step.unit if step else None,
            "agency": case.agency, "procedure": case.procedure, "status": run.status,
            "activated_at": run.activated_at, "started_at": run.started_at, "due_at": run.current_due(),
            "completed_at": run.completed_at, "timeliness": run.timeliness, "delay_seconds": run.delay_seconds,
            "running": bool(run.clock and run.clock.running and run.active),
            "overdue_flagged": _step_flagged(case, run),
            "worked_seconds": (None if run.completed_at is None
                               else worked(live.handler.calendar, run.activated_at, run.completed_at)),
        })
        live.written_steps[run.seq] = current
    return rows
