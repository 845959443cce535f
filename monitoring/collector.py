"""Gauges of open work read from the database at scrape time, so that every process agrees.

The counts come from the case and step rows the service writes; "overdue" is judged against the
injected clock (the watcher flags the same rows a little later). Export them from one process
per deployment (``eiso metrics serve``); dashboards take ``max without (instance)`` anyway.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from datetime import datetime
from typing import Any

from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily
from prometheus_client.metrics_core import Metric
from prometheus_client.registry import Collector
from sqlalchemy import Engine, and_, case, func, or_, select
from sqlalchemy.exc import SQLAlchemyError

from engine.core.case import AWAITING_SUPPLEMENT, EARLY, ON_TIME, OPEN, SUSPENDED
from engine.core.nonconformities import CASE_LATE, CASE_OVERDUE, STEP_LATE, STEP_OVERDUE
from engine.store.catalog import ProcedureCatalog
from engine.store.tables import CaseRow, CaseStepRow, NonconformityRow
from monitoring.metrics import label

log = logging.getLogger("eiso.monitoring")
CASES: Any = CaseRow.__table__  # type: ignore[attr-defined]
STEPS: Any = CaseStepRow.__table__  # type: ignore[attr-defined]
NCS: Any = NonconformityRow.__table__  # type: ignore[attr-defined]
OPEN_STATUSES = (OPEN, SUSPENDED, AWAITING_SUPPLEMENT)
# An overdue record becomes the late record (same key, new type); counting both kinds together
# gives a number that only grows: deadlines missed so far.
MISSED = {STEP_OVERDUE: "step", STEP_LATE: "step", CASE_OVERDUE: "case", CASE_LATE: "case"}


class DatabaseCollector(Collector):
    def __init__(self, engine: Engine, calendar: Any, catalog: ProcedureCatalog, clock: Any, objective: float):
        self.engine = engine
        self.calendar = calendar
        self.catalog = catalog
        self.clock = clock
        self.objective = objective
        self._seen: set[tuple[str, str]] = set()  # (agency, procedure) pairs whose missed series exist

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
                           "of its procedure", labels=["procedure", "step"]),
            "objective": g("eiso_quality_objective", "Share of cases to resolve early or on time "
                           "(EISO_QUALITY_OBJECTIVE)"),
        }

    def _fill(self, conn: Any, f: dict[str, Any], now: datetime) -> None:
        open_case = CASES.c.status.in_(OPEN_STATUSES)
        late_case = and_(open_case, or_(CASES.c.overdue_flagged.is_(True), CASES.c.due_at < now))
        seen: set[tuple[str, str]] = set()
        for row in conn.execute(select(CASES.c.agency, CASES.c.procedure, func.count(),
                                       func.sum(case((late_case, 1), else_=0)))
                                .where(open_case).group_by(CASES.c.agency, CASES.c.procedure)):
            f["cases_open"].add_metric([label(row[0]), label(row[1])], row[2])
            f["cases_overdue"].add_metric([label(row[0]), label(row[1])], row[3] or 0)
            seen.add((label(row[0]), label(row[1])))
        active = STEPS.c.status == "active"
        late_step = or_(STEPS.c.overdue_flagged.is_(True), and_(STEPS.c.running.is_(True), STEPS.c.due_at < now))
        for row in conn.execute(select(STEPS.c.agency, STEPS.c.procedure, STEPS.c.step, func.count(),
                                       func.sum(case((late_step, 1), else_=0)))
                                .where(active).group_by(STEPS.c.agency, STEPS.c.procedure, STEPS.c.step)):
            labels = [label(row[0]), label(row[1]), label(row[2])]
            f["steps_open"].add_metric(labels, row[3])
            f["steps_overdue"].add_metric(labels, row[4] or 0)
        self._month(conn, f, now)
        # Every agency and procedure with open work (or seen before by this exporter) gets its series at zero,
        # so that the first miss is an increase; no scan of every case ever received at each scrape.
        self._seen |= seen
        missed: dict[tuple[str, str, str], int] = {}
        for agency, procedure in self._seen:
            for kind in ("case", "step"):
                missed[(agency, procedure, kind)] = 0
        for row in conn.execute(select(NCS.c.agency, NCS.c.procedure, NCS.c.type, func.count())
                                .where(NCS.c.type.in_(tuple(MISSED)))
                                .group_by(NCS.c.agency, NCS.c.procedure, NCS.c.type)):
            key = (label(row[0]), label(row[1]), MISSED[row[2]])
            missed[key] = missed.get(key, 0) + row[3]
        for key, count in sorted(missed.items()):
            f["missed"].add_metric(list(key), count)
        self._allowances(f["allowance"])
        f["objective"].add_metric([], self.objective)

    def _month(self, conn: Any, f: dict[str, Any], now: datetime) -> None:
        """The current month's timeliness per agency, as ``eiso report`` counts a period that ends now.

        resolved = resolved in the month (a resolved case without a timeliness counts on time, as in the
        report); open overdue = not resolved nor closed, past its due now, whenever received (carried over);
        on-time rate = (early + on time) / (resolved + open overdue).
        """
        local = self.calendar.local(now)
        month_start = local.replace(day=1, hour=0, minute=0, second=0, microsecond=0)
        resolved = and_(CASES.c.resolved_at.is_not(None), CASES.c.resolved_at >= month_start,
                        CASES.c.resolved_at < now)
        in_time = and_(resolved, or_(CASES.c.timeliness.is_(None), CASES.c.timeliness.in_((EARLY, ON_TIME))))
        open_overdue = and_(CASES.c.received_at < now, CASES.c.due_at.is_not(None), CASES.c.due_at < now,
                            or_(CASES.c.resolved_at.is_(None), CASES.c.resolved_at >= now),
                            or_(CASES.c.closed_at.is_(None), CASES.c.closed_at >= now))
        counted = or_(resolved, open_overdue)
        for row in conn.execute(select(CASES.c.agency, func.sum(case((resolved, 1), else_=0)),
                                       func.sum(case((in_time, 1), else_=0)),
                                       func.sum(case((open_overdue, 1), else_=0)))
                                .where(counted).group_by(CASES.c.agency)):
            agency, n_resolved, n_in_time, n_open_overdue = label(row[0]), row[1] or 0, row[2] or 0, row[3] or 0
            judged = n_resolved + n_open_overdue
            f["resolved"].add_metric([agency], n_resolved)
            f["in_time"].add_metric([agency], n_in_time)
            f["judged"].add_metric([agency], judged)
            if judged:
                f["on_time"].add_metric([agency], n_in_time / judged)

    def _allowances(self, family: GaugeMetricFamily) -> None:
        newest: dict[str, int] = {}
        for row in self.catalog.versions():
            if row.retired_at is None:
                newest[row.code] = max(newest.get(row.code, 0), row.version)
        for code, version in sorted(newest.items()):
            for step in self.catalog.get(code, version).definition.steps.values():
                if step.allowance_seconds is not None:
                    family.add_metric([label(code), label(step.step_id)], step.allowance_seconds / 3600)
