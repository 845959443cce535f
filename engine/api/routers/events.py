"""Case events over HTTP: a batch of contract events, each answered like the Kafka worker's acknowledgement.

Every event goes through ``CaseService.ingest_object``: the same validation, idempotency
(``event_id``) and parking as Kafka and ``eiso ingest``. Events are applied in order, one
transaction each; after an error, send the batch again: the applied ones answer ``duplicate``.
A batch with an event outside the caller's agencies is refused whole (403) before anything
is written. When other writers keep changing a case (another API process, the worker), the service
re-reads it and applies again; if that still fails, the case's remaining events of the batch are not
applied and the answer is 409 with ``Retry-After``, the other events' answers included.
"""

from __future__ import annotations

import json
from typing import Annotated, Any

from fastapi import APIRouter, Body, Request
from fastapi.responses import JSONResponse
from sqlmodel import Session, col, select

from engine.api.deps import AppDep, Ingester, Principal
from engine.api.errors import ApiError
from engine.api.models.events import (
    EventOutcomePublic,
    EventStatus,
    IngestBusyPublic,
    IngestPublic,
    RaisedPublic,
)
from engine.bootstrap import App
from engine.core.agency_history import AgencyHistory
from engine.core.events import (
    AGENCY_CODE_PATTERN,
    MAX_LENGTHS,
    MAX_NESTING,
    MAX_YEAR,
    MIN_YEAR,
    EventInvalid,
    unstorable,
)
from engine.service import CaseBusy, Outcome
from engine.store.tables import CaseRow

router = APIRouter(prefix="/events", tags=["events"])
RETRY_AFTER_SECONDS = 1
# The items stay free-form in the OpenAPI document on purpose: each event is checked by the engine's parser
# and answered on its own (a bad event is refused and kept; it never turns the whole batch into a 422).
_LENGTHS = ", ".join(f"{limit} characters for {name}" for name, limit in MAX_LENGTHS.items())
EVENTS_BODY = (
    "Contract events (JSON objects, as connectors/schemas/case-event.schema.json), applied in order; at most "
    "EISO_API_MAX_BATCH (default 1000). Each is checked on its own and an event that breaks a rule is answered "
    "`refused` with the reason: identifiers (event_id, type, case_id, agency, procedure, step) without "
    f"surrounding whitespace or control characters, at most {_LENGTHS}; agency codes matching "
    f"{AGENCY_CODE_PATTERN} (Decision 20/2020/QĐ-TTg); occurred_at and due_at RFC 3339 with an offset, in the "
    f"years {MIN_YEAR}-{MAX_YEAR}; no NUL character or unpaired surrogate anywhere; finite numbers; at most "
    f"{MAX_NESTING} levels of nesting. An event id "
    "already used for a different event is refused as a conflict.")


def _out_of_scope(session: Session, user: Principal, events: list[Any], history: AgencyHistory) -> list[int]:
    """The events of agencies the user does not cover: judged on the code an event stands for now (a closed
    agency code's events belong to its successor, ``engine.core.agency_history``) and on its case's code."""
    if user.scope.everything:
        return []
    bad = [i for i, e in enumerate(events) if isinstance(e, dict) and isinstance(e.get("agency"), str)
           and not user.scope.covers(history.current(e["agency"]))]
    case_ids = {e["case_id"] for e in events if isinstance(e, dict) and isinstance(e.get("case_id"), str)
                and not unstorable(e["case_id"])}
    if case_ids:
        agencies = dict(session.exec(select(CaseRow.case_id, CaseRow.agency)
                                     .where(col(CaseRow.case_id).in_(sorted(case_ids)))).all())
        bad += [i for i, e in enumerate(events) if isinstance(e, dict) and e.get("case_id") in agencies
                and not user.scope.covers(agencies[e["case_id"]])]
    return sorted(set(bad))


def _clean_id(event: Any) -> str | None:
    value = event.get("event_id") if isinstance(event, dict) else None
    return value[:200] if isinstance(value, str) and value and not unstorable(value) else None


def _public(index: int, outcome: Outcome) -> EventOutcomePublic:
    return EventOutcomePublic(
        index=index, status=EventStatus(outcome.status), event_id=outcome.event_id, case_id=outcome.case_id,
        step=outcome.step, reason=outcome.reason,
        nonconformities=[RaisedPublic(key=n.key, type=n.type, step=n.step) for n in outcome.nonconformities])


@router.post("", response_model=IngestPublic, responses={
    403: {"description": "An event outside the caller's agencies: nothing applied"},
    409: {"model": IngestBusyPublic, "description": "Other writers kept changing a case: its events listed in "
          "`not_applied` were not applied, the others have their answers; send the batch again after "
          "`Retry-After` seconds (what was applied answers `duplicate`)",
          "headers": {"Retry-After": {"description": "seconds to wait", "schema": {"type": "integer"}}}}},
             summary="Apply a batch of case events, in order; one answer per event")
def ingest(request: Request, user: Ingester, eiso: AppDep,
           events: Annotated[list[Any], Body(description=EVENTS_BODY)]
           ) -> IngestPublic | JSONResponse:
    limit = request.app.state.api_settings.max_batch
    if len(events) > limit:
        raise ApiError(422, f"{len(events)} events in one batch; the limit is {limit}")
    with Session(eiso.engine) as session:
        bad = _out_of_scope(session, user, events, eiso.service.agency_codes.history())
    if bad:
        shown = ", ".join(str(i) for i in bad[:20])
        raise ApiError(403, f"event(s) at index {shown} concern agencies outside yours; nothing was applied")
    results: list[EventOutcomePublic] = []
    busy: list[str] = []  # cases given up on: their later events wait too, so that their order holds
    not_applied: list[int] = []
    with request.app.state.writer_lock:
        for index, event in enumerate(events):
            if _case_of(event) in busy:
                not_applied.append(index)
                continue
            try:
                outcome = _ingest_one(eiso, event, f"http:{user.name}#{index}")
            except CaseBusy as err:
                busy.append(err.case_id)
                not_applied.append(index)
                continue
            results.append(_public(index, outcome))
    counts = {status: sum(r.status == status for r in results) for status in EventStatus}
    answer = IngestPublic(results=results, applied=counts[EventStatus.applied],
                          duplicate=counts[EventStatus.duplicate], parked=counts[EventStatus.parked],
                          refused=counts[EventStatus.refused])
    if not busy:
        return answer
    detail = (f"case(s) {', '.join(busy[:20])} were being changed by other writers; the events at index "
              f"{', '.join(str(i) for i in not_applied[:20])} were not applied: send the batch again")
    busy_answer = IngestBusyPublic(**answer.model_dump(), detail=detail, not_applied=not_applied,
                                   retry_after_seconds=RETRY_AFTER_SECONDS)
    return JSONResponse(busy_answer.model_dump(mode="json"), status_code=409,
                        headers={"Retry-After": str(RETRY_AFTER_SECONDS)})


def _ingest_one(eiso: App, event: Any, source: str) -> Outcome:
    problem = unstorable(event)
    if problem is not None:
        raw = json.dumps(event, ensure_ascii=True, default=str)
        return eiso.service.refuse(raw, EventInvalid([problem], event_id=_clean_id(event)), source)
    outcome: Outcome = eiso.service.ingest_object(event, source)
    return outcome


def _case_of(event: Any) -> str | None:
    value = event.get("case_id") if isinstance(event, dict) else None
    return value if isinstance(value, str) else None
