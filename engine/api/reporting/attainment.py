"""Attainment of the quality objective per month, agency and procedure.

Each calendar month counted as ``eiso report`` counts a period, by the one rule of
``engine.reporting.ontime``: received in the month; resolved in the month, early, on time or
late; open overdue at the month's end; on-time rate = (early + on time) / (resolved + open
overdue); the objective is met when the exact rate reaches it.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from typing import Any

from pydantic import BaseModel
from sqlmodel import Session, col, or_, select

from engine.api.deps import Principal
from engine.api.reporting.common import Period, ReportQuery
from engine.reporting import ontime
from engine.reporting.tables import Kind, Table
from engine.store.tables import CaseRow

COLUMNS = ["month", "agency", "procedure", "received", "resolved", "early", "on_time", "late", "open_overdue",
           "on_time_rate", "meets_objective"]
KINDS: dict[str, Kind] = {"on_time_rate": "rate", "meets_objective": "yes_no"}


class AttainmentRow(BaseModel):
    month: str
    agency: str
    procedure: str
    received: int
    resolved: int
    early: int
    on_time: int
    late: int
    open_overdue: int
    on_time_rate: float | None
    meets_objective: bool | None


class AttainmentReport(BaseModel):
    period_from: str
    period_to: str
    quality_objective: float
    rows: list[AttainmentRow]
    totals: list[AttainmentRow]

    def tables(self) -> list[Table]:
        """The rows with each month's totals under them, and the totals alone (CSV ``section``, XLSX sheets)."""
        rows = [r.model_dump() for r in self.rows]
        totals = [r.model_dump() for r in self.totals]
        return [Table("attainment", COLUMNS, rows, KINDS, totals=totals, objective=self.quality_objective),
                Table("totals", COLUMNS, totals, KINDS, objective=self.quality_objective)]


def _row(month: str, agency: str, procedure: str, counts: Counter[str], objective: float) -> AttainmentRow:
    row = {name: counts[name] for name in ontime.COUNTS}
    return AttainmentRow.model_validate({"month": month, "agency": agency, "procedure": procedure, **row,
                                         **ontime.summary(row, objective)})


def attainment(session: Session, user: Principal, q: ReportQuery, period: Period, zone: Any,
               objective: float) -> AttainmentReport:
    cases = session.exec(select(CaseRow).where(
        q.where(user, col(CaseRow.agency), col(CaseRow.procedure)), col(CaseRow.received_at) < period.end,
        or_(col(CaseRow.resolved_at).is_(None), col(CaseRow.resolved_at) >= period.start),
    )).all()
    rows: list[AttainmentRow] = []
    totals: list[AttainmentRow] = []
    for month, start, end in period.months(zone):
        groups: dict[tuple[str, str], Counter[str]] = defaultdict(Counter)
        for case in cases:
            counted = +Counter(ontime.counts(case, start, end))
            if counted:
                groups[(case.agency, case.procedure)].update(counted)
        rows += [_row(month, a, p, counts, objective) for (a, p), counts in sorted(groups.items())]
        totals.append(_row(month, "*", "*", sum(groups.values(), Counter()), objective))
    return AttainmentReport(period_from=period.start.isoformat(), period_to=period.end.isoformat(),
                            quality_objective=objective, rows=rows, totals=totals)
