"""The audit log, for auditors: every change made through the API, oldest first."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, Query
from sqlalchemy import func, or_
from sqlmodel import col, select
from sqlmodel.sql.expression import SelectOfScalar

from engine.api.deps import AppDep, AuditReader, Principal, SessionDep
from engine.api.models.audit import AuditEntryPublic, AuditPage
from engine.api.models.common import SaneDateTime, aware
from engine.bootstrap import App
from engine.store.tables_api import AuditEntry

router = APIRouter(prefix="/audit", tags=["audit"])


@router.get("", response_model=AuditPage, summary="Audit log entries (who, when, what, before, after)")
def audit_log(
    user: AuditReader, eiso: AppDep, session: SessionDep,
    entity: Annotated[str | None, Query(max_length=32, description="nonconformity, procedure or user")] = None,
    entity_key: Annotated[str | None, Query(max_length=400)] = None,
    actor: Annotated[str | None, Query(max_length=200)] = None,
    at_from: Annotated[SaneDateTime | None, Query(alias="from")] = None,
    at_to: Annotated[SaneDateTime | None, Query(alias="to")] = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 100, offset: Annotated[int, Query(ge=0, le=10_000_000)] = 0,
) -> AuditPage:
    query = audit_query(user, eiso, entity=entity, entity_key=entity_key, actor=actor, at_from=at_from, at_to=at_to)
    total = session.exec(select(func.count()).select_from(query.subquery())).one()
    rows = session.exec(query.order_by(col(AuditEntry.id)).limit(limit).offset(offset)).all()
    items = [AuditEntryPublic(id=r.id or 0, at=eiso.calendar.local(r.at), actor=r.actor, actor_role=r.actor_role,
                              action=r.action, entity=r.entity, entity_key=r.entity_key, agency=r.agency,
                              before=r.before, after=r.after) for r in rows]
    return AuditPage(items=items, total=int(total), limit=limit, offset=offset)


def audit_query(user: Principal, eiso: App, *, entity: str | None = None, entity_key: str | None = None,
                actor: str | None = None, action: str | None = None, at_from: datetime | None = None,
                at_to: datetime | None = None) -> SelectOfScalar[AuditEntry]:
    """The entries ``user`` may read that pass the filters (a naive time is the calendar's zone), unordered:
    the log of the API and of the console."""
    entry = AuditEntry
    # Entries about an agency's records follow the agency scope; procedure and user entries have no agency.
    query = select(entry).where(or_(col(entry.agency).is_(None), user.scope.clause(col(entry.agency))))
    for column, value in ((entry.entity, entity), (entry.entity_key, entity_key), (entry.actor, actor),
                          (entry.action, action)):
        if value is not None:
            query = query.where(column == value)
    if at_from is not None:
        query = query.where(col(entry.at) >= aware(at_from, eiso.calendar.zone))
    if at_to is not None:
        query = query.where(col(entry.at) < aware(at_to, eiso.calendar.zone))
    return query
