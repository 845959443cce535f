"""Bottleneck steps: working time of completed steps against their allowance.

A step's working time runs from its activation to its completion (as in ``eiso report``; ``worked``
and ``p90`` of ``engine.reporting.steps``, which the diagram's step statistics use too);
median and 90th percentile per procedure and step, in working hours, with their ratio to
the allowance of the newest procedure version seen; ``over_allowance`` counts the steps
that took longer than their own version's allowance. Worst 90th-percentile ratio first.
"""

from __future__ import annotations

import statistics
from collections import defaultdict
from typing import Any

from pydantic import BaseModel
from sqlmodel import Session, col, select

from engine.api.deps import Principal
from engine.api.reporting.common import Period, ReportQuery
from engine.core.calendar import Calendar
from engine.core.states import StepStatus, Timeliness
from engine.reporting.steps import hours, p90, worked
from engine.store.catalog import ProcedureCatalog
from engine.store.tables import CaseRow, CaseStepRow

COLUMNS = ["procedure", "step", "unit", "allowance_hours", "completed", "median_hours", "p90_hours",
           "median_ratio", "p90_ratio", "over_allowance", "late_steps"]


class BottleneckRow(BaseModel):
    procedure: str
    step: str
    unit: str | None
    allowance_hours: float | None
    completed: int
    median_hours: float
    p90_hours: float
    median_ratio: float | None
    p90_ratio: float | None
    over_allowance: int
    late_steps: int


class BottleneckReport(BaseModel):
    period_from: str
    period_to: str
    steps: list[BottleneckRow]


def _allowance(catalog: ProcedureCatalog, code: str, version: int, scope: str, step: str,
               cache: dict[Any, Any]) -> int | None:
    if (code, scope, version) not in cache:
        try:
            cache[(code, scope, version)] = catalog.get(code, version, scope).definition.steps
        except Exception:  # a version that no longer loads: no allowance rather than no report
            cache[(code, scope, version)] = {}
    found = cache[(code, scope, version)].get(step)
    return None if found is None else found.allowance_seconds


def bottlenecks(session: Session, user: Principal, q: ReportQuery, period: Period, calendar: Calendar,
                catalog: ProcedureCatalog) -> BottleneckReport:
    rows = session.exec(
        select(CaseStepRow, CaseRow.procedure_version, CaseRow.procedure_scope)
        .join(CaseRow, col(CaseRow.case_id) == CaseStepRow.case_id)
        .where(q.where(user, col(CaseStepRow.agency), col(CaseStepRow.procedure)),
               col(CaseStepRow.status) == StepStatus.COMPLETED, col(CaseStepRow.completed_at) >= period.start,
               col(CaseStepRow.completed_at) < period.end)
    ).all()
    times: dict[tuple[str, str], list[int]] = defaultdict(list)
    info: dict[tuple[str, str], dict[str, Any]] = defaultdict(lambda: {"over": 0, "late": 0, "version": 0})
    cache: dict[Any, Any] = {}
    for step, version, scope in rows:
        if step.completed_at is None:
            continue
        key = (step.procedure, step.step)
        seconds = worked(calendar, step.activated_at, step.completed_at)
        times[key].append(seconds)
        allowance = _allowance(catalog, step.procedure, version, scope, step.step, cache)
        entry = info[key]
        entry["over"] += allowance is not None and seconds > allowance
        entry["late"] += step.timeliness == Timeliness.LATE
        entry["unit"] = step.unit
        if version >= entry["version"]:
            entry["version"], entry["allowance"] = version, allowance
    out = []
    for (procedure, step_id), values in times.items():
        values.sort()
        entry = info[(procedure, step_id)]
        allowance, median, high = entry.get("allowance"), statistics.median(values), p90(values)
        out.append(BottleneckRow(
            procedure=procedure, step=step_id, unit=entry.get("unit"),
            allowance_hours=None if allowance is None else hours(allowance), completed=len(values),
            median_hours=hours(median), p90_hours=hours(high),
            median_ratio=round(median / allowance, 3) if allowance else None,
            p90_ratio=round(high / allowance, 3) if allowance else None,
            over_allowance=entry["over"], late_steps=entry["late"]))
    out.sort(key=lambda r: (r.p90_ratio is None, -(r.p90_ratio or 0), r.procedure, r.step))
    return BottleneckReport(period_from=period.start.isoformat(), period_to=period.end.isoformat(), steps=out)
