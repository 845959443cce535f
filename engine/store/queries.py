"""Read models: a case's control slip and the nonconformity list, as the contract's JSON."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import Engine
from sqlmodel import Session, col, select

from engine.core.calendar import Calendar
from engine.core.states import NonconformityStatus
from engine.store.sources import source_clause
from engine.store.tables import CaseRow, CaseStepRow, NonconformityRow, ParkedEvent, RefusedEvent


class Presenter:
    """Times in the calendar's zone as RFC 3339; delays in working hours."""

    def __init__(self, calendar: Calendar):
        self.calendar = calendar

    def time(self, value: datetime | None) -> str | None:
        return None if value is None else self.calendar.local(value).isoformat()

    @staticmethod
    def hours(seconds: int | None) -> float | None:
        return None if seconds is None else round(seconds / 3600, 2)


def case_detail(source: Engine | Session, case_id: str, presenter: Presenter) -> dict[str, Any] | None:
    """The control slip; ``source`` is an engine, or the caller's session (one connection per request)."""
    if isinstance(source, Session):
        return _case_detail(source, case_id, presenter)
    with Session(source) as session:
        return _case_detail(session, case_id, presenter)


def _case_detail(session: Session, case_id: str, presenter: Presenter) -> dict[str, Any] | None:
    row = session.get(CaseRow, case_id)
    if row is None:
        return None
    steps = session.exec(
        select(CaseStepRow).where(CaseStepRow.case_id == case_id).order_by(col(CaseStepRow.seq))
    ).all()
    p = presenter
    return {
        "case_id": row.case_id,
        "agency": row.agency,
        "agency_original": row.agency_original,  # the code received with, moved to a successor (null: the same)
        "procedure": row.procedure,
        "procedure_version": row.procedure_version,
        "procedure_scope": row.procedure_scope,
        "status": row.status,
        "received_at": p.time(row.received_at),
        "started_at": p.time(row.started_at),
        "due_at": p.time(row.due_at),
        "promised_at": p.time(row.promised_at),
        "extended_due_at": p.time(row.extended_due_at),
        "resolved_at": p.time(row.resolved_at),
        "timeliness": row.timeliness,
        "delay_working_hours": p.hours(row.delay_seconds) if row.timeliness else None,
        "steps": [
            {
                "step": s.step,
                "unit": s.unit,
                "status": s.status,
                "activated_at": p.time(s.activated_at),
                "started_at": p.time(s.started_at),
                "due_at": p.time(s.due_at),
                "completed_at": p.time(s.completed_at),
                "timeliness": s.timeliness,
                "delay_working_hours": p.hours(s.delay_seconds) if s.timeliness else None,
            }
            for s in steps
        ],
    }


def nonconformity_list(engine: Engine, presenter: Presenter, *, type_: str | None = None,
                       case_id: str | None = None, agency: str | None = None, procedure: str | None = None,
                       status: str | None = None, limit: int | None = None,
                       include_retracted: bool = False, source: str = "all") -> list[dict[str, Any]]:
    """Nonconformities, oldest first; retracted ones only when asked for (by status or flag); ``source``:
    live, history (replayed, ``eiso history import``), history:<import id> or all (``engine.store.sources``)."""
    query = select(NonconformityRow)
    by_source = source_clause(col(NonconformityRow.source), source)
    if by_source is not None:
        query = query.where(by_source)
    if status is None and not include_retracted:
        query = query.where(col(NonconformityRow.status) != NonconformityStatus.RETRACTED)
    for column, value in ((NonconformityRow.type, type_), (NonconformityRow.case_id, case_id),
                          (NonconformityRow.agency, agency), (NonconformityRow.procedure, procedure),
                          (NonconformityRow.status, status)):
        if value is not None:
            query = query.where(column == value)
    query = query.order_by(col(NonconformityRow.detected_at), col(NonconformityRow.key))
    if limit is not None:
        query = query.limit(limit)
    with Session(engine) as session:
        rows = session.exec(query).all()
    return [nonconformity_dict(r, presenter) for r in rows]


def nonconformity_dict(r: Any, p: Presenter) -> dict[str, Any]:
    """A nonconformity as the contract's JSON (section 5), from a table row."""
    return {
        "type": r.type,
        "case_id": r.case_id,
        "agency": r.agency,
        "procedure": r.procedure,
        "procedure_version": r.procedure_version,
        "step": r.step,
        "due_at": p.time(r.due_at),
        "actual_at": p.time(r.actual_at),
        "delay_working_hours": p.hours(r.delay_seconds),
        "detected_at": p.time(r.detected_at),
        "event_ids": list(r.event_ids),
        "status": r.status,
        "procedure_scope": r.procedure_scope,  # added after the contract's keys, which keep their order
    }


def parked_events(engine: Engine, presenter: Presenter) -> list[dict[str, Any]]:
    with Session(engine) as session:
        rows = session.exec(select(ParkedEvent).order_by(col(ParkedEvent.id))).all()
    return [{"event_id": r.event_id, "case_id": r.case_id, "procedure": r.procedure, "reason": r.reason,
             "parked_at": presenter.time(r.parked_at)} for r in rows]


def refused_events(engine: Engine, presenter: Presenter) -> list[dict[str, Any]]:
    with Session(engine) as session:
        rows = session.exec(select(RefusedEvent).order_by(col(RefusedEvent.id))).all()
    return [{"event_id": r.event_id, "source": r.source, "problems": r.problems,
             "refused_at": presenter.time(r.refused_at), "raw": r.raw[:300]} for r in rows]
