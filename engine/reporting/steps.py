"""Step statistics: how each task of one procedure version fares, for the diagram's overlays; defined once.

For one version (code, scope, version), an agency filter and a period [start, end), each task of the
version's BPMN gets (tasks nothing ever reached included, with zero counts):

* ``waiting``: its active step rows of cases still open (open, suspended, awaiting a supplement), now;
* ``overdue``: of those, the ones past their due now (``step_overdue``: the clock running and the due
  before now; a paused step has no due, as a paused case);
* ``completed`` and ``completed_late``: its step rows completed in the period, and those of them late;
* ``median_hours`` and ``p90_hours``: the working time of those completed steps (``worked``: from
  activation to completion by the legal calendar; ``p90``), none when nothing completed;
* ``allowance_hours``: the task's allowance in that version;
* ``breach_rate`` = (completed late + overdue) / (completed + overdue), none when nothing is judged;
* ``level``: the breach rate as a colour: ``ok`` below ``OK_BELOW``, ``warn`` below ``WARN_BELOW``, ``bad``
  from there, ``none`` without a rate (judged on the exact rate, never on a rounded one).

The API's bottleneck report uses ``worked`` and ``p90`` too, and the metrics collector ``step_overdue``.
The rule reads the store's ``case_step`` and ``cases`` tables, handed in as ``StepTables`` (the store
is this layer's sibling, not imported here), through a SQLAlchemy session; the agency filter is a SQL
clause over the step table's ``agency`` column, built by the caller (the API's user scope and ``agency``).
"""

from __future__ import annotations

import statistics
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import Any, Protocol

from sqlalchemy import ColumnElement, Table, and_, case, func, select
from sqlalchemy.orm import Session

from engine.core.calendar import Calendar
from engine.core.procedure import LoadedProcedure
from engine.core.states import OPEN_STATUSES, StepStatus, Timeliness
from engine.reporting.period import Period

__all__ = ["OK_BELOW", "WARN_BELOW", "Level", "StepStatistics", "StepTables", "breach_rate", "hours", "level",
           "p90", "step_overdue", "step_statistics", "worked"]

# The breach rate's colours: ok below 5 %, warn below 20 %, bad from 20 %.
OK_BELOW = 0.05
WARN_BELOW = 0.20


class Level(StrEnum):
    NONE = "none"
    OK = "ok"
    WARN = "warn"
    BAD = "bad"


def p90(values: Sequence[int]) -> int:
    """The 90th percentile as ``eiso report`` takes it (of sorted values)."""
    return values[min(len(values) - 1, int(0.9 * len(values)))]


def worked(calendar: Calendar, activated_at: datetime, completed_at: datetime) -> int:
    """A completed step's working time, in seconds: from its activation to its completion."""
    return calendar.between(activated_at, completed_at)


def hours(seconds: float) -> float:
    """Working seconds as the reports show hours: two decimals."""
    return round(seconds / 3600, 2)


def step_overdue(columns: Any, now: datetime) -> ColumnElement[bool]:
    """An active step past its due now, its clock running (a paused step has no due, as a paused case).

    ``columns``: the step table's (or an alias's) ``.c``. The watcher flags the same rows a little later.
    """
    return and_(columns.running.is_(True), columns.due_at.is_not(None), columns.due_at < now)


def breach_rate(completed: int, completed_late: int, overdue: int) -> float | None:
    """(completed late + overdue) / (completed + overdue), exact; None when nothing is judged."""
    judged = completed + overdue
    return (completed_late + overdue) / judged if judged else None


def level(rate: float | None) -> Level:
    if rate is None:
        return Level.NONE
    if rate < OK_BELOW:
        return Level.OK
    if rate < WARN_BELOW:
        return Level.WARN
    return Level.BAD


@dataclass(frozen=True)
class StepStatistics:
    """One task of the version. ``step`` is its BPMN element id, as the step rows and the diagram name it."""

    step: str
    name: str
    unit: str | None
    allowance_hours: float | None
    waiting: int
    overdue: int
    completed: int
    completed_late: int
    median_hours: float | None
    p90_hours: float | None
    breach_rate: float | None  # rounded to 4 places, as the on-time rate
    level: Level


@dataclass(frozen=True)
class StepTables:
    """The store's ``case_step`` and ``cases`` tables (``engine.store.cases.STEPS`` and ``CASES``)."""

    steps: Table
    cases: Table


class Versions(Protocol):
    """What the rule needs of the procedure catalog: one version's definition."""

    def get(self, code: str, version: int, scope: str = ...) -> LoadedProcedure: ...


def step_statistics(session: Session, tables: StepTables, where: ColumnElement[bool], code: str, version: int,
                    scope: str, period: Period, calendar: Calendar, catalog: Versions,
                    now: datetime) -> list[StepStatistics]:
    """Each task of version ``version`` of procedure ``code`` deployed for ``scope`` (a scope key), in the
    order of its BPMN file; counts over the step rows that ``where`` keeps (an agency filter over
    ``tables.steps.c.agency``, or ``true()``) of that version's cases. ``waiting`` and ``overdue`` are
    as of ``now`` whatever the period; the completed figures are the period's."""
    steps, cases = tables.steps.c, tables.cases.c
    joined = tables.steps.join(tables.cases, cases.case_id == steps.case_id)
    of_version = and_(where, cases.procedure == code, cases.procedure_version == version,
                      cases.procedure_scope == scope)
    open_now: dict[str, tuple[int, int]] = {}
    for step_id, waiting, overdue in session.execute(
            select(steps.step, func.count(), func.sum(case((step_overdue(steps, now), 1), else_=0)))
            .select_from(joined)
            .where(of_version, steps.status == StepStatus.ACTIVE, cases.status.in_(OPEN_STATUSES))
            .group_by(steps.step)):
        open_now[step_id] = (int(waiting), int(overdue or 0))
    times: dict[str, list[int]] = {}
    late: dict[str, int] = {}
    for step_id, activated_at, completed_at, timeliness in session.execute(
            select(steps.step, steps.activated_at, steps.completed_at, steps.timeliness)
            .select_from(joined)
            .where(of_version, steps.status == StepStatus.COMPLETED, steps.completed_at >= period.start,
                   steps.completed_at < period.end)):
        times.setdefault(step_id, []).append(worked(calendar, activated_at, completed_at))
        late[step_id] = late.get(step_id, 0) + (timeliness == Timeliness.LATE)
    out = []
    for definition in catalog.get(code, version, scope).definition.steps.values():
        waiting, overdue = open_now.get(definition.step_id, (0, 0))
        values = sorted(times.get(definition.step_id, []))
        completed, completed_late = len(values), late.get(definition.step_id, 0)
        rate = breach_rate(completed, completed_late, overdue)
        allowance = definition.allowance_seconds
        out.append(StepStatistics(
            step=definition.step_id, name=definition.name, unit=definition.unit,
            allowance_hours=None if allowance is None else hours(allowance), waiting=waiting, overdue=overdue,
            completed=completed, completed_late=completed_late,
            median_hours=hours(statistics.median(values)) if values else None,
            p90_hours=hours(p90(values)) if values else None,
            breach_rate=None if rate is None else round(rate, 4), level=level(rate)))
    return out
