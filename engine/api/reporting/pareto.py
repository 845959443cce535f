"""Nonconformities by type and by root cause, as Pareto tables for the management review.

Records detected in the period, retracted ones left out. Root causes come from the
corrective-action cycle; records whose cause is not analysed yet are counted apart.
"""

from __future__ import annotations

from collections import Counter

from pydantic import BaseModel
from sqlmodel import Session, col, select

from engine.api.deps import Principal
from engine.api.reporting.common import Period, ReportQuery, rate
from engine.core.states import NonconformityStatus
from engine.reporting.labels import CAUSES, LABELS
from engine.reporting.tables import Kind
from engine.store.sources import source_clause
from engine.store.tables import NonconformityRow
from engine.store.tables_api import CorrectiveAction

COLUMNS = ["category", "label", "count", "share", "cumulative_share"]
KINDS: dict[str, Kind] = {"share": "share", "cumulative_share": "share"}


class ParetoRow(BaseModel):
    category: str
    label: str
    count: int
    share: float | None
    cumulative_share: float | None


class NonconformityReport(BaseModel):
    period_from: str
    period_to: str
    total: int
    by_type: list[ParetoRow]
    by_root_cause: list[ParetoRow]
    not_analysed: int


def pareto(counts: Counter[str], labels: dict[str, str]) -> list[ParetoRow]:
    """Largest first; ties in name order; shares of the whole and cumulated."""
    whole = sum(counts.values())
    rows, running = [], 0
    for category, count in sorted(counts.items(), key=lambda item: (-item[1], item[0])):
        running += count
        rows.append(ParetoRow(category=category, label=labels.get(category, category), count=count,
                              share=rate(count, whole), cumulative_share=rate(running, whole)))
    return rows


def nonconformities(session: Session, user: Principal, q: ReportQuery, period: Period) -> NonconformityReport:
    """The period's findings from ``q.source`` (live by default, as ``eiso report``)."""
    nc, ca = NonconformityRow, CorrectiveAction
    query = (select(nc.type, ca.cause_category).join(ca, col(ca.key) == col(nc.key), isouter=True)
             .where(q.where(user, col(nc.agency), col(nc.procedure)), col(nc.status) != NonconformityStatus.RETRACTED,
                    col(nc.detected_at) >= period.start, col(nc.detected_at) < period.end))
    by_source = source_clause(col(nc.source), q.source)
    found = session.exec(query if by_source is None else query.where(by_source)).all()
    types = Counter(t for t, _ in found)
    causes = Counter(c for _, c in found if c is not None)
    labels = LABELS[q.lang].values["type"]
    return NonconformityReport(period_from=period.start.isoformat(), period_to=period.end.isoformat(),
                               total=len(found), by_type=pareto(types, labels),
                               by_root_cause=pareto(causes, CAUSES[q.lang.value]),
                               not_analysed=len(found) - sum(causes.values()))
