"""Gauges of open work read from the database at scrape time, so that every process agrees.

The counts come from the case and step rows the service writes; "overdue" is judged against the
injected clock (the watcher flags the same rows a little later). Export them from one process
per deployment (``eiso metrics serve``); dashboards take ``max without (instance)`` anyway.
"""

from __future__ import annotations

import logging
from collections import Counter
from collections.abc import Iterator
from datetime import datetime
from typing import Any

from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily
from prometheus_client.metrics_core import Metric
from prometheus_client.registry import Collector
from sqlalchemy import ColumnElement, Engine, case, func, or_, select
from sqlalchemy.exc import SQLAlchemyError

from engine.core.calendar import Calendar
from engine.core.clock import Clock
from engine.core.nonconformities import CASE_LATE, CASE_OVERDUE, STEP_LATE, STEP_OVERDUE
from engine.core.states import OPEN_STATUSES, StepStatus
from engine.reporting import ontime
from engine.reporting.conformance import ConformanceTables
from engine.reporting.period import month_of
from engine.reporting.steps import step_overdue
from engine.store.catalog import ProcedureCatalog
from engine.store.tables import CaseRow, CaseStepRow, NonconformityRow
from monitoring.conformance import ConformingRatio
from monitoring.conformance import family as conforming_family
from monitoring.labels import Labels

log = logging.getLogger("eiso.monitoring")
CASES: Any = CaseRow.__table__  # type: ignore[attr-defined]
STEPS: Any = CaseStepRow.__table__  # type: ignore[attr-defined]
NCS: Any = NonconformityRow.__table__  # type: ignore[attr-defined]


def open_overdue(end: datetime) -> ColumnElement[bool]:
    """A case late at ``end`` and not finished: the report's "open overdue" (``engine.reporting.ontime``)."""
    return ontime.sql(ontime.OPEN_OVERDUE, CASES.c, None, end)


# An overdue record becomes the late record (same key, new type); counting both kinds together
# gives a number that only grows: deadlines missed so far.
MISSED = {STEP_OVERDUE: "step", STEP_LATE: "step", CASE_OVERDUE: "case", CASE_LATE: "case"}


class DatabaseCollector(Collector):
    def __init__(self, engine: Engine, calendar: Calendar, catalog: ProcedureCatalog, clock: Clock, objective: float,
                 labels: Labels | None = None):
        self.engine = engine
        self.labels = labels if labels is not None else Labels.from_settings()
        self.calendar = calendar
        self.catalog = catalog
        self.clock = clock
        self.objective = objective
        self._seen: set[tuple[str, str]] = set()  # (agency, procedure) pairs whose missed series exist
        self._conforming = ConformingRatio(ConformanceTables(CASES, STEPS, NCS), calendar, catalog, self.labels)

    def describe(self) -> list[Metric]:
        # names only: registering must not query
        return [*self._families().values(), self._up(), self._working_time(None)]

    @staticmethod
    def _up() -> GaugeMetricFamily:
        return GaugeMetricFamily("eiso_database_up", "1 when the database answered the last scrape's queries")

    def _working_time(self, now: datetime | None) -> GaugeMetricFamily:
        family = GaugeMetricFamily("eiso_working_time", "1 when now is working time by the legal calendar "
                                   "(office hours of a working day, holidays and swapped days known), else 0")
        if now is not None:
            family.add_metric([], 1 if self.calendar.is_working_time(now) else 0)
        return family

    def collect(self) -> Iterator[Metric]:
        families = self._families()
        now = self.clock.now()
        yield self._working_time(now)  # the calendar needs no database: the office-hours alert keeps it
        up = self._up()
        try:
            with self.engine.connect() as conn:
                self._fill(conn, families, now)
        except SQLAlchemyError as err:
            log.warning("metrics: database unavailable: %s", str(err).splitlines()[0][:200])
            up.add_metric([], 0)
            yield up
            return
        up.add_metric([], 1)
        yield up
        yield from families.values()

    def _families(self) -> dict[str, Metric]:
        g, c = GaugeMetricFamily, CounterMetricFamily
        return {
            "cases_open": g("eiso_cases_open", "Cases open now (open, suspended, awaiting a supplement)",
                            labels=["agency", "procedure"]),
            "cases_overdue": g("eiso_cases_overdue", "Open cases past their due instant",
                               labels=["agency", "procedure"]),
            "steps_open": g("eiso_steps_open", "Steps active now: where cases wait",
                            labels=["agency", "procedure", "step"]),
            "steps_overdue": g("eiso_steps_overdue", "Active steps past their due instant",
                               labels=["agency", "procedure", "step"]),
            "resolved": g("eiso_cases_resolved_month", "Cases resolved in the current calendar month (Vietnam "
                          "time)", labels=["agency"]),
            "in_time": g("eiso_cases_in_time_month", "Cases resolved early or on time in the current month",
                         labels=["agency"]),
            "judged": g("eiso_cases_judged_month", "Cases judged this month: resolved in the month plus open past "
                        "their due (the on-time rate's denominator)", labels=["agency"]),
            "on_time": g("eiso_on_time_ratio", "On-time rate this month as `eiso report` counts it: (early + on "
                         "time) / (resolved + open overdue)", labels=["agency"]),
            "missed": c("eiso_deadlines_missed", "Deadlines missed so far (overdue or late records), kind step or "
                        "case", labels=["agency", "procedure", "kind"]),
            "allowance": g("eiso_step_allowance_working_hours", "Each step's time allowance in the newest version "
                           "in force of its procedure for each scope (`*`: every agency; else the agencies of the "
                           "deployment)", labels=["procedure", "scope", "step"]),
            "conforming": conforming_family(),
            "objective": g("eiso_quality_objective", "Share of cases to resolve early or on time "
                           "(EISO_QUALITY_OBJECTIVE)"),
        }

    def _fill(self, conn: Any, f: dict[str, Any], now: datetime) -> None:
        lb = self.labels
        open_cases: Counter[tuple[str, str]] = Counter()
        late_cases: Counter[tuple[str, str]] = Counter()
        for row in conn.execute(select(CASES.c.agency, CASES.c.procedure, func.count(),
                                       func.sum(case((open_overdue(now), 1), else_=0)))
                                .where(CASES.c.status.in_(OPEN_STATUSES)).group_by(CASES.c.agency, CASES.c.procedure)):
            key = (lb.agency(row[0]), lb.procedure(row[1]))
            open_cases[key] += row[2]
            late_cases[key] += row[3] or 0
        for key in sorted(open_cases):
            f["cases_open"].add_metric(list(key), open_cases[key])
            f["cases_overdue"].add_metric(list(key), late_cases[key])
        open_steps: Counter[tuple[str, str, str]] = Counter()
        late_steps: Counter[tuple[str, str, str]] = Counter()
        for row in conn.execute(select(STEPS.c.agency, STEPS.c.procedure, STEPS.c.step, func.count(),
                                       func.sum(case((step_overdue(STEPS.c, now), 1), else_=0)))
                                .where(STEPS.c.status == StepStatus.ACTIVE)
                                .group_by(STEPS.c.agency, STEPS.c.procedure, STEPS.c.step)):
            key3 = (lb.agency(row[0]), lb.procedure(row[1]), lb.step(row[2]))
            open_steps[key3] += row[3]
            late_steps[key3] += row[4] or 0
        for key3 in sorted(open_steps):
            f["steps_open"].add_metric(list(key3), open_steps[key3])
            f["steps_overdue"].add_metric(list(key3), late_steps[key3])
        self._month(conn, f, now)
        self._conforming.fill(conn, f["conforming"], now)
        # Every agency and procedure with open work (or seen before by this exporter) gets its series at zero,
        # so that the first miss is an increase; no scan of every case ever received at each scrape.
        self._seen |= set(open_cases)
        missed: Counter[tuple[str, str, str]] = Counter()
        for agency, procedure in self._seen:
            for kind in ("case", "step"):
                missed[(agency, procedure, kind)] += 0
        for row in conn.execute(select(NCS.c.agency, NCS.c.procedure, NCS.c.type, func.count())
                                .where(NCS.c.type.in_(tuple(MISSED)))
                                .group_by(NCS.c.agency, NCS.c.procedure, NCS.c.type)):
            missed[(lb.agency(row[0]), lb.procedure(row[1]), MISSED[row[2]])] += row[3]
        for key3, count in sorted(missed.items()):
            f["missed"].add_metric(list(key3), count)
        self._allowances(f["allowance"])
        f["objective"].add_metric([], self.objective)

    def _month(self, conn: Any, f: dict[str, Any], now: datetime) -> None:
        """The current month's timeliness per agency, as ``eiso report`` counts a period that ends now.

        The rule's own expressions (``engine.reporting.ontime``) over the month so far: resolved in it,
        in time among those, open overdue now (carried over included); rate = in time / judged.
        """
        month = month_of(now, self.calendar.zone)
        resolved = ontime.sql(ontime.RESOLVED, CASES.c, month.start, month.end)
        in_time = ontime.sql(ontime.IN_TIME, CASES.c, month.start, month.end)
        late_now = ontime.sql(ontime.OPEN_OVERDUE, CASES.c, month.start, month.end)
        counts: dict[str, Counter[str]] = {}
        for row in conn.execute(select(CASES.c.agency, func.sum(case((resolved, 1), else_=0)),
                                       func.sum(case((in_time, 1), else_=0)),
                                       func.sum(case((late_now, 1), else_=0)))
                                .where(or_(resolved, late_now)).group_by(CASES.c.agency)):
            c = counts.setdefault(self.labels.agency(row[0]), Counter())
            c["resolved"] += row[1] or 0
            c["in_time"] += row[2] or 0
            c["open_overdue"] += row[3] or 0
        for agency, c in sorted(counts.items()):
            judged = c["resolved"] + c["open_overdue"]
            f["resolved"].add_metric([agency], c["resolved"])
            f["in_time"].add_metric([agency], c["in_time"])
            f["judged"].add_metric([agency], judged)
            if judged:
                f["on_time"].add_metric([agency], c["in_time"] / judged)

    def _allowances(self, family: GaugeMetricFamily) -> None:
        newest: dict[tuple[str, str], int] = {}  # versions are numbered per code and scope
        for row in self.catalog.versions():
            if row.retired_at is None:
                newest[(row.code, row.scope)] = max(newest.get((row.code, row.scope), 0), row.version)
        allowances: dict[tuple[str, str, str], float] = {}  # beyond the label bounds, "other" shows one allowance
        for (code, scope), version in sorted(newest.items()):
            for step in self.catalog.get(code, version, scope).definition.steps.values():
                if step.allowance_seconds is not None:
                    key = (self.labels.procedure(code), self.labels.scope(scope), self.labels.step(step.step_id))
                    allowances.setdefault(key, step.allowance_seconds / 3600)
        for key, hours in sorted(allowances.items()):
            family.add_metric(list(key), hours)
