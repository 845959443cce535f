"""Bottleneck steps: working time of completed steps against their allowance.

A step's working time runs from its activation to its completion (as in ``eiso report``; ``worked``
and ``p90`` of ``engine.reporting.steps``, which the diagram's step statistics use too);
median and 90th percentile per procedure and step, in working hours, with their ratio to
the allowance of the newest procedure version seen; ``over_allowance`` counts the steps
that took longer than their own version's allowance. Worst 90th-percentile ratio first.

Counted in SQL from the working time kept on each step row, the allowances of the catalog's versions
joined as a small table: on PostgreSQL, when each procedure has one version, straight from the step
rows with its ordered-set aggregates (``ordered_spread``); else by ranks (``Ranked``) over the steps
with their cases' versions. A step completed before its time was kept is counted in Python, as
``engine.reporting.steps`` does.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from typing import Any

from pydantic import BaseModel
from sqlalchemy import String, and_, case, func, literal, select, tuple_, union_all
from sqlmodel import Session

from engine.api.deps import Principal
from engine.api.reporting.common import Period, ReportQuery
from engine.api.reporting.kept import KEPT
from engine.core.calendar import Calendar
from engine.core.states import StepStatus, Timeliness
from engine.reporting.steps import Parts, Ranked, hours, ordered_spread, spread, worked
from engine.store.cases import CASES, STEPS
from engine.store.catalog import ProcedureCatalog

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


def _allowances(catalog: ProcedureCatalog, procedure: str | None, cache: dict[Any, Any]) -> tuple[Any, bool]:
    """Every step's allowance of every version in the catalog (of ``procedure`` if given), as a SQL table;
    and whether each procedure has a single version (then a step row's procedure tells its version)."""
    rows = []
    versions: dict[str, set[tuple[int, str]]] = defaultdict(set)
    for v in catalog.versions(procedure):
        versions[v.code].add((v.version, v.scope))
        _allowance(catalog, v.code, v.version, v.scope, "", cache)
        for step_id, step in cache[(v.code, v.scope, v.version)].items():
            if step.allowance_seconds is not None:
                rows.append(select(literal(v.code, String).label("procedure"), literal(v.version).label("version"),
                                   literal(v.scope, String).label("scope"), literal(step_id, String).label("step"),
                                   literal(step.allowance_seconds).label("allowance")))
    single = all(len(found) == 1 for found in versions.values())
    return (union_all(*rows).subquery("allowance") if rows else None), single


@dataclass
class _Group:
    """One procedure's step: its completed steps' counts, kept over the (version, scope) groups SQL splits it in."""

    completed: int = 0
    known: int = 0
    over: int = 0
    late: int = 0
    unit: str | None = None
    newest: tuple[int, str] = (0, "")
    allowance: int | None = None
    parts: Parts = field(default_factory=Parts)
    times: list[int] = field(default_factory=list)
    spread: tuple[float, int] = (0, 0)


def _by_step(session: Session, catalog: ProcedureCatalog, q: ReportQuery, completed_steps: Any, allowances: Any,
             cache: dict[Any, Any], groups: dict[tuple[str, str], _Group]) -> None:
    """PostgreSQL, one version per procedure: no need of the cases' versions, one SQL group per step."""
    steps, seconds = STEPS.c, STEPS.c.worked_seconds
    only: Any = STEPS
    over: Any = literal(0)
    if allowances is not None:
        only = only.outerjoin(allowances, and_(allowances.c.procedure == steps.procedure,
                                               allowances.c.step == steps.step))
        over = case((seconds > allowances.c.allowance, 1), else_=0)
    versions = {v.code: (v.version, v.scope) for v in catalog.versions(q.procedure)}
    for procedure, step_id, completed, known, over_count, late, unit, median, high in session.execute(
            select(steps.procedure, steps.step, func.count(), func.count(seconds), func.sum(over),
                   func.sum(_late(steps)), func.max(steps.unit), *ordered_spread(seconds))
            .select_from(only).where(completed_steps).group_by(steps.procedure, steps.step)):
        group = groups[(procedure, step_id)]
        group.completed, group.known, group.unit = int(completed), int(known), unit
        group.over, group.late = int(over_count or 0), int(late or 0)
        if known == completed:
            group.spread = (float(median), int(high))
        if procedure in versions:
            version, scope = versions[procedure]
            group.allowance = _allowance(catalog, procedure, version, scope, step_id, cache)


def _by_version(session: Session, catalog: ProcedureCatalog, completed_steps: Any, allowances: Any,
                cache: dict[Any, Any], groups: dict[tuple[str, str], _Group]) -> None:
    """Each step row with its case's version: ranks per procedure's step, SQL groups per version."""
    steps, cases, seconds = STEPS.c, CASES.c, STEPS.c.worked_seconds
    joined: Any = STEPS.join(CASES, cases.case_id == steps.case_id)
    over: Any = literal(0)
    if allowances is not None:
        joined = joined.outerjoin(allowances, and_(
            allowances.c.procedure == steps.procedure, allowances.c.version == cases.procedure_version,
            allowances.c.scope == cases.procedure_scope, allowances.c.step == steps.step))
        over = case((seconds > allowances.c.allowance, 1), else_=0)
    ranked = Ranked(seconds, [steps.procedure, steps.step])
    rows = (select(steps.procedure, steps.step, cases.procedure_version.label("version"),
                   cases.procedure_scope.label("scope"), steps.unit, seconds.label("seconds"), over.label("over"),
                   _late(steps).label("late"), ranked.rank, ranked.size)
            .select_from(joined).where(completed_steps).subquery())
    for procedure, step_id, version, scope, completed, known, over_count, late, unit, *pieces in session.execute(
            select(rows.c.procedure, rows.c.step, rows.c.version, rows.c.scope, func.count(),
                   func.count(rows.c.seconds), func.sum(rows.c.over), func.sum(rows.c.late),
                   func.max(rows.c.unit), *Ranked.aggregates(rows.c, rows.c.seconds))
            .group_by(rows.c.procedure, rows.c.step, rows.c.version, rows.c.scope)):
        group = groups[(procedure, step_id)]
        group.completed += int(completed)
        group.known += int(known)
        group.over += int(over_count or 0)
        group.late += int(late or 0)
        group.parts.add(*pieces)
        if (version, scope) >= group.newest:
            group.newest, group.unit = (version, scope), unit
            group.allowance = _allowance(catalog, procedure, version, scope, step_id, cache)
    for group in groups.values():
        if group.known == group.completed:
            group.spread = group.parts.spread()


def _in_python(session: Session, catalog: ProcedureCatalog, calendar: Calendar, completed_steps: Any,
               cache: dict[Any, Any], groups: dict[tuple[str, str], _Group]) -> None:
    """The groups holding a step completed before its working time was kept (migration 0015), counted here."""
    steps, cases = STEPS.c, CASES.c
    unknown = [key for key, group in groups.items() if group.known < group.completed]
    if not unknown:
        return
    for key in unknown:
        groups[key].over = 0
    for procedure, step_id, version, scope, kept, activated_at, completed_at in session.execute(
            select(steps.procedure, steps.step, cases.procedure_version, cases.procedure_scope, steps.worked_seconds,
                   steps.activated_at, steps.completed_at)
            .select_from(STEPS.join(CASES, cases.case_id == steps.case_id))
            .where(completed_steps, tuple_(steps.procedure, steps.step).in_(unknown))):
        group = groups[(procedure, step_id)]
        value = kept if kept is not None else worked(calendar, activated_at, completed_at)
        group.times.append(value)
        allowance = _allowance(catalog, procedure, version, scope, step_id, cache)
        group.over += allowance is not None and value > allowance
    for key in unknown:
        groups[key].spread = spread(sorted(groups[key].times))


def _late(steps: Any) -> Any:
    return case((steps.timeliness == Timeliness.LATE, 1), else_=0)


def bottlenecks(session: Session, user: Principal, q: ReportQuery, period: Period, calendar: Calendar,
                catalog: ProcedureCatalog) -> BottleneckReport:
    """The report; one that was slow to count is kept a while for the same question (``kept``)."""
    key = ("bottlenecks", user.scope, q.agency, q.procedure, period.start, period.end)
    return KEPT.get(session, key, lambda s: counted(s, user, q, period, calendar, catalog))


def counted(session: Session, user: Principal, q: ReportQuery, period: Period, calendar: Calendar,
            catalog: ProcedureCatalog) -> BottleneckReport:
    """The report counted now."""
    steps = STEPS.c
    cache: dict[Any, Any] = {}
    completed_steps = and_(q.where(user, steps.agency, steps.procedure), steps.status == StepStatus.COMPLETED,
                           steps.completed_at >= period.start, steps.completed_at < period.end)
    allowances, single = _allowances(catalog, q.procedure, cache)
    groups: dict[tuple[str, str], _Group] = defaultdict(_Group)
    if single and session.get_bind().dialect.name == "postgresql":
        _by_step(session, catalog, q, completed_steps, allowances, cache, groups)
    else:
        _by_version(session, catalog, completed_steps, allowances, cache, groups)
    _in_python(session, catalog, calendar, completed_steps, cache, groups)
    out = []
    for (procedure, step_id), group in groups.items():
        median, high = group.spread
        allowance = group.allowance
        out.append(BottleneckRow(
            procedure=procedure, step=step_id, unit=group.unit,
            allowance_hours=None if allowance is None else hours(allowance), completed=group.completed,
            median_hours=hours(median), p90_hours=hours(high),
            median_ratio=round(median / allowance, 3) if allowance else None,
            p90_ratio=round(high / allowance, 3) if allowance else None,
            over_allowance=group.over, late_steps=group.late))
    out.sort(key=lambda r: (r.p90_ratio is None, -(r.p90_ratio or 0), r.procedure, r.step))
    return BottleneckReport(period_from=period.start.isoformat(), period_to=period.end.isoformat(), steps=out)
