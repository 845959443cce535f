"""The audit log: one row per change made through the API, never updated, never deleted."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlmodel import Session

from engine.api.deps import Principal
from engine.store.audit import add_entry, jsonable

__all__ = ["jsonable", "record"]


def record(session: Session, user: Principal, at: datetime, action: str, entity: str, key: str,
           agency: str | None, before: dict[str, Any] | None, after: dict[str, Any] | None) -> None:
    """Add an entry to the session's transaction: it commits, or rolls back, with the change."""
    add_entry(session, actor=user.name, role=user.role.value, at=at, action=action, entity=entity, key=key,
              agency=agency, before=before, after=after)
