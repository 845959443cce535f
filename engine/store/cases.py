"""Reading and writing cases: journal rows, the case row, step rows, snapshots, nonconformities."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import insert, update
from sqlmodel import Session, col, select

from engine.core.case import Case, StepRun
from engine.core.events import parse_event
from engine.core.handling import CaseHandler
from engine.core.nonconformities import Nonconformity
from engine.core.workflow import SERIALIZER_VERSION, CaseWorkflow
from engine.store.catalog import ProcedureCatalog
from engine.store.tables import CaseRow, CaseSnapshot, CaseStepRow, JournalEntry, NonconformityRow

WATCH_TICK = "watch.tick"


class StaleCase(Exception):
    """Another writer applied an event to this case since it was read."""


@dataclass
class LiveCase:
    """A case held in memory between events, with what was last written for it."""

    handler: CaseHandler
    event_count: int
    journal_seq: int
    since_snapshot: int
    is_new: bool = False
    written_steps: dict[int, tuple[Any, ...]] = field(default_factory=dict)

    @property
    def case(self) -> Case:
        return self.handler.case


def load_case(session: Session, case_id: str, catalog: ProcedureCatalog, calendar: Any) -> LiveCase | None:
    """Rebuild a case from its latest snapshot plus the journal rows written after it."""
    row = session.get(CaseRow, case_id)
    if row is None:
        return None
    procedure = catalog.get(row.procedure, row.procedure_version)
    snapshot = session.get(CaseSnapshot, case_id)
    after = snapshot.journal_seq if snapshot is not None else 0
    entries = session.exec(
        select(JournalEntry).where(JournalEntry.case_id == case_id, col(JournalEntry.seq) > after)
        .order_by(col(JournalEntry.seq))
    ).all()
    handler: CaseHandler | None = None
    if snapshot is not None:
        case = Case.from_dict(snapshot.state["case"])
        workflow = CaseWorkflow.restore(procedure, snapshot.state["workflow"])
        handler = CaseHandler(case, workflow, procedure, calendar)
    for entry in entries:
        if handler is None:
            handler, _ = CaseHandler.receive(parse_event(entry.payload), procedure, row.procedure_version, calendar)
        elif entry.type == WATCH_TICK:
            handler.tick(datetime.fromisoformat(entry.payload["at"]))
        else:
            handler.apply(parse_event(entry.payload))
    if handler is None:
        raise LookupError(f"case {case_id} has a row but no journal")
    live = LiveCase(handler, event_count=row.event_count, journal_seq=row.journal_seq,
                    since_snapshot=len(entries))
    live.written_steps = {run.seq: _step_tuple(run) for run in handler.case.steps}
    return live


def append_journal(session: Session, *, event_id: str, case_id: str, type_: str, occurred_at: datetime,
                   recorded_at: datetime, payload: dict[str, Any], notes: list[str]) -> int:
    result = session.execute(
        insert(JournalEntry).values(
            event_id=event_id, case_id=case_id, type=type_, occurred_at=occurred_at, recorded_at=recorded_at,
            payload=payload, notes="\n".join(notes) or None,
        ).returning(JournalEntry.seq)  # type: ignore[arg-type]
    )
    return int(result.scalar_one())


def save_case(session: Session, live: LiveCase, seq: int, now: datetime, snapshot_every: int) -> None:
    case = live.case
    values = _case_values(case)
    values["journal_seq"] = seq
    values["event_count"] = live.event_count + 1
    if live.is_new:
        session.add(CaseRow(case_id=case.case_id, **values))
    else:
        result = session.execute(
            update(CaseRow).where(
                col(CaseRow.case_id) == case.case_id, col(CaseRow.event_count) == live.event_count
            ).values(**values)
        )
        if result.rowcount != 1:  # type: ignore[attr-defined]
            raise StaleCase(case.case_id)
    _save_steps(session, live)
    live.event_count = values["event_count"]
    live.journal_seq = seq
    live.is_new = False
    live.since_snapshot += 1
    if case.closed or live.since_snapshot >= snapshot_every:
        _save_snapshot(session, live, seq, now)
        live.since_snapshot = 0


def _save_snapshot(session: Session, live: LiveCase, seq: int, now: datetime) -> None:
    state = {"case": live.case.to_dict(), "workflow": live.handler.workflow.snapshot()}
    existing = session.get(CaseSnapshot, live.case.case_id)
    if existing is None:
        session.add(CaseSnapshot(case_id=live.case.case_id, journal_seq=seq, serializer_version=SERIALIZER_VERSION,
                                 state=state, taken_at=now))
    else:
        existing.journal_seq = seq
        existing.state = state
        existing.taken_at = now
        existing.serializer_version = SERIALIZER_VERSION
        session.add(existing)


def _case_values(case: Case) -> dict[str, Any]:
    overdue_key = f"{case.case_id}:case_timeliness:{case.epoch}"
    return {
        "agency": case.agency,
        "procedure": case.procedure,
        "procedure_version": case.procedure_version,
        "status": case.status,
        "received_at": case.received_at,
        "started_at": case.started_at,
        "due_at": case.due_at,
        "clock_running": case.clock.running and case.resolved_at is None,
        "overdue_flagged": overdue_key in case.nonconformities,
        "promised_at": case.promised_at,
        "extended_due_at": case.extended_due_at,
        "resolved_at": case.resolved_at,
        "timeliness": case.timeliness,
        "delay_seconds": case.delay_seconds,
        "closed_at": case.closed_at,
        "last_event_at": case.last_event_at,
    }


def _step_tuple(run: StepRun) -> tuple[Any, ...]:
    return (run.started_at, run.completed_at, run.skipped, run.abandoned, run.current_due(),
            run.clock.running if run.clock else False, run.epoch, run.timeliness)


def _save_steps(session: Session, live: LiveCase) -> None:
    case = live.case
    definition = live.handler.definition
    for run in case.steps:
        current = _step_tuple(run)
        if live.written_steps.get(run.seq) == current:
            continue
        step = definition.steps.get(run.step)
        status = ("skipped" if run.skipped else "completed" if run.completed_at else
                  "abandoned" if run.abandoned else "active")
        flagged = f"{case.case_id}:step_timeliness:{run.seq}:{run.epoch}" in case.nonconformities
        row = CaseStepRow(
            case_id=case.case_id, seq=run.seq, step=run.step, unit=step.unit if step else None,
            agency=case.agency, procedure=case.procedure, status=status, activated_at=run.activated_at,
            started_at=run.started_at, due_at=run.current_due(), completed_at=run.completed_at,
            timeliness=run.timeliness, delay_seconds=run.delay_seconds,
            running=bool(run.clock and run.clock.running and run.active), overdue_flagged=flagged,
        )
        session.merge(row)
        live.written_steps[run.seq] = current


def save_nonconformities(session: Session, records: Iterable[Nonconformity], now: datetime) -> None:
    for record in records:
        row = session.get(NonconformityRow, record.key)
        fields = {
            "type": record.type, "case_id": record.case_id, "agency": record.agency,
            "procedure": record.procedure, "procedure_version": record.procedure_version, "step": record.step,
            "due_at": record.due_at, "actual_at": record.actual_at, "delay_seconds": record.delay_seconds,
            "detected_at": record.detected_at, "event_ids": list(record.event_ids),
            "details": record.details, "updated_at": now,
        }
        if row is None:
            session.add(NonconformityRow(key=record.key, status=record.status, **fields))
        else:
            for name, value in fields.items():
                setattr(row, name, value)
            session.add(row)
