"""Attainment of the quality objective per month, agency and procedure.

The definitions of ``engine.reports`` (the ``eiso report`` command), per calendar month:
received in the month; resolved in the month, early, on time or late; open overdue = not
resolved or closed at the month's end and past the due by then; on-time rate = (early + on
time) / (resolved + open overdue); the objective is met when the rate reaches it.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from typing import Any

from pydantic import BaseModel
from sqlmodel import Session, col, or_, select

from engine.api.deps import Principal
from engine.api.reporting.common import Period, ReportQuery, rate
from engine.store.tables import CaseRow

COLUMNS = ["month", "agency", "procedure", "received", "resolved", "early", "on_time", "late", "open_overdue",
           "on_time_rate", "meets_objective"]


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


def _row(month: str, agency: str, procedure: str, counts: Counter[str], objective: float) -> AttainmentRow:
    on_time_rate = rate(counts["early"] + counts["on_time"], counts["resolved"] + counts["open_overdue"])
    return AttainmentRow(month=month, agency=agency, procedure=procedure, received=counts["received"],
                         resolved=counts["resolved"], early=counts["early"], on_time=counts["on_time"],
                         late=counts["late"], open_overdue=counts["open_overdue"], on_time_rate=on_time_rate,
                         meets_objective=None if on_time_rate is None else on_time_rate >= objective)


def _count(case: Any, start: Any, end: Any, counts: Counter[str]) -> None:
    if start <= case.received_at < end:
        counts["received"] += 1
    if case.resolved_at is not None and start <= case.resolved_at < end:
        counts["resolved"] += 1
        counts[case.timeliness or "on_time"] += 1
    elif (case.received_at < end and case.due_at is not None and case.due_at < end
          and (case.resolved_at is None or case.resolved_at >= end)
          and (case.closed_at is None or case.closed_at >= end)):
        counts["open_overdue"] += 1


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
            _count(case, start, end, groups[(case.agency, case.procedure)])
        groups = {key: counts for key, counts in groups.items() if +counts}
        rows += [_row(month, a, p, counts, objective) for (a, p), counts in sorted(groups.items())]
        totals.append(_row(month, "*", "*", sum(groups.values(), Counter()), objective))
    return AttainmentReport(period_from=period.start.isoformat(), period_to=period.end.isoformat(),
                            quality_objective=objective, rows=rows, totals=totals)
