"""Step statistics of one procedure version, for the diagram's overlays: the rule of ``engine.reporting.steps``
over the cases the user sees (their agencies, and the ``agency`` filter with the codes below it)."""

from __future__ import annotations

from dataclasses import asdict
from datetime import datetime
from typing import Annotated, Any

from fastapi import Query
from pydantic import BaseModel, Field
from sqlmodel import Session

from engine.api.deps import Principal
from engine.api.reporting.common import AgencyFilter, Format, From, Language, Period, ReportQuery, Section, To
from engine.core.agency import scope_agencies
from engine.core.calendar import Calendar
from engine.reporting.steps import StepStatistics, StepTables, Versions, step_statistics
from engine.reporting.tables import Kind, Table
from engine.store.cases import CASES, STEPS

COLUMNS = ["step", "name", "unit", "allowance_hours", "waiting", "overdue", "completed", "completed_late",
           "median_hours", "p90_hours", "breach_rate", "level"]
KINDS: dict[str, Kind] = {"breach_rate": "share", "level": "label"}
HEADING_KEYS = {"name": "step_name"}
TABLES = StepTables(steps=STEPS, cases=CASES)


class StepQuery(ReportQuery):
    """A report's parameters with ``procedure`` required, and ``version`` (the route adds the version's ``scope``)."""

    def __init__(
        self,
        procedure: Annotated[str, Query(min_length=1, max_length=64, description="National procedure code, e.g. "
                                                                                 "1.001806")],
        version: Annotated[int, Query(ge=1, le=2**31 - 1, description="The version of the procedure for `scope`")],
        start: From = None,
        end: To = None,
        agency: AgencyFilter = None,
        format: Format = Format.json,
        lang: Language = Language.vi,
        section: Section = None,
    ):
        super().__init__(start, end, agency, procedure, format, lang, section)
        self.code = procedure
        self.version = version


class StepReport(BaseModel):
    period_from: str
    period_to: str
    as_of: str = Field(description="The instant `waiting` and `overdue` are counted at (now)")
    procedure: str
    version: int
    scope: str = Field(description="The version's scope key: `*` for every agency, else agency codes joined by "
                                   "commas")
    agencies: list[str]
    steps: list[StepStatistics] = Field(description="Each task of the version, in the order of its BPMN file; "
                                                    "`step` is the BPMN element id")

    def tables(self) -> list[Table]:
        rows: list[dict[str, Any]] = [asdict(s) for s in self.steps]
        return [Table("steps", COLUMNS, rows, KINDS, heading_keys=HEADING_KEYS)]


def step_report(session: Session, user: Principal, q: StepQuery, scope: str, period: Period, calendar: Calendar,
                catalog: Versions, now: datetime) -> StepReport:
    """The statistics of version ``q.version`` of ``q.code`` for scope key ``scope``; the caller has checked that
    the version exists and concerns the user (``engine.api.routers.procedures.concerning_version``)."""
    where = q.where(user, STEPS.c.agency, STEPS.c.procedure)
    steps = step_statistics(session, TABLES, where, q.code, q.version, scope, period, calendar, catalog, now)
    return StepReport(period_from=period.start.isoformat(), period_to=period.end.isoformat(),
                      as_of=calendar.local(now).isoformat(), procedure=q.code, version=q.version, scope=scope,
                      agencies=list(scope_agencies(scope)), steps=steps)

