"""The management report: timeliness per agency and procedure, step times, nonconformities.

The timeliness counts and the on-time rate are the rule of ``engine.reporting.ontime`` (the one
definition, domain.md): received, resolved (early, on time or late), open overdue at the period's
end; on-time rate = (early + on time) / (resolved + open overdue). A step's working time is the
working time between its activation and its completion.
"""

from __future__ import annotations

import statistics
from collections import Counter, defaultdict
from typing import Any

from sqlalchemy import Engine
from sqlmodel import Session, col, select

from engine.core.agency import EVERY_AGENCY
from engine.core.calendar import Calendar
from engine.core.nonconformities import NONCONFORMITY_TYPES
from engine.core.states import NonconformityStatus, Timeliness
from engine.reporting import ontime
from engine.reporting.labels import HEADINGS
from engine.reporting.period import Period
from engine.reporting.steps import hours, p90, worked
from engine.store.catalog import ProcedureCatalog
from engine.store.sources import source_clause
from engine.store.tables import CaseRow, CaseStepRow, NonconformityRow

__all__ = ["HEADINGS", "Period", "build_report"]


def build_report(engine: Engine, catalog: ProcedureCatalog, calendar: Calendar, period: Period, objective: float,
                 agency: str | None = None, procedure: str | None = None, source: str = "all") -> dict[str, Any]:
    """``source`` selects the nonconformities counted: live, history (replayed), history:<import id> or all."""
    with Session(engine) as session:
        cases = _filtered(session, select(CaseRow), CaseRow, agency, procedure)
        steps = _filtered(session, select(CaseStepRow).where(
            col(CaseStepRow.completed_at) >= period.start, col(CaseStepRow.completed_at) < period.end
        ), CaseStepRow, agency, procedure)
        ncs = _filtered(session, select(NonconformityRow).where(
            col(NonconformityRow.detected_at) >= period.start, col(NonconformityRow.detected_at) < period.end,
            col(NonconformityRow.status) != NonconformityStatus.RETRACTED,
            *_sources(source),
        ), NonconformityRow, agency, procedure)
    groups: dict[tuple[str, str], Counter[str]] = defaultdict(Counter)
    for case in cases:
        counted = +Counter(ontime.counts(case, period.start, period.end))  # a case the period never saw: no row
        if counted:
            groups[(case.agency, case.procedure)].update(counted)
    rows = [_group_row(agency_, proc, counts, objective) for (agency_, proc), counts in sorted(groups.items())]
    totals = _group_row("*", "*", sum(groups.values(), Counter()), objective)
    return {
        "period": {"from": calendar.local(period.start).isoformat(), "to": calendar.local(period.end).isoformat()},
        "quality_objective": objective,
        "groups": rows,
        "totals": totals,
        "steps": _step_rows(steps, catalog, calendar),
        "nonconformities": _nc_rows(ncs),
    }


def _sources(source: str) -> list[Any]:
    clause = source_clause(col(NonconformityRow.source), source)
    return [] if clause is None else [clause]


def _filtered(session: Session, query: Any, table: Any, agency: str | None, procedure: str | None) -> list[Any]:
    if agency is not None:
        query = query.where(table.agency == agency)
    if procedure is not None:
        query = query.where(table.procedure == procedure)
    return list(session.exec(query).all())


def _group_row(agency: str, procedure: str, counts: Counter[str], objective: float) -> dict[str, Any]:
    row: dict[str, Any] = {"agency": agency, "procedure": procedure}
    row.update({name: counts[name] for name in ontime.COUNTS})
    return row | ontime.summary(row, objective)


def _step_rows(steps: list[CaseStepRow], catalog: ProcedureCatalog, calendar: Calendar) -> list[dict[str, Any]]:
    times: dict[tuple[str, str], list[int]] = defaultdict(list)
    late: Counter[tuple[str, str]] = Counter()
    units: dict[tuple[str, str], str | None] = {}
    for step in steps:
        if step.completed_at is None:
            continue
        key = (step.procedure, step.step)
        times[key].append(worked(calendar, step.activated_at, step.completed_at))
        late[key] += step.timeliness == Timeliness.LATE
        units[key] = step.unit
    allowances = _allowances(catalog)
    rows = []
    for (procedure, step_id), values in sorted(times.items()):
        values.sort()
        allowance = allowances.get((procedure, step_id))
        rows.append({
            "procedure": procedure,
            "step": step_id,
            "unit": units[(procedure, step_id)],
            "allowance_hours": None if allowance is None else hours(allowance),
            "completed": len(values),
            "median_hours": hours(statistics.median(values)),
            "p90_hours": hours(p90(values)),
            "late_steps": late[(procedure, step_id)],
        })
    return rows


def _allowances(catalog: ProcedureCatalog) -> dict[tuple[str, str], int | None]:
    out: dict[tuple[str, str], int | None] = {}
    # Every-agency versions last, so that a procedure's allowance is the one all agencies follow by default.
    for version in sorted(catalog.versions(), key=lambda v: (v.code, v.scope == EVERY_AGENCY, v.version)):
        definition = catalog.get(version.code, version.version, version.scope).definition
        for step in definition.steps.values():
            out[(version.code, step.step_id)] = step.allowance_seconds
    return out


def _nc_rows(ncs: list[NonconformityRow]) -> list[dict[str, Any]]:
    counts = Counter(nc.type for nc in ncs)
    return [{"type": t, "count": counts[t]} for t in NONCONFORMITY_TYPES if counts[t]]
