"""Attainment of the quality objective per month, agency and procedure.

Each calendar month counted as ``eiso report`` counts a period, by the one rule of
``engine.reporting.ontime``: received in the month; resolved in the month, early, on time or
late; open overdue at the month's end; on-time rate = (early + on time) / (resolved + open
overdue); the objective is met when the exact rate reaches it.

Counted in SQL (``ontime.sums``: the rule's own SQL form), one pass over the period's cases grouped by
agency and procedure, with the counts of every month side by side.
"""

from __future__ import annotations

from collections import Counter
from typing import Any

from pydantic import BaseModel
from sqlalchemy import or_, select
from sqlmodel import Session

from engine.api.deps import Principal
from engine.api.reporting.common import Period, ReportQuery
from engine.api.reporting.kept import KEPT
from engine.reporting import ontime
from engine.reporting.tables import Kind, Table
from engine.store.cases import CASES

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
    """The report; one that was slow to count is kept a while for the same question (``kept``)."""
    key = ("attainment", user.scope, q.agency, q.procedure, period.start, period.end, str(zone), objective)
    return KEPT.get(session, key, lambda s: counted(s, user, q, period, zone, objective))


def counted(session: Session, user: Principal, q: ReportQuery, period: Period, zone: Any,
            objective: float) -> AttainmentReport:
    """The report counted now."""
    months = period.months(zone)
    cases = CASES.c
    counted = [total for index, (_, start, end) in enumerate(months) for total in ontime.sums(cases, start, end,
                                                                                              f"_{index}")]
    groups = session.execute(
        select(cases.agency, cases.procedure, *counted)
        .where(q.where(user, cases.agency, cases.procedure), cases.received_at < period.end,
               or_(cases.resolved_at.is_(None), cases.resolved_at >= period.start))
        .group_by(cases.agency, cases.procedure)).mappings().all()
    rows: list[AttainmentRow] = []
    totals: list[AttainmentRow] = []
    for index, (month, _, _) in enumerate(months):
        found: dict[tuple[str, str], Counter[str]] = {}
        for group in groups:
            counts = +Counter({name: int(group[f"{name}_{index}"] or 0) for name in ontime.COUNTS})
            if counts:  # a group nothing counts in this month is not a row of it
                found[(group["agency"], group["procedure"])] = counts
        rows += [_row(month, a, p, counts, objective) for (a, p), counts in sorted(found.items())]
        totals.append(_row(month, "*", "*", sum(found.values(), Counter()), objective))
    return AttainmentReport(period_from=period.start.isoformat(), period_to=period.end.isoformat(),
                            quality_objective=objective, rows=rows, totals=totals)
