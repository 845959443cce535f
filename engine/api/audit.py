"""The audit log: one row per change made through the API, never updated, never deleted."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from sqlmodel import Session

from engine.api.deps import Principal
from engine.store.tables_api import AuditEntry


def jsonable(values: dict[str, Any] | None) -> dict[str, Any] | None:
    """``values`` with dates and times as ISO 8601 text, for a JSON column."""
    if values is None:
        return None
    return {k: v.isoformat() if isinstance(v, date | datetime) else v for k, v in values.items()}


def record(session: Session, user: Principal, at: datetime, action: str, entity: str, key: str,
           agency: str | None, before: dict[str, Any] | None, after: dict[str, Any] | None) -> None:
    """Add an entry to the session's transaction: it commits, or rolls back, with the change."""
    session.add(AuditEntry(at=at, actor=user.name, actor_role=user.role.value, action=action, entity=entity,
                           entity_key=key, agency=agency, before=jsonable(before), after=jsonable(after)))
