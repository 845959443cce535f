"""Conformance per procedure: the cases closed in the period against their procedure, scoped to the user.

The figures are ``engine.reporting.conformance``'s (the same as ``eiso report``'s conformance section):
conformance rate, pm4py's token-replay fitness, the most common deviations and the variants with their
median working time. The user's agencies (and ``agency``, ``procedure``) filter the cases.
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel
from sqlmodel import Session

from engine.api.deps import Principal
from engine.api.reporting.common import Period, ReportQuery
from engine.core.calendar import Calendar
from engine.reporting.conformance import ConformanceTables, Versions, case_results, conformance_report
from engine.reporting.practice import practice_report
from engine.reporting.tables import Kind, Table
from engine.store.cases import CASES, STEPS
from engine.store.tables import NonconformityRow

TABLES = ConformanceTables(CASES, STEPS, NonconformityRow.__table__)  # type: ignore[attr-defined]
COLUMNS = ["procedure", "cases", "conforming", "conformance_rate", "fitting", "fitting_share", "log_fitness",
           "average_fitness", "cases_with_rework", "rework_hours", "variant_count"]
KINDS: dict[str, Kind] = {"conformance_rate": "share", "fitting_share": "share"}


class DeviationRow(BaseModel):
    kind: str
    step: str
    cases: int


class VariantRow(BaseModel):
    path: list[str]
    cases: int
    conforming: bool
    median_hours: float | None


class ProcedureConformance(BaseModel):
    procedure: str
    cases: int
    conforming: int
    conformance_rate: float
    fitting: int
    fitting_share: float
    log_fitness: float
    average_fitness: float
    cases_with_rework: int
    rework_hours: float
    variant_count: int
    deviations: list[DeviationRow]
    variants: list[VariantRow]


class ConformanceReport(BaseModel):
    period_from: str
    period_to: str
    procedures: list[ProcedureConformance]

    def tables(self) -> list[Table]:
        return [Table("conformance", COLUMNS, [p.model_dump(include=set(COLUMNS)) for p in self.procedures], KINDS)]


def conformance(session: Session, user: Principal, q: ReportQuery, period: Period, calendar: Calendar,
                catalog: Versions) -> ConformanceReport:
    where = q.where(user, CASES.c.agency, CASES.c.procedure)
    found = conformance_report(session, TABLES, where, period, calendar, catalog)
    return ConformanceReport(period_from=calendar.local(period.start).isoformat(),
                             period_to=calendar.local(period.end).isoformat(),
                             procedures=[ProcedureConformance.model_validate(p) for p in found])


def practice(session: Session, user: Principal, q: ReportQuery, period: Period, calendar: Calendar,
             catalog: Versions, code: str) -> dict[str, Any] | None:
    """Practice beside procedure ``code`` (``engine.reporting.practice``) for the cases closed in the period
    within the user's agencies (and ``q.agency``); None when none closed. What the console's picture draws."""
    where = q.where(user, CASES.c.agency, CASES.c.procedure)
    return practice_report(session, TABLES, where, period, calendar, catalog, code)


CASE_COLUMNS = ["case_id", "agency", "procedure", "procedure_version", "whole", "fitness", "fits", "conforming",
                "rework_hours"]


class CaseDeviation(BaseModel):
    kind: str
    step: str
    position: int | None


class CaseConformanceRow(BaseModel):
    case_id: str
    agency: str
    procedure: str
    procedure_version: int
    whole: bool  # returned: judged to its end; withdrawn, rejected or stopped: on what it did
    steps: list[str]
    fitness: float
    fits: bool
    conforming: bool
    deviations: list[CaseDeviation]
    rework_hours: float


class CaseConformanceReport(BaseModel):
    period_from: str
    period_to: str
    cases: list[CaseConformanceRow]

    def tables(self) -> list[Table]:
        return [Table("cases", CASE_COLUMNS, [c.model_dump(include=set(CASE_COLUMNS)) for c in self.cases])]


def conformance_cases(session: Session, user: Principal, q: ReportQuery, period: Period, calendar: Calendar,
                      catalog: Versions, limit: int, offset: int) -> CaseConformanceReport:
    where = q.where(user, CASES.c.agency, CASES.c.procedure)
    found = case_results(session, TABLES, where, period, calendar, catalog, limit, offset)
    return CaseConformanceReport(period_from=calendar.local(period.start).isoformat(),
                                 period_to=calendar.local(period.end).isoformat(),
                                 cases=[CaseConformanceRow.model_validate(c) for c in found])
