"""Nonconformities: the list, one record, and its corrective-action cycle (ISO 9001 clause 10.2).

Each command changes the record's status with a compare-and-set on the status it was read
with and on the record's version (``engine.api.etag``: the ``If-Match`` sent, else the version
read when the request began), writes the details to ``corrective_action``, the audit entry and
(with Kafka) the outbox message, all in one transaction: a 409 or any error leaves nothing
written, and of two concurrent commands at most one succeeds.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Header, Path, Query, Response
from sqlalchemy import func, update
from sqlmodel import Session, col, select

from engine.api import audit, corrective, etag
from engine.api.corrective import Command, TransitionRefused
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
from engine.api.routers.cases import AgencyCode, agency_filter
from engine.bootstrap import App
from engine.core.nonconformities import LABELS_EN, LABELS_VI, NONCONFORMITY_TYPES
from engine.store.tables import NonconformityRow
from engine.store.tables_api import CorrectiveAction

router = APIRouter(prefix="/nonconformities", tags=["nonconformities"])

Key = Annotated[str, Path(min_length=1, max_length=400, description="The record's key, e.g. CASE:case_timeliness")]
_FIELDS = ("correction", "corrected_at", "cause", "cause_category", "action", "action_owner", "action_due",
           "verification", "effective", "verified_at", "closing_note", "closed_at")


IfMatch = Annotated[str | None, Header(pattern=etag.IF_MATCH_PATTERN, description=(
    'The `ETag` (or `version`) read from GET /nonconformities/{key}, e.g. "42": the command answers 409 if the '
    "record changed since. Without it, the version read when the request began is checked."))]


def public(row: NonconformityRow, action: CorrectiveAction | None, eiso: App, version: int) -> NonconformityPublic:
    local = eiso.calendar.local
    return NonconformityPublic(
        key=row.key, type=row.type, label_vi=LABELS_VI.get(row.type, row.type),
        label_en=LABELS_EN.get(row.type, row.type), case_id=row.case_id, agency=row.agency,
        procedure=row.procedure, procedure_version=row.procedure_version, step=row.step,
        due_at=local(row.due_at) if row.due_at else None, actual_at=local(row.actual_at) if row.actual_at else None,
        delay_working_hours=hours(row.delay_seconds), detected_at=local(row.detected_at),
        event_ids=list(row.event_ids), status=row.status, next=corrective.allowed(row.status), version=version,
        corrective_action=_action_public(action, eiso) if action is not None else None)


def _action_public(action: CorrectiveAction, eiso: App) -> CorrectiveActionPublic:
    values: dict[str, Any] = {name: getattr(action, name) for name in (*_FIELDS, "updated_at", "updated_by")}
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
) -> NonconformityPage:
    nc, ca = NonconformityRow, CorrectiveAction
    query = select(nc, ca, etag.latest(col(nc.key))).join(ca, col(ca.key) == col(nc.key), isouter=True).where(
        user.scope.clause(col(nc.agency)))
    clause = agency_filter(agency, col(nc.agency))
    if clause is not None:
        query = query.where(clause)
    if status is None and not include_retracted:
        query = query.where(col(nc.status) != corrective.RETRACTED)
    for column, value in ((nc.type, type), (nc.case_id, case_id), (nc.procedure, procedure), (nc.status, status)):
        if value is not None:
            query = query.where(column == value)
    if cause_category is not None:
        query = query.where(col(ca.cause_category) == cause_category.value)
    if detected_from is not None:
        query = query.where(col(nc.detected_at) >= aware(detected_from, eiso.calendar.zone))
    if detected_to is not None:
        query = query.where(col(nc.detected_at) < aware(detected_to, eiso.calendar.zone))
    total = session.exec(select(func.count()).select_from(query.subquery())).one()
    rows = session.exec(query.order_by(col(nc.detected_at), col(nc.key)).limit(limit).offset(offset)).all()
    return NonconformityPage(items=[public(r, a, eiso, int(v)) for r, a, v in rows], total=int(total), limit=limit,
                             offset=offset)


def _visible(session: Session, user: Principal, key: str) -> NonconformityRow:
    row = session.get(NonconformityRow, key)
    if row is None or not user.scope.covers(row.agency):
        raise not_found(f"nonconformity {key!r}")
    return row


def _transition(session: Session, eiso: App, user: Principal, key: str, command: Command, if_match: str | None,
                response: Response, changes: dict[str, Any], effective: bool | None = None) -> NonconformityPublic:
    wanted = etag.expected(if_match)
    row = _visible(session, user, key)
    read = etag.current(session, key)
    if wanted is not None and wanted != read:
        raise _stale(read)
    action = session.get(CorrectiveAction, key)
    before_status = row.status
    try:
        status = corrective.next_status(before_status, command, effective)
    except TransitionRefused as err:
        raise ApiError(409, str(err)) from None
    now = eiso.clock.now()
    before = {"status": before_status, **({n: getattr(action, n) for n in _FIELDS} if action else {})}
    changed = session.exec(update(NonconformityRow).where(
        col(NonconformityRow.key) == key, col(NonconformityRow.status) == before_status).values(status=status))
    if changed.rowcount != 1:
        raise ApiError(409, "the nonconformity changed meanwhile; read it again")
    # The row is locked now (PostgreSQL) or the database is (SQLite): a change committed since the
    # version was read shows here, even one that left the status as it was (cause after cause).
    now_version = etag.current(session, key)
    if now_version != read:
        session.rollback()
        raise _stale(now_version)
    if action is None:
        action = CorrectiveAction(key=key, updated_at=now, updated_by=user.name)
    for name, value in changes.items():
        setattr(action, name, value)
    action.updated_at, action.updated_by = now, user.name
    session.add(action)
    after = {"status": status, **{n: getattr(action, n) for n in _FIELDS}}
    audit.record(session, user, now, f"nonconformity.{command.value}", "nonconformity", key, row.agency,
                 before, after)
    if eiso.service.outbox is not None:
        session.flush()
        eiso.service.outbox.nonconformities(session.connection(), [key], now)
    session.commit()
    session.refresh(row)
    version = etag.current(session, key)
    response.headers["ETag"] = etag.tag(version)
    return public(row, action, eiso, version)


def _stale(version: int) -> ApiError:
    return ApiError(409, f"the nonconformity changed since it was read (now version {version}); read it again",
                    headers={"ETag": etag.tag(version)})


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
    return _transition(session, eiso, user, key, Command.correction, if_match, response,
                       {"correction": body.correction, "corrected_at": eiso.clock.now()})


@router.post("/{key:path}/cause", response_model=NonconformityPublic, responses=_WRITE,
             summary="Record the root cause (correction_recorded or cause_analysed → cause_analysed)")
def record_cause(key: Key, body: CauseCreate, user: NcWorker, eiso: AppDep, session: SessionDep,
                 response: Response, if_match: IfMatch = None) -> NonconformityPublic:
    return _transition(session, eiso, user, key, Command.cause, if_match, response,
                       {"cause": body.cause, "cause_category": body.category.value})


@router.post("/{key:path}/action", response_model=NonconformityPublic, responses=_WRITE,
             summary="Plan the corrective action with its owner and due date (cause_analysed → action_planned)")
def plan_action(key: Key, body: ActionCreate, user: NcWorker, eiso: AppDep, session: SessionDep,
                response: Response, if_match: IfMatch = None) -> NonconformityPublic:
    today = eiso.calendar.local(eiso.clock.now()).date()
    if body.due < today:
        raise ApiError(422, f"the action's due date {body.due.isoformat()} is in the past (today is "
                       f"{today.isoformat()})")
    return _transition(session, eiso, user, key, Command.action, if_match, response, {
        "action": body.action, "action_owner": body.owner, "action_due": body.due,
        "verification": None, "effective": None, "verified_at": None})


@router.post("/{key:path}/verification", response_model=NonconformityPublic, responses=_WRITE,
             summary="Verify effectiveness (action_planned → action_verified; not effective → cause_analysed)")
def verify_action(key: Key, body: VerificationCreate, user: NcVerifier, eiso: AppDep, session: SessionDep,
                  response: Response, if_match: IfMatch = None) -> NonconformityPublic:
    return _transition(session, eiso, user, key, Command.verification, if_match, response, {
        "verification": body.verification, "effective": body.effective, "verified_at": eiso.clock.now()},
        effective=body.effective)


@router.post("/{key:path}/close", response_model=NonconformityPublic, responses=_WRITE,
             summary="Close (action_verified → closed)")
def close(key: Key, body: CloseCreate, user: NcVerifier, eiso: AppDep, session: SessionDep,
          response: Response, if_match: IfMatch = None) -> NonconformityPublic:
    return _transition(session, eiso, user, key, Command.close, if_match, response,
                       {"closing_note": body.note, "closed_at": eiso.clock.now()})
