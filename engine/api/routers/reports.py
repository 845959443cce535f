"""Reports: quality objective, bottleneck steps, nonconformity Pareto, Circular 01/2018 indices, and the step
statistics of one procedure version (the diagram's overlays)."""

from __future__ import annotations

from typing import Annotated, Any, TypeVar

from fastapi import APIRouter, Depends, Query, Response
from pydantic import BaseModel

from engine.api.deps import AppDep, Reader, SessionDep
from engine.api.errors import NOT_FOUND
from engine.api.models.common import SaneDateTime, aware
from engine.api.reporting import agency_codes as agency_codes_
from engine.api.reporting import attainment as attainment_
from engine.api.reporting import bottlenecks as bottlenecks_
from engine.api.reporting import circular01 as circular01_
from engine.api.reporting import conformance as conformance_
from engine.api.reporting import pareto as pareto_
from engine.api.reporting import procedure_review as procedure_review_
from engine.api.reporting import steps as steps_
from engine.api.reporting.common import Format, Period, ReportQuery, with_source
from engine.api.reporting.export import DOC, answer
from engine.api.routers.procedures import AgencyCode, concerning_version, requested_scope
from engine.bootstrap import App
from engine.core.agency import MAX_SCOPE_AGENCIES
from engine.reporting.tables import Table

router = APIRouter(prefix="/reports", tags=["reports"])

Params = Annotated[ReportQuery, Depends()]
SourceParams = Annotated[ReportQuery, Depends(with_source)]
StepParams = Annotated[steps_.StepQuery, Depends()]
ScopeQuery = Annotated[list[AgencyCode] | None, Query(
    max_length=MAX_SCOPE_AGENCIES, description="The agencies the version's deployment covers (repeat for several), "
    "as `GET /procedures/{code}/versions/{version}` takes them in `agency`; none: the version deployed for every "
    "agency. A version that does not exist or does not concern the user answers 404")]
_Report = TypeVar("_Report", bound=BaseModel)


def _period(q: ReportQuery, eiso: App) -> Period:
    today = eiso.calendar.local(eiso.clock.now()).date()
    return q.period(eiso.calendar.zone, today)


def _rows(items: list[Any]) -> list[dict[str, Any]]:
    return [item.model_dump() for item in items]


def _respond(report: _Report, name: str, tables: list[Table], q: ReportQuery) -> Response | _Report:
    if q.format is Format.json:
        return report
    return answer(name, tables, q.format, q.lang, q.section)


@router.get("/attainment", response_model=attainment_.AttainmentReport, responses=DOC,
            summary="Quality objective: share resolved early or on time, per month, agency and procedure")
def attainment(q: Params, user: Reader, eiso: AppDep, session: SessionDep,
               objective: Annotated[float | None, Query(ge=0, le=1, description="Default: EISO_QUALITY_OBJECTIVE")]
               = None) -> Response | attainment_.AttainmentReport:
    goal = objective if objective is not None else eiso.settings.engine.quality_objective
    report = attainment_.attainment(session, user, q, _period(q, eiso), eiso.calendar.zone, goal)
    return _respond(report, "attainment", report.tables(), q)


@router.get("/bottlenecks", response_model=bottlenecks_.BottleneckReport, responses=DOC,
            summary="Bottleneck steps: median and 90th percentile working time against the allowance")
def bottlenecks(q: Params, user: Reader, eiso: AppDep, session: SessionDep) -> Response | bottlenecks_.BottleneckReport:
    report = bottlenecks_.bottlenecks(session, user, q, _period(q, eiso), eiso.calendar, eiso.catalog)
    return _respond(report, "bottlenecks", [Table("steps", bottlenecks_.COLUMNS, _rows(report.steps))], q)


@router.get("/nonconformities", response_model=pareto_.NonconformityReport, responses=DOC,
            summary="Nonconformities by type and by root cause (Pareto)")
def nonconformities(q: SourceParams, user: Reader, eiso: AppDep,
                    session: SessionDep) -> Response | pareto_.NonconformityReport:
    report = pareto_.nonconformities(session, user, q, _period(q, eiso))
    return _respond(report, "nonconformities", [
        Table("by_type", pareto_.COLUMNS, _rows(report.by_type), pareto_.KINDS,
              heading_keys={"category": "type_code"}),
        Table("by_root_cause", pareto_.COLUMNS, _rows(report.by_root_cause), pareto_.KINDS,
              heading_keys={"category": "cause_code"})], q)


@router.get("/conformance", response_model=conformance_.ConformanceReport, responses=DOC,
            summary="Conformance to the procedure of the cases closed in the period: rate, token-replay fitness, "
                    "most common deviations, variants with their median working time")
def conformance(q: Params, user: Reader, eiso: AppDep,
                session: SessionDep) -> Response | conformance_.ConformanceReport:
    report = conformance_.conformance(session, user, q, _period(q, eiso), eiso.calendar, eiso.catalog)
    return _respond(report, "conformance", report.tables(), q)


@router.get("/conformance/cases", response_model=conformance_.CaseConformanceReport, responses=DOC,
            summary="Each case closed in the period against its procedure: fitness, conforming, deviations, rework")
def conformance_cases(q: Params, user: Reader, eiso: AppDep, session: SessionDep,
                      limit: Annotated[int, Query(ge=1, le=10_000, description="Cases per page")] = 1000,
                      offset: Annotated[int, Query(ge=0, le=10_000_000, description="Cases skipped")] = 0,
                      ) -> Response | conformance_.CaseConformanceReport:
    report = conformance_.conformance_cases(session, user, q, _period(q, eiso), eiso.calendar, eiso.catalog,
                                            limit, offset)
    return _respond(report, "conformance-cases", report.tables(), q)


@router.get("/circular-01", response_model=circular01_.Circular01Report, responses=DOC,
            summary="Circular 01/2018/TT-VPCP Art. 13 indices 1 and 2 (2 shorter, 1 equal, 0 longer)")
def circular01(q: Params, user: Reader, eiso: AppDep, session: SessionDep,
               limit: Annotated[int, Query(ge=1, le=10_000, description="Dossier rows per page")] = 10_000,
               offset: Annotated[int, Query(ge=0, le=10_000_000, description="Dossier rows skipped")] = 0,
               ) -> Response | circular01_.Circular01Report:
    report = circular01_.circular01(session, user, q, _period(q, eiso), eiso.calendar, limit, offset)
    return _respond(report, "circular-01", [
        Table("agencies", circular01_.AGENCY_COLUMNS, _rows(report.agencies)),
        Table("units", circular01_.UNIT_COLUMNS, _rows(report.units)),
        Table("dossiers", circular01_.DOSSIER_COLUMNS, _rows(report.dossiers), {"timeliness": "label"})], q)


@router.get("/steps", response_model=steps_.StepReport, responses={**DOC, **NOT_FOUND},
            summary="Step statistics of one procedure version: waiting and overdue now, completed (late) in the "
                    "period, median and 90th percentile working time, breach rate and its level, per BPMN task")
def steps(q: StepParams, user: Reader, eiso: AppDep, session: SessionDep,
          scope: ScopeQuery = None) -> Response | steps_.StepReport:
    key = requested_scope(eiso, scope or [])
    concerning_version(session, q.code, q.version, key, user)
    report = steps_.step_report(session, user, q, key, _period(q, eiso), eiso.calendar, eiso.catalog,
                                eiso.clock.now())
    return _respond(report, "steps", report.tables(), q)


@router.get("/agency-codes", response_model=agency_codes_.AgencyCodeReport, responses=DOC,
            summary="Cases by current and original agency code (codes closed by Decision 09/2025/QĐ-TTg follow their "
                    "successor)")
def agency_codes(q: Params, user: Reader, eiso: AppDep,
                 session: SessionDep) -> Response | agency_codes_.AgencyCodeReport:
    report = agency_codes_.agency_codes(session, user, q, _period(q, eiso))
    return _respond(report, "agency-codes", report.tables(), q)


@router.get("/procedure-review", response_model=procedure_review_.ProcedureReviewReport, responses=DOC,
            summary="The deployed procedures against the national catalogue, as `eiso procedures review` lists them")
def procedure_review(q: Params, user: Reader, eiso: AppDep,
                     at: Annotated[SaneDateTime | None, Query(
                         description="As of this date or date and time (without an offset: in the calendar's time "
                                     "zone); default now")] = None,
                     ) -> Response | procedure_review_.ProcedureReviewReport:
    zone = eiso.calendar.zone
    when = (eiso.clock.now() if at is None else aware(at, zone)).astimezone(zone)
    report = procedure_review_.procedure_review(eiso, user, when)
    return _respond(report, "procedure-review", report.tables(), q)
