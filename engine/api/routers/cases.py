"""Cases: the list, the process control slip, the event timeline and the Form 04 slip."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Path, Query, Response
from sqlalchemy import and_, func
from sqlmodel import Session, col, select

from engine.api.deps import AppDep, PresenterDep, Principal, Reader, SessionDep
from engine.api.errors import CONFLICT, NOT_FOUND, ApiError, not_found
from engine.api.models.cases import (
    ApologySituation,
    ApologySlipPublic,
    CasePage,
    CaseSummaryPublic,
    ControlSlipPublic,
    TimelineEntryPublic,
)
from engine.api.models.common import SaneDateTime, aware, hours
from engine.api.scope import check_code, code_clause
from engine.application.apology import CaseNotFound, NoApologyDue, apology_slip
from engine.bootstrap import App
from engine.core.events import AGENCY_CODE_PATTERN
from engine.core.states import CaseStatus, Timeliness
from engine.store.apology import SqlApologyReads
from engine.store.queries import case_detail
from engine.store.tables import CaseRow, JournalEntry

router = APIRouter(prefix="/cases", tags=["cases"])

CaseId = Annotated[str, Path(min_length=1, max_length=200, description="Dossier code")]
# The pattern is the schema's; agency_filter applies it (check_code), with a message naming the format.
AgencyCode = Annotated[str | None, Query(
    min_length=1, max_length=100, json_schema_extra={"pattern": AGENCY_CODE_PATTERN},
    description="Agency code, e.g. 000.00.12.H10; covers the codes below it")]


def agency_filter(agency: str | None, column: Any) -> Any:
    """The ``agency`` query parameter as SQL, or None when absent."""
    if agency is None:
        return None
    try:
        return code_clause(check_code(agency), column)
    except ValueError as err:
        raise ApiError(422, str(err)) from None


def _summary(row: CaseRow, eiso: App, now: datetime) -> CaseSummaryPublic:
    local = eiso.calendar.local
    overdue = row.resolved_at is None and row.closed_at is None and row.due_at is not None and row.due_at < now
    return CaseSummaryPublic(
        case_id=row.case_id, agency=row.agency, agency_original=row.agency_original, procedure=row.procedure,
        procedure_version=row.procedure_version,
        procedure_scope=row.procedure_scope, status=row.status, received_at=local(row.received_at),
        started_at=local(row.started_at),
        due_at=local(row.due_at) if row.due_at else None,
        promised_at=local(row.promised_at) if row.promised_at else None,
        extended_due_at=local(row.extended_due_at) if row.extended_due_at else None,
        resolved_at=local(row.resolved_at) if row.resolved_at else None,
        closed_at=local(row.closed_at) if row.closed_at else None,
        timeliness=Timeliness(row.timeliness) if row.timeliness else None,
        delay_working_hours=hours(row.delay_seconds) if row.timeliness else None, overdue=overdue)


@dataclass(frozen=True)
class CaseFilters:
    """The filters of the case list, as the API's ``GET /cases`` and the console's list take them.

    ``agency`` covers the codes below it; ``overdue``: unresolved, not closed and past the due now;
    ``received_from``/``received_to``: aware instants, the first included, the second not;
    ``case_id``: a case id or the start of one.
    """

    agency: str | None = None
    procedure: str | None = None
    status: CaseStatus | None = None
    timeliness: Timeliness | None = None
    overdue: bool | None = None
    received_from: datetime | None = None
    received_to: datetime | None = None
    case_id: str | None = None


# Above every character a case id can hold: "starts with p" is the primary key's range [p, p + TOP).
_TOP = "\U0010ffff"


def case_id_prefix(prefix: str, column: Any) -> Any:
    """SQL for "the case id starts with ``prefix``": a range of the primary key (binary order, as SQLite and a
    PostgreSQL database made with the C collation sort), so an index answers it, and the LIKE for the exact rule."""
    return and_(column >= prefix, column < prefix + _TOP, column.startswith(prefix, autoescape=True))


def case_list(session: Session, eiso: App, user: Principal, filters: CaseFilters, limit: int,
              offset: int) -> CasePage:
    """One page of the cases ``user`` sees that pass ``filters``, newest first, with the total; a bad
    ``filters.agency`` is an ``ApiError`` 422 (check it with ``check_code`` first to say so yourself)."""
    now = eiso.clock.now()
    query = select(CaseRow).where(user.scope.clause(col(CaseRow.agency)))
    clause = agency_filter(filters.agency, col(CaseRow.agency))
    if clause is not None:
        query = query.where(clause)
    if filters.procedure is not None:
        query = query.where(CaseRow.procedure == filters.procedure)
    if filters.status is not None:
        query = query.where(CaseRow.status == filters.status.value)
    if filters.timeliness is not None:
        query = query.where(CaseRow.timeliness == filters.timeliness.value)
    if filters.overdue is not None:
        late_now = (col(CaseRow.resolved_at).is_(None) & col(CaseRow.closed_at).is_(None)
                    & col(CaseRow.due_at).is_not(None) & (col(CaseRow.due_at) < now))
        query = query.where(late_now if filters.overdue else ~late_now)
    if filters.received_from is not None:
        query = query.where(col(CaseRow.received_at) >= filters.received_from)
    if filters.received_to is not None:
        query = query.where(col(CaseRow.received_at) < filters.received_to)
    if filters.case_id is not None:
        query = query.where(case_id_prefix(filters.case_id, col(CaseRow.case_id)))
    newest_first = (col(CaseRow.received_at).desc(), col(CaseRow.case_id).desc())
    if filters.overdue:
        # The late cases are the oldest: walking the received index newest first would pass over most open
        # cases before finding 50 late ones. Take the late set first (through the due index, kept apart
        # from the ordering by MATERIALIZED), then order only it.
        late = (query.with_only_columns(col(CaseRow.case_id), col(CaseRow.received_at)).cte("late_now")
                .prefix_with("MATERIALIZED", dialect="postgresql"))
        total = session.exec(select(func.count()).select_from(late)).one()
        page = (select(late.c.case_id).order_by(late.c.received_at.desc(), late.c.case_id.desc())
                .limit(limit).offset(offset).subquery())
        rows = session.exec(select(CaseRow).join(page, page.c.case_id == col(CaseRow.case_id))
                            .order_by(*newest_first)).all()
    else:
        total = session.exec(select(func.count()).select_from(query.subquery())).one()
        rows = session.exec(query.order_by(*newest_first).limit(limit).offset(offset)).all()
    return CasePage(items=[_summary(r, eiso, now) for r in rows], total=int(total), limit=limit, offset=offset)


@router.get("", response_model=CasePage, summary="List cases, newest first")
def list_cases(
    user: Reader, eiso: AppDep, session: SessionDep, agency: AgencyCode = None,
    procedure: Annotated[str | None, Query(max_length=64)] = None,
    status: CaseStatus | None = None, timeliness: Timeliness | None = None,
    overdue: Annotated[bool | None, Query(description="Unresolved, not closed and past the due now")] = None,
    received_from: Annotated[SaneDateTime | None, Query(description="Received at or after (naive: calendar zone)")]
    = None,
    received_to: Annotated[SaneDateTime | None, Query(description="Received before (naive: calendar zone)")] = None,
    case_id: Annotated[str | None, Query(min_length=1, max_length=200, description="A case id, or its start")]
    = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 50, offset: Annotated[int, Query(ge=0, le=10_000_000)] = 0,
) -> CasePage:
    zone = eiso.calendar.zone
    filters = CaseFilters(agency=agency, procedure=procedure, status=status, timeliness=timeliness, overdue=overdue,
                          received_from=aware(received_from, zone) if received_from is not None else None,
                          received_to=aware(received_to, zone) if received_to is not None else None,
                          case_id=case_id)
    return case_list(session, eiso, user, filters, limit, offset)


def visible_case(session: Session, user: Principal, case_id: str) -> CaseRow:
    """The case, if it exists and the user sees its agency; else 404 (no hint that it exists)."""
    row = session.get(CaseRow, case_id)
    if row is None or not user.scope.covers(row.agency):
        raise not_found(f"case {case_id!r}")
    return row


def case_summary(session: Session, eiso: App, user: Principal, case_id: str) -> CaseSummaryPublic:
    """One case as the list shows it, if the user sees it (else ``visible_case``'s 404)."""
    return _summary(visible_case(session, user, case_id), eiso, eiso.clock.now())


TIMELINE_PAGE, TIMELINE_MAX = 500, 1000
_NEXT_HEADERS: dict[str, Any] = {
    "Link": {"description": "`<?after=SEQ&limit=N>; rel=\"next\"` when more events follow",
             "schema": {"type": "string"}},
    "X-Next-After": {"description": "The `after` of the next page, when more events follow",
                     "schema": {"type": "string", "pattern": "^[0-9]+$"}},
}


@router.get("/{case_id:path}/events", response_model=list[TimelineEntryPublic],
            responses={**NOT_FOUND, 200: {"description": "One page of the timeline", "headers": _NEXT_HEADERS}},
            summary="The case's events in the order they were applied, a page at a time")
def timeline(
    case_id: CaseId, user: Reader, eiso: AppDep, session: SessionDep, response: Response,
    after: Annotated[int, Query(ge=0, le=2**63 - 1, description="Events after this journal `seq` (the previous "
                                                                 "page's `X-Next-After`); 0: from the first")] = 0,
    limit: Annotated[int, Query(ge=1, le=TIMELINE_MAX)] = TIMELINE_PAGE,
) -> list[TimelineEntryPublic]:
    visible_case(session, user, case_id)
    # One page plus one row, by the (case_id, seq) index: a case's whole journal is never read at once.
    entries = session.exec(select(JournalEntry).where(JournalEntry.case_id == case_id, col(JournalEntry.seq) > after)
                           .order_by(col(JournalEntry.seq)).limit(limit + 1)).all()
    page = entries[:limit]
    if len(entries) > limit and page:
        cursor = str(page[-1].seq)
        response.headers["X-Next-After"] = cursor
        # A reference relative to this URL (RFC 3986 5.2): the case id keeps its own escaping.
        response.headers["Link"] = f'<?after={cursor}&limit={limit}>; rel="next"'
    return [_entry(e, eiso) for e in page]


def _entry(entry: JournalEntry, eiso: App) -> TimelineEntryPublic:
    payload = entry.payload if isinstance(entry.payload, dict) else {}
    due = payload.get("due_at")
    actor = payload.get("actor")
    return TimelineEntryPublic(
        seq=entry.seq or 0, event_id=entry.event_id, type=entry.type,
        occurred_at=eiso.calendar.local(entry.occurred_at), recorded_at=eiso.calendar.local(entry.recorded_at),
        step=payload.get("step"), actor=actor if isinstance(actor, dict) else None, reason=payload.get("reason"),
        due_at=eiso.calendar.local(datetime.fromisoformat(due)) if isinstance(due, str) else None,
        data=payload.get("data") or {}, notes=(entry.notes or "").splitlines())


@router.get("/{case_id:path}/apology", response_model=ApologySlipPublic, responses={**NOT_FOUND, **CONFLICT},
            summary="Form 04: apology and new appointment, for a case that is or will be late")
def apology(case_id: CaseId, user: Reader, eiso: AppDep, session: SessionDep) -> ApologySlipPublic:
    cal = eiso.calendar
    try:
        slip = apology_slip(SqlApologyReads(session), case_id, cal, eiso.clock.now(), visible=user.scope.covers)
    except CaseNotFound:
        raise not_found(f"case {case_id!r}") from None
    except NoApologyDue as err:
        raise ApiError(409, str(err)) from None
    row, found = slip.case, slip.apology
    delay = found.delay_seconds
    return ApologySlipPublic(
        case_id=row.case_id, agency=row.agency, procedure=row.procedure, procedure_name=slip.procedure_name,
        received_at=cal.local(row.received_at),
        original_appointment=cal.local(slip.original_appointment) if slip.original_appointment else None,
        statutory_due_at=cal.local(row.due_at) if row.due_at else None,
        situation=ApologySituation(found.situation.value), reason=slip.reason,
        new_appointment=cal.local(slip.new_appointment) if slip.new_appointment else None,
        apology_at=cal.local(slip.apology_at) if slip.apology_at else None, apology_in_time=slip.apology_in_time,
        remaining_working_hours=hours(found.remaining_seconds) if found.remaining_seconds is not None and not delay
        else None,
        delay_working_hours=hours(delay))


@router.get("/{case_id:path}", response_model=ControlSlipPublic, responses=NOT_FOUND,
            summary="The process control slip: each step's unit, activation, due, handover and timeliness")
def control_slip(case_id: CaseId, user: Reader, session: SessionDep, presenter: PresenterDep) -> ControlSlipPublic:
    visible_case(session, user, case_id)
    detail = case_detail(session, case_id, presenter)
    if detail is None:
        raise not_found(f"case {case_id!r}")
    return ControlSlipPublic.model_validate(detail)
