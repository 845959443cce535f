"""Nonconformities: the list, one record, and its corrective-action cycle (ISO 9001 clause 10.2).

Each command is ``engine.application.corrective.transition``: a compare-and-set on the status
it was read with and on the record's version (the ``If-Match`` sent, else the version read when
the request began), the details, the audit entry and (with Kafka) the outbox message, all in one
transaction: a 409 or any error leaves nothing written, and of two concurrent commands at most
one succeeds. The router translates HTTP to that call and its refusals to 404, 409 and 422.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Header, Path, Query, Response
from sqlalchemy import func
from sqlmodel import Session, col, select
from sqlmodel.sql.expression import Select

from engine.api import etag, roles
from engine.api.deps import AppDep, NcVerifier, NcWorker, Principal, Reader, SessionDep
from engine.api.errors import CONFLICT, NOT_FOUND, ApiError, not_found
from engine.api.models.common import SaneDateTime, aware, hours
from engine.api.models.nonconformities import (
    ActionCreate,
    CauseCategory,
    CauseCreate,
    CloseCreate,
    CorrectionCreate,
    CorrectiveActionPublic,
    NonconformityPage,
    NonconformityPublic,
    VerificationCreate,
)
from engine.api.roles import Role
from engine.api.routers.cases import AgencyCode, agency_filter
from engine.application import corrective as corrective_use_case
from engine.application.actor import Actor
from engine.application.corrective import (
    ACTION_FIELDS,
    ActionDueInPast,
    ChangedMeanwhile,
    NonconformityNotFound,
    StaleVersion,
    Transitioned,
    check_action_due,
)
from engine.bootstrap import App
from engine.core import corrective
from engine.core.corrective import Command, TransitionRefused
from engine.core.nonconformities import LABELS_EN, LABELS_VI, NONCONFORMITY_TYPES
from engine.core.states import NonconformityStatus
from engine.store.corrective import SqlCorrectiveRecords
from engine.store.sources import SOURCE_PATTERN, source_clause
from engine.store.tables import NonconformityRow
from engine.store.tables_api import CorrectiveAction

router = APIRouter(prefix="/nonconformities", tags=["nonconformities"])

Key = Annotated[str, Path(min_length=1, max_length=400, description="The record's key, e.g. CASE:case_timeliness")]


IfMatch = Annotated[str | None, Header(pattern=etag.IF_MATCH_PATTERN, description=(
    'The `ETag` (or `version`) read from GET /nonconformities/{key}, e.g. "42": the command answers 409 if the '
    "record changed since. Without it, the version read when the request began is checked."))]


def public(row: NonconformityRow, action: CorrectiveAction | None, eiso: App, version: int) -> NonconformityPublic:
    local = eiso.calendar.local
    return NonconformityPublic(
        key=row.key, type=row.type, label_vi=LABELS_VI.get(row.type, row.type),
        label_en=LABELS_EN.get(row.type, row.type), case_id=row.case_id, agency=row.agency,
        procedure=row.procedure, procedure_version=row.procedure_version, procedure_scope=row.procedure_scope,
        step=row.step,
        due_at=local(row.due_at) if row.due_at else None, actual_at=local(row.actual_at) if row.actual_at else None,
        delay_working_hours=hours(row.delay_seconds), detected_at=local(row.detected_at),
        event_ids=list(row.event_ids), status=row.status, next=corrective.allowed(row.status), version=version,
        corrective_action=_action_public(action, eiso) if action is not None else None)


def _action_public(action: CorrectiveAction, eiso: App) -> CorrectiveActionPublic:
    values: dict[str, Any] = {name: getattr(action, name) for name in (*ACTION_FIELDS, "updated_at", "updated_by")}
    for name in ("corrected_at", "verified_at", "closed_at", "updated_at"):
        if values[name] is not None:
            values[name] = eiso.calendar.local(values[name])
    return CorrectiveActionPublic.model_validate(values)


@router.get("", response_model=NonconformityPage, summary="List nonconformities, oldest first")
def list_nonconformities(
    user: Reader, eiso: AppDep, session: SessionDep, agency: AgencyCode = None,
    type: Annotated[str | None, Query(max_length=40, description=f"One of {', '.join(NONCONFORMITY_TYPES)}")] = None,
    case_id: Annotated[str | None, Query(max_length=200)] = None,
    procedure: Annotated[str | None, Query(max_length=64)] = None,
    status: Annotated[str | None, Query(max_length=32, description="Corrective-action status; 'retracted' shows "
                                                                   "the records the engine retracted")] = None,
    cause_category: CauseCategory | None = None,
    detected_from: Annotated[SaneDateTime | None, Query()] = None,
    detected_to: Annotated[SaneDateTime | None, Query()] = None,
    include_retracted: bool = False,
    limit: Annotated[int, Query(ge=1, le=500)] = 50, offset: Annotated[int, Query(ge=0, le=10_000_000)] = 0,
    source: Annotated[str, Query(max_length=60, pattern=SOURCE_PATTERN,
                                 description="live, history (replayed by eiso history import), "
                                             "history:<import id>, or all")] = "all",
) -> NonconformityPage:
    query = list_query(user, eiso, agency=agency, type=type, case_id=case_id, procedure=procedure,
                       statuses=None if status is None else (status,), cause_category=cause_category,
                       detected_from=detected_from, detected_to=detected_to, include_retracted=include_retracted)
    by_source = source_clause(col(NonconformityRow.source), source)
    if by_source is not None:
        query = query.where(by_source)
    total = session.exec(select(func.count()).select_from(query.order_by(None).subquery())).one()
    rows = session.exec(query.limit(limit).offset(offset)).all()
    return NonconformityPage(items=[public(r, a, eiso, int(v)) for r, a, v in rows], total=int(total), limit=limit,
                             offset=offset)


def list_query(user: Principal, eiso: App, *, agency: str | None = None, type: str | None = None,
               case_id: str | None = None, procedure: str | None = None,
               statuses: Sequence[str] | None = None, cause_category: CauseCategory | None = None,
               detected_from: datetime | None = None, detected_to: datetime | None = None,
               include_retracted: bool = False) -> Select[NonconformityRow, CorrectiveAction, Any]:
    """The records ``user`` sees that pass the filters (a naive time is the calendar's zone), each with its
    corrective action and version, oldest first: the list of the API and of the console."""
    nc, ca = NonconformityRow, CorrectiveAction
    query = select(nc, ca, etag.latest(col(nc.key))).join(ca, col(ca.key) == col(nc.key), isouter=True).where(
        user.scope.clause(col(nc.agency)))
    clause = agency_filter(agency, col(nc.agency))
    if clause is not None:
        query = query.where(clause)
    if statuses is None and not include_retracted:
        query = query.where(col(nc.status) != NonconformityStatus.RETRACTED)
    if statuses is not None:
        query = query.where(col(nc.status).in_(statuses) if len(statuses) != 1 else col(nc.status) == statuses[0])
    for column, value in ((nc.type, type), (nc.case_id, case_id), (nc.procedure, procedure)):
        if value is not None:
            query = query.where(column == value)
    if cause_category is not None:
        query = query.where(col(ca.cause_category) == cause_category.value)
    if detected_from is not None:
        query = query.where(col(nc.detected_at) >= aware(detected_from, eiso.calendar.zone))
    if detected_to is not None:
        query = query.where(col(nc.detected_at) < aware(detected_to, eiso.calendar.zone))
    return query.order_by(col(nc.detected_at), col(nc.key))


def _visible(session: Session, user: Principal, key: str) -> NonconformityRow:
    row = session.get(NonconformityRow, key)
    if row is None or not user.scope.covers(row.agency):
        raise not_found(f"nonconformity {key!r}")
    return row


# Who may record each step; the routes below require the same groups (NcWorker, NcVerifier).
COMMAND_ROLES: dict[Command, frozenset[Role]] = {
    Command.correction: roles.NC_WORKERS, Command.cause: roles.NC_WORKERS, Command.action: roles.NC_WORKERS,
    Command.verification: roles.NC_VERIFIERS, Command.close: roles.NC_VERIFIERS}
CommandBody = CorrectionCreate | CauseCreate | ActionCreate | VerificationCreate | CloseCreate
BODIES: dict[Command, type[CommandBody]] = {
    Command.correction: CorrectionCreate, Command.cause: CauseCreate, Command.action: ActionCreate,
    Command.verification: VerificationCreate, Command.close: CloseCreate}


def changes_of(body: CommandBody, eiso: App) -> tuple[Command, dict[str, Any], bool | None]:
    """The step a request body records, the corrective-action fields it writes and (verification) whether the
    action was effective; ``ActionDueInPast`` for an action due before today."""
    now = eiso.clock.now()
    if isinstance(body, CorrectionCreate):
        return Command.correction, {"correction": body.correction, "corrected_at": now}, None
    if isinstance(body, CauseCreate):
        return Command.cause, {"cause": body.cause, "cause_category": body.category.value}, None
    if isinstance(body, ActionCreate):
        check_action_due(body.due, eiso.calendar, eiso.clock)
        return Command.action, {"action": body.action, "action_owner": body.owner, "action_due": body.due,
                                "verification": None, "effective": None, "verified_at": None}, None
    if isinstance(body, VerificationCreate):
        return Command.verification, {"verification": body.verification, "effective": body.effective,
                                      "verified_at": now}, body.effective
    return Command.close, {"closing_note": body.note, "closed_at": now}, None


def perform(session: Session, eiso: App, user: Principal, key: str, body: CommandBody,
            expected: int | None) -> Transitioned:
    """Record the step ``body`` on the record ``key`` for ``user`` (the API's and the console's one door to
    ``engine.application.corrective.transition``). Raises ``ActionDueInPast``, ``NonconformityNotFound``,
    ``StaleVersion``, ``TransitionRefused`` or ``ChangedMeanwhile``, with nothing written."""
    command, changes, effective = changes_of(body, eiso)
    records = SqlCorrectiveRecords(session, eiso.service.outbox)
    return corrective_use_case.transition(
        records, key, command, changes, actor=Actor(user.name, user.role.value), clock=eiso.clock,
        expected=expected, effective=effective, visible=user.scope.covers)


def _transition(session: Session, eiso: App, user: Principal, key: str, body: CommandBody, if_match: str | None,
                response: Response) -> NonconformityPublic:
    expected = etag.expected(if_match)
    try:
        done = perform(session, eiso, user, key, body, expected)
    except ActionDueInPast as err:
        raise ApiError(422, str(err)) from None
    except NonconformityNotFound:
        raise not_found(f"nonconformity {key!r}") from None
    except StaleVersion as err:
        raise _stale(err.version) from None
    except (TransitionRefused, ChangedMeanwhile) as err:
        raise ApiError(409, str(err)) from None
    assert isinstance(done.record, NonconformityRow)
    response.headers["ETag"] = etag.tag(done.version)
    return public(done.record, done.action, eiso, done.version)


def _stale(version: int) -> ApiError:
    return ApiError(409, str(StaleVersion(version)), headers={"ETag": etag.tag(version)})


_WRITE: dict[int | str, dict[str, Any]] = {**NOT_FOUND, **CONFLICT}


@router.get("/{key:path}", response_model=NonconformityPublic, responses=NOT_FOUND,
            summary="One nonconformity with its corrective action")
def get_nonconformity(key: Key, user: Reader, eiso: AppDep, session: SessionDep,
                      response: Response) -> NonconformityPublic:
    if key.rsplit("/", 1)[-1] in Command.__members__:  # ".../cause" is a command's URL, not a key (keys end in ":n")
        raise ApiError(405, "Method Not Allowed", headers={"Allow": "POST"})
    row = _visible(session, user, key)
    version = etag.current(session, key)
    response.headers["ETag"] = etag.tag(version)
    return public(row, session.get(CorrectiveAction, key), eiso, version)


@router.post("/{key:path}/correction", response_model=NonconformityPublic, responses=_WRITE,
             summary="Record the correction (open → correction_recorded)")
def record_correction(key: Key, body: CorrectionCreate, user: NcWorker, eiso: AppDep, session: SessionDep,
                      response: Response, if_match: IfMatch = None) -> NonconformityPublic:
    return _transition(session, eiso, user, key, body, if_match, response)


@router.post("/{key:path}/cause", response_model=NonconformityPublic, responses=_WRITE,
             summary="Record the root cause (correction_recorded or cause_analysed → cause_analysed)")
def record_cause(key: Key, body: CauseCreate, user: NcWorker, eiso: AppDep, session: SessionDep,
                 response: Response, if_match: IfMatch = None) -> NonconformityPublic:
    return _transition(session, eiso, user, key, body, if_match, response)


@router.post("/{key:path}/action", response_model=NonconformityPublic, responses=_WRITE,
             summary="Plan the corrective action with its owner and due date (cause_analysed → action_planned)")
def plan_action(key: Key, body: ActionCreate, user: NcWorker, eiso: AppDep, session: SessionDep,
                response: Response, if_match: IfMatch = None) -> NonconformityPublic:
    return _transition(session, eiso, user, key, body, if_match, response)


@router.post("/{key:path}/verification", response_model=NonconformityPublic, responses=_WRITE,
             summary="Verify effectiveness (action_planned → action_verified; not effective → cause_analysed)")
def verify_action(key: Key, body: VerificationCreate, user: NcVerifier, eiso: AppDep, session: SessionDep,
                  response: Response, if_match: IfMatch = None) -> NonconformityPublic:
    return _transition(session, eiso, user, key, body, if_match, response)


@router.post("/{key:path}/close", response_model=NonconformityPublic, responses=_WRITE,
             summary="Close (action_verified → closed)")
def close(key: Key, body: CloseCreate, user: NcVerifier, eiso: AppDep, session: SessionDep,
          response: Response, if_match: IfMatch = None) -> NonconformityPublic:
    return _transition(session, eiso, user, key, body, if_match, response)
