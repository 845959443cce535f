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

The working times come from the step rows' ``worked_seconds`` (kept when a step completes, the same
``worked``), and the median and 90th percentile are taken in SQL: on PostgreSQL by its ordered-set
aggregates (``ordered_spread``), elsewhere by ranks (``Ranked``: each completed step's rank among its
group's, then the middle one or two and the ``p90`` one); a group holding a row completed before that
column existed (NULL) is counted in Python as before.

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

from sqlalchemy import ColumnElement, Table, and_, case, func, or_, select
from sqlalchemy.orm import Session

from engine.core.calendar import Calendar
from engine.core.procedure import LoadedProcedure
from engine.core.states import OPEN_STATUSES, StepStatus, Timeliness
from engine.core.step_time import worked
from engine.reporting.period import Period

__all__ = ["OK_BELOW", "P90_FRACTION", "WARN_BELOW", "Level", "Parts", "Ranked", "StepStatistics", "StepTables",
           "breach_rate", "hours", "level", "ordered_spread", "p90", "spread", "step_overdue", "step_statistics",
           "worked"]

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


def spread(values: Sequence[int]) -> tuple[float, int]:
    """The median and the 90th percentile (``p90``) of working times, sorted."""
    return statistics.median(values), p90(values)


class Ranked:
    """Each completed step's rank among the working times of its group (``partition``), in SQL.

    ``rank`` (from 1, labelled ``step_rank``) and ``size`` (``group_size``) are window columns to select
    beside the working time; over the subquery, ``middle`` holds for the one (odd size) or two (even
    size) rows the median is the mean of, and ``high`` for the row ``p90`` takes: index ``int(0.9 * n)``
    of the sorted values, which is ``9 * n // 10`` in integers (and never past the last one). ``Parts``
    puts a group's pieces together.
    """

    def __init__(self, seconds: Any, partition: Sequence[Any]):
        self.rank = func.row_number().over(partition_by=list(partition), order_by=seconds).label("step_rank")
        self.size = func.count().over(partition_by=list(partition)).label("group_size")

    @staticmethod
    def middle(columns: Any) -> ColumnElement[bool]:
        return or_(columns.step_rank == (columns.group_size + 1) // 2,
                   columns.step_rank == (columns.group_size + 2) // 2)

    @staticmethod
    def high(columns: Any) -> ColumnElement[bool]:
        high: ColumnElement[bool] = columns.step_rank == (columns.group_size * 9) // 10 + 1
        return high

    @classmethod
    def aggregates(cls, columns: Any, seconds: Any) -> list[Any]:
        """Per SQL group: the sum and the count of its middle rows' seconds, its ``p90`` row's seconds."""
        return [func.sum(case((cls.middle(columns), seconds))), func.sum(case((cls.middle(columns), 1), else_=0)),
                func.max(case((cls.high(columns), seconds)))]


# PostgreSQL's percentile_disc(f) takes the value at 1-based position ceil(f * n): with f a hair above 0.9
# that is int(0.9 * n) + 1, the value ``p90`` takes (for every n below 10^8: 0.9 * n is a whole number or at
# least a tenth from one). percentile_cont(0.5) is the median: the middle value, or the mean of the two.
P90_FRACTION = 0.900000001


def ordered_spread(seconds: Any) -> list[Any]:
    """PostgreSQL: a group's median and ``p90`` of ``seconds`` as two ordered-set aggregates (NULLs left out)."""
    return [func.percentile_cont(0.5).within_group(seconds), func.percentile_disc(P90_FRACTION).within_group(seconds)]


@dataclass
class Parts:
    """A group's median and 90th percentile from ``Ranked.aggregates``, summed over SQL groups that split it."""

    middle_sum: int = 0
    middle_count: int = 0
    high: int | None = None

    def add(self, middle_sum: Any, middle_count: Any, high: Any) -> None:
        self.middle_sum += int(middle_sum or 0)
        self.middle_count += int(middle_count or 0)
        if high is not None:
            self.high = int(high)

    def spread(self) -> tuple[float, int]:
        """As ``spread`` of the sorted values: the middle one, or the mean of the middle two."""
        if self.high is None or self.middle_count not in (1, 2):
            raise ValueError("not one whole group of completed steps")
        return (self.middle_sum if self.middle_count == 1 else self.middle_sum / 2), self.high


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
    # The step row's own procedure (its case's) as well: the step table is read first, by it.
    of_version = and_(where, steps.procedure == code, cases.procedure == code, cases.procedure_version == version,
                      cases.procedure_scope == scope)
    open_now: dict[str, tuple[int, int]] = {}
    for step_id, waiting, overdue in session.execute(
            select(steps.step, func.count(), func.sum(case((step_overdue(steps, now), 1), else_=0)))
            .select_from(joined)
            .where(of_version, steps.status == StepStatus.ACTIVE, cases.status.in_(OPEN_STATUSES))
            .group_by(steps.step)):
        open_now[step_id] = (int(waiting), int(overdue or 0))
    completed_steps = and_(of_version, steps.status == StepStatus.COMPLETED, steps.completed_at >= period.start,
                           steps.completed_at < period.end)
    seconds = steps.worked_seconds
    late_step = case((steps.timeliness == Timeliness.LATE, 1), else_=0)
    if session.get_bind().dialect.name == "postgresql":
        grouped = (select(steps.step, func.count(), func.count(seconds), func.sum(late_step), *ordered_spread(seconds))
                   .select_from(joined).where(completed_steps).group_by(steps.step))
    else:
        ranked = Ranked(seconds, [steps.step])
        rows = (select(steps.step, seconds.label("seconds"), late_step.label("late"), ranked.rank, ranked.size)
                .select_from(joined).where(completed_steps).subquery())
        grouped = (select(rows.c.step, func.count(), func.count(rows.c.seconds), func.sum(rows.c.late),
                          *Ranked.aggregates(rows.c, rows.c.seconds)).group_by(rows.c.step))
    tally: dict[str, tuple[int, int]] = {}
    times: dict[str, tuple[float, int]] = {}
    unknown: list[str] = []
    for step_id, completed, known, late, *pieces in session.execute(grouped):
        tally[step_id] = (int(completed), int(late or 0))
        if known < completed:
            unknown.append(step_id)
        elif len(pieces) == 2:
            times[step_id] = (float(pieces[0]), int(pieces[1]))
        else:
            parts = Parts()
            parts.add(*pieces)
            times[step_id] = parts.spread()
    if unknown:  # steps completed before their working time was kept (migration 0015): counted here
        values: dict[str, list[int]] = {}
        for step_id, kept, activated_at, completed_at in session.execute(
                select(steps.step, seconds, steps.activated_at, steps.completed_at)
                .select_from(joined).where(completed_steps, steps.step.in_(unknown))):
            values.setdefault(step_id, []).append(kept if kept is not None
                                                  else worked(calendar, activated_at, completed_at))
        times |= {step_id: spread(sorted(found)) for step_id, found in values.items()}
    out = []
    for definition in catalog.get(code, version, scope).definition.steps.values():
        waiting, overdue = open_now.get(definition.step_id, (0, 0))
        completed, completed_late = tally.get(definition.step_id, (0, 0))
        median, high = times.get(definition.step_id, (None, None))
        rate = breach_rate(completed, completed_late, overdue)
        allowance = definition.allowance_seconds
        out.append(StepStatistics(
            step=definition.step_id, name=definition.name, unit=definition.unit,
            allowance_hours=None if allowance is None else hours(allowance), waiting=waiting, overdue=overdue,
            completed=completed, completed_late=completed_late,
            median_hours=None if median is None else hours(median), p90_hours=None if high is None else hours(high),
            breach_rate=None if rate is None else round(rate, 4), level=level(rate)))
    return out
