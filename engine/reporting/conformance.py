"""Conformance per procedure and period: how the cases finished in the period followed their procedure.

Computed on demand from the store's rows, never stored: a case's trace is its completed step rows in the
order they completed (``case_step``, as ``engine.core.conformance.trace_of`` reads a live case), with the
activities the procedure does not have (``unknown_step`` records of completions) put in their place; the
same for live and replayed cases. Each distinct (version, trace) is replayed once.

The cases judged are those *finished* in the period [start, end): closed (returned, withdrawn, rejected,
stopped) in it. A returned case is judged whole, its end included; a case that ended early (withdrawn,
rejected, stopped) on what it did (its end is not a deviation). Per procedure:

* ``conformance_rate`` = conforming cases / cases judged (fit, no deviation);
* ``log_fitness`` and ``fitting_share``: pm4py's token-based replay measures of the same cases;
* the most common deviations (kind, step, cases), the variants (paths) with counts and the median working
  time of their cases (from the case clock's start to the last completion, by the legal calendar);
* rework: the cases with a repeated step and the working hours spent repeating.

The store's tables are handed in (``ConformanceTables``): this layer does not import the store.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Iterator
from dataclasses import dataclass, field, replace
from datetime import datetime
from typing import Any, Protocol

from sqlalchemy import ColumnElement, Table, and_, select
from sqlalchemy.orm import Session

from engine.core.calendar import Calendar
from engine.core.conformance import CaseConformance, Observed, ProcedureModel, log_fitness, rework_seconds, variants
from engine.core.procedure import LoadedProcedure
from engine.core.states import CLOSED_STATUSES, CaseStatus, StepStatus
from engine.reporting.period import Period
from engine.reporting.steps import hours

__all__ = ["TOP", "CaseTrace", "ConformanceTables", "Models", "Versions", "case_results", "case_traces",
           "conformance_report", "conforming_counts"]

TOP = 10  # deviations and variants listed per procedure
UNKNOWN_STEP = "unknown_step"
STEP_COMPLETED = "step.completed"


@dataclass(frozen=True)
class ConformanceTables:
    """The store's ``cases``, ``case_step`` and ``nonconformity`` tables."""

    cases: Table
    steps: Table
    nonconformities: Table


class Versions(Protocol):
    def get(self, code: str, version: int, scope: str = ...) -> LoadedProcedure: ...


@dataclass
class CaseTrace:
    case_id: str
    agency: str
    procedure: str
    version: int
    scope: str
    complete: bool
    started_at: datetime
    observed: list[tuple[datetime, int, Observed]] = field(default_factory=list)  # (completed, order, step)
    working_seconds: int | None = None
    closed_at: datetime | None = None

    def trace(self) -> list[Observed]:
        return [o for _, _, o in sorted(self.observed, key=lambda x: (x[0], x[1]))]


class Models:
    """One net per procedure version, and one replay per distinct trace of it."""

    def __init__(self, catalog: Versions):
        self.catalog = catalog
        self._models: dict[tuple[str, int, str], ProcedureModel] = {}
        self._checked: dict[tuple[Any, ...], CaseConformance] = {}

    def model(self, code: str, version: int, scope: str) -> ProcedureModel:
        key = (code, version, scope)
        if key not in self._models:
            self._models[key] = ProcedureModel(self.catalog.get(code, version, scope).definition)
        return self._models[key]

    def replayed(self, case: CaseTrace) -> CaseConformance:
        """The case's conformance without its rework time (one replay per distinct trace)."""
        steps = tuple(o.step for o in case.trace())
        key = (case.procedure, case.version, case.scope, case.complete, steps)
        if key not in self._checked:
            model = self.model(case.procedure, case.version, case.scope)
            self._checked[key] = model.check(steps, complete=case.complete)
        return self._checked[key]

    def check(self, case: CaseTrace, calendar: Calendar) -> CaseConformance:
        result = self.replayed(case)
        return replace(result, rework_seconds=rework_seconds(case.trace(), result, calendar))


def case_traces(session: Session, tables: ConformanceTables, where: ColumnElement[bool], period: Period,
                calendar: Calendar) -> Iterator[CaseTrace]:
    """The cases closed in the period that ``where`` keeps (a clause over ``tables.cases``), with their traces."""
    cases, steps, ncs = tables.cases.c, tables.steps.c, tables.nonconformities.c
    closed = and_(where, cases.status.in_(sorted(CLOSED_STATUSES)), cases.closed_at >= period.start,
                  cases.closed_at < period.end)
    found: dict[str, CaseTrace] = {}
    for row in session.execute(select(cases.case_id, cases.agency, cases.procedure, cases.procedure_version,
                                      cases.procedure_scope, cases.status, cases.started_at, cases.resolved_at,
                                      cases.closed_at).where(closed)):
        found[row.case_id] = CaseTrace(row.case_id, row.agency, row.procedure, row.procedure_version,
                                       row.procedure_scope, row.status == CaseStatus.RETURNED, row.started_at)
        found[row.case_id].closed_at = row.closed_at
        end = row.resolved_at or row.closed_at
        found[row.case_id].working_seconds = calendar.between(row.started_at, end) if end > row.started_at else 0
    if not found:
        return
    ids = select(cases.case_id).where(closed)
    for done in session.execute(select(steps.case_id, steps.seq, steps.step, steps.activated_at, steps.completed_at)
                                .where(steps.case_id.in_(ids), steps.status == StepStatus.COMPLETED)):
        found[done.case_id].observed.append((done.completed_at, done.seq, Observed(done.step, done.completed_at,
                                                                                    done.activated_at)))
    for nc in session.execute(select(ncs.case_id, ncs.step, ncs.actual_at, ncs.detected_at, ncs.details)
                              .where(ncs.case_id.in_(ids), ncs.type == UNKNOWN_STEP)):
        if (nc.details or {}).get("event_type", STEP_COMPLETED) == STEP_COMPLETED and nc.step:
            at = nc.actual_at or nc.detected_at
            found[nc.case_id].observed.append((at, -1, Observed(nc.step, at)))
    yield from found.values()


def conforming_counts(session: Session, tables: ConformanceTables, where: ColumnElement[bool], period: Period,
                      calendar: Calendar, models: Models) -> dict[tuple[str, str], tuple[int, int]]:
    """(agency, procedure) -> (conforming cases, cases judged), for the cases closed in the period."""
    counts: dict[tuple[str, str], list[int]] = defaultdict(lambda: [0, 0])
    for case in case_traces(session, tables, where, period, calendar):
        judged = counts[(case.agency, case.procedure)]
        judged[0] += models.replayed(case).conforming
        judged[1] += 1
    return {key: (n[0], n[1]) for key, n in sorted(counts.items())}


def case_results(session: Session, tables: ConformanceTables, where: ColumnElement[bool], period: Period,
                 calendar: Calendar, catalog: Versions, limit: int = 1000, offset: int = 0) -> list[dict[str, Any]]:
    """Each case closed in the period, by case id (``offset``, ``limit``): its fitness, whether it conforms, its
    deviations (kind, step, position in its trace; none for a step a finished case never did) and rework."""
    models = Models(catalog)
    cases = sorted(case_traces(session, tables, where, period, calendar), key=lambda c: c.case_id)
    out = []
    for case in cases[offset:offset + limit]:
        result = models.check(case, calendar)
        out.append({"case_id": case.case_id, "agency": case.agency, "procedure": case.procedure,
                    "procedure_version": case.version, "whole": case.complete,
                    "steps": [o.step for o in case.trace()], "fitness": round(result.fitness, 4),
                    "fits": result.fits, "conforming": result.conforming,
                    "deviations": [{"kind": d.kind.value, "step": d.step, "position": d.position}
                                   for d in result.deviations],
                    "rework_hours": hours(result.rework_seconds)})
    return out


def conformance_report(session: Session, tables: ConformanceTables, where: ColumnElement[bool], period: Period,
                       calendar: Calendar, catalog: Versions, top: int = TOP) -> list[dict[str, Any]]:
    """One entry per procedure with cases closed in the period, by procedure code."""
    models = Models(catalog)
    by_procedure: dict[str, list[tuple[CaseTrace, CaseConformance]]] = defaultdict(list)
    for case in case_traces(session, tables, where, period, calendar):
        by_procedure[case.procedure].append((case, models.check(case, calendar)))
    return [_summary(code, judged, top) for code, judged in sorted(by_procedure.items())]


def _summary(code: str, judged: list[tuple[CaseTrace, CaseConformance]], top: int) -> dict[str, Any]:
    results = [r for _, r in judged]
    fitness = log_fitness(results)
    conforming = sum(r.conforming for r in results)
    deviations: Counter[tuple[str, str]] = Counter()
    for result in results:
        deviations.update({(d.kind.value, d.step) for d in result.deviations})  # cases, not occurrences
    conforming_paths: dict[tuple[str, ...], bool] = {}
    for case, result in judged:
        conforming_paths[tuple(o.step for o in case.trace())] = result.conforming
    found = variants((tuple(o.step for o in case.trace()), case.working_seconds) for case, _ in judged)
    reworked = [r for r in results if r.rework_seconds or any(d.kind == "step_repeated" for d in r.deviations)]
    return {
        "procedure": code,
        "cases": len(results),
        "conforming": conforming,
        "conformance_rate": round(conforming / len(results), 4),
        "fitting": fitness.fitting,
        "fitting_share": round(fitness.fitting_share, 4),
        "log_fitness": round(fitness.log_fitness, 4),
        "average_fitness": round(fitness.average_fitness, 4),
        "cases_with_rework": len(reworked),
        "rework_hours": hours(sum(r.rework_seconds for r in results)),
        "deviations": [{"kind": kind, "step": step, "cases": n}
                       for (kind, step), n in sorted(deviations.items(), key=lambda x: (-x[1], x[0]))[:top]],
        "variants": [{"path": list(v.path), "cases": v.count, "conforming": conforming_paths[v.path],
                      "median_hours": None if v.median_working_seconds is None else hours(v.median_working_seconds)}
                     for v in found[:top]],
        "variant_count": len(found),
    }
