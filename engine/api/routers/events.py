"""Case events over HTTP: a batch of contract events, each answered like the Kafka worker's acknowledgement.

Every event goes through ``CaseService.ingest_object``: the same validation, idempotency
(``event_id``) and parking as Kafka and ``eiso ingest``. Events are applied in order, one
transaction each; after an error, send the batch again: the applied ones answer ``duplicate``.
A batch with an event outside the caller's agencies is refused whole (403) before anything
is written.
"""

from __future__ import annotations

import json
import math
from typing import Annotated, Any

from fastapi import APIRouter, Body, Request
from sqlmodel import Session, col, select

from engine.api.deps import AppDep, Ingester, Principal
from engine.api.errors import ApiError
from engine.api.models.events import EventOutcomePublic, EventStatus, IngestPublic, RaisedPublic
from engine.core.events import EventInvalid
from engine.service import Outcome
from engine.store.tables import CaseRow

router = APIRouter(prefix="/events", tags=["events"])


def unstorable(value: Any, depth: int = 0) -> str | None:
    """Why ``value`` cannot be stored as text or JSON on every database, or None."""
    if depth > 64:
        return "nested more than 64 levels deep"
    if isinstance(value, str):
        if "\x00" in value:
            return "text contains a NUL character"
        if any("\ud800" <= ch <= "\udfff" for ch in value):
            return "text contains a lone surrogate"
        return None
    if isinstance(value, float) and not math.isfinite(value):
        return "numbers must be finite"
    if isinstance(value, dict):
        for key, item in value.items():
            problem = unstorable(key, depth + 1) or unstorable(item, depth + 1)
            if problem:
                return problem
    if isinstance(value, list):
        for item in value:
            problem = unstorable(item, depth + 1)
            if problem:
                return problem
    return None


def _out_of_scope(session: Session, user: Principal, events: list[Any]) -> list[int]:
    if user.scope.everything:
        return []
    bad = [i for i, e in enumerate(events)
           if isinstance(e, dict) and isinstance(e.get("agency"), str) and not user.scope.covers(e["agency"])]
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


@router.post("", response_model=IngestPublic, responses={403: {"description": "An event outside the caller's "
                                                                               "agencies: nothing applied"}},
             summary="Apply a batch of case events, in order; one answer per event")
def ingest(request: Request, user: Ingester, eiso: AppDep,
           events: Annotated[list[Any], Body(description="Contract events (JSON objects), applied in order; "
                                                         "at most EISO_API_MAX_BATCH (default 1000)")]
           ) -> IngestPublic:
    limit = request.app.state.api_settings.max_batch
    if len(events) > limit:
        raise ApiError(422, f"{len(events)} events in one batch; the limit is {limit}")
    with Session(eiso.engine) as session:
        bad = _out_of_scope(session, user, events)
    if bad:
        shown = ", ".join(str(i) for i in bad[:20])
        raise ApiError(403, f"event(s) at index {shown} concern agencies outside yours; nothing was applied")
    results: list[EventOutcomePublic] = []
    with request.app.state.writer_lock:
        for index, event in enumerate(events):
            source = f"http:{user.name}#{index}"
            problem = unstorable(event)
            if problem is not None:
                raw = json.dumps(event, ensure_ascii=True, default=str)
                outcome = eiso.service.refuse(raw, EventInvalid([problem], event_id=_clean_id(event)), source)
            else:
                outcome = eiso.service.ingest_object(event, source)
            results.append(_public(index, outcome))
    counts = {status: sum(r.status == status for r in results) for status in EventStatus}
    return IngestPublic(results=results, applied=counts[EventStatus.applied],
                        duplicate=counts[EventStatus.duplicate], parked=counts[EventStatus.parked],
                        refused=counts[EventStatus.refused])
