"""The gauge ``eiso_cases_conforming_ratio{agency,procedure}``: the share of the cases closed this month that
followed their procedure (``engine.reporting.conformance``: they fit the procedure's model, no deviation).

A closed case's steps no longer change, so each case is replayed once: the exporter keeps the month's
judged cases, and at a scrape reads only the cases closed since the latest it knows (less an hour, for
transactions that commit late). When the month's count of closed cases still disagrees (a case closed
earlier than that committed later), or the month turns, it starts the month again.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from prometheus_client.core import GaugeMetricFamily
from sqlalchemy import func, select, true

from engine.core.calendar import Calendar
from engine.core.states import CLOSED_STATUSES
from engine.reporting.conformance import ConformanceTables, Models, Versions, case_traces
from engine.reporting.period import Period, month_of
from monitoring.labels import Labels

__all__ = ["LATE_COMMITS", "ConformingRatio", "family"]

LATE_COMMITS = timedelta(hours=1)


def family() -> GaugeMetricFamily:
    return GaugeMetricFamily("eiso_cases_conforming_ratio", "Share of the cases closed this month (calendar zone) "
                             "that followed their procedure: fit its model by token replay, no deviation",
                             labels=["agency", "procedure"])


class ConformingRatio:
    def __init__(self, tables: ConformanceTables, calendar: Calendar, catalog: Versions, labels: Labels):
        self.tables, self.calendar, self.labels = tables, calendar, labels
        self.models = Models(catalog)
        self._month: datetime | None = None
        self._judged: dict[str, tuple[str, str, bool]] = {}  # case id -> (agency, procedure, conforming)
        self._latest: datetime | None = None

    def fill(self, conn: Any, target: GaugeMetricFamily, now: datetime) -> None:
        month = month_of(now, self.calendar.zone)
        if month.start != self._month:
            self._month, self._judged, self._latest = month.start, {}, None
        closed = self._closed(conn, month)
        if closed != len(self._judged):
            since = month.start if self._latest is None else max(month.start, self._latest - LATE_COMMITS)
            self._read(conn, Period(since, month.end))
            if closed != len(self._judged):  # something closed long before it committed: the month again
                self._judged, self._latest = {}, None
                self._read(conn, month)
        for labels, ratio in self._ratios().items():
            target.add_metric(list(labels), ratio)

    def _closed(self, conn: Any, month: Period) -> int:
        cases = self.tables.cases.c
        return int(conn.execute(select(func.count()).where(
            cases.status.in_(sorted(CLOSED_STATUSES)), cases.closed_at >= month.start,
            cases.closed_at < month.end)).scalar_one())

    def _read(self, conn: Any, period: Period) -> None:
        for case in case_traces(conn, self.tables, true(), period, self.calendar):
            if case.case_id not in self._judged:
                self._judged[case.case_id] = (case.agency, case.procedure, self.models.replayed(case).conforming)
            if case.closed_at is not None and (self._latest is None or case.closed_at > self._latest):
                self._latest = case.closed_at

    def _ratios(self) -> dict[tuple[str, str], float]:
        summed: dict[tuple[str, str], list[int]] = {}
        for agency, procedure, conforming in self._judged.values():
            n = summed.setdefault((self.labels.agency(agency), self.labels.procedure(procedure)), [0, 0])
            n[0] += conforming
            n[1] += 1
        return {key: n[0] / n[1] for key, n in sorted(summed.items())}
