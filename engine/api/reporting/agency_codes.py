"""Cases by their current and their original agency code (Decision 09/2025/QĐ-TTg).

A case's ``agency`` is its current code (``engine.application.agency_codes``) and ``agency_original``
the code it was received with when that differs; each row counts, over the period and by the one rule
of ``engine.reporting.ontime``, the cases of one current code received under one original code. The
caller's agencies are matched against the current code, as every report does.
"""

from __future__ import annotations

from collections import Counter, defaultdict

from pydantic import BaseModel
from sqlmodel import Session, col, or_, select

from engine.api.deps import Principal
from engine.api.reporting.common import Period, ReportQuery
from engine.reporting import ontime
from engine.reporting.tables import TOTAL as ALL
from engine.reporting.tables import Kind, Table
from engine.store.tables import CaseRow

COLUMNS = ["agency", "agency_original", "received", "resolved", "early", "on_time", "late", "open_overdue",
           "on_time_rate"]
KINDS: dict[str, Kind] = {"on_time_rate": "rate"}


class AgencyCodeRow(BaseModel):
    agency: str
    agency_original: str
    received: int
    resolved: int
    early: int
    on_time: int
    late: int
    open_overdue: int
    on_time_rate: float | None


class AgencyCodeReport(BaseModel):
    period_from: str
    period_to: str
    rows: list[AgencyCodeRow]
    totals: list[AgencyCodeRow]

    def tables(self) -> list[Table]:
        return [Table("agency_codes", COLUMNS, [r.model_dump() for r in self.rows], KINDS,
                      totals=[r.model_dump() for r in self.totals])]


def _row(agency: str, original: str, counts: Counter[str]) -> AgencyCodeRow:
    row = {name: counts[name] for name in ontime.COUNTS}
    rate = ontime.summary(row, objective=1.0)["on_time_rate"]  # the rate only; no objective is judged here
    return AgencyCodeRow(agency=agency, agency_original=original, **row, on_time_rate=rate)


def agency_codes(session: Session, user: Principal, q: ReportQuery, period: Period) -> AgencyCodeReport:
    cases = session.exec(select(CaseRow).where(
        q.where(user, col(CaseRow.agency), col(CaseRow.procedure)), col(CaseRow.received_at) < period.end,
        or_(col(CaseRow.resolved_at).is_(None), col(CaseRow.resolved_at) >= period.start),
    )).all()
    groups: dict[tuple[str, str], Counter[str]] = defaultdict(Counter)
    for case in cases:
        counted = +Counter(ontime.counts(case, period.start, period.end))
        if counted:
            groups[(case.agency, case.agency_original or case.agency)].update(counted)
    rows = [_row(agency, original, counts) for (agency, original), counts in sorted(groups.items())]
    by_current: dict[str, Counter[str]] = defaultdict(Counter)
    for (agency, _), counts in groups.items():
        by_current[agency].update(counts)
    totals = [_row(agency, ALL, counts) for agency, counts in sorted(by_current.items())]
    return AgencyCodeReport(period_from=period.start.isoformat(), period_to=period.end.isoformat(), rows=rows,
                            totals=totals)
