"""The audit log's one writer: an entry per change, added to the change's own transaction.

Used by the API (``engine.api.audit``, actor = the signed-in user) and by the command line
(actor = the operating-system user or ``--actor``, role ``cli``), so that every change is audited
the same way whichever door it came through.
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from sqlmodel import Session

from engine.store.tables_api import AuditEntry

CLI_ROLE = "cli"


def jsonable(values: dict[str, Any] | None) -> dict[str, Any] | None:
    """``values`` with dates and times as ISO 8601 text, for a JSON column."""
    if values is None:
        return None
    return {k: v.isoformat() if isinstance(v, date | datetime) else v for k, v in values.items()}


def add_entry(session: Session, *, actor: str, role: str, at: datetime, action: str, entity: str, key: str,
              agency: str | None, before: dict[str, Any] | None, after: dict[str, Any] | None) -> None:
    """Add an entry to the session's transaction: it commits, or rolls back, with the change."""
    session.add(AuditEntry(at=at, actor=actor, actor_role=role, action=action, entity=entity, entity_key=key,
                           agency=agency, before=jsonable(before), after=jsonable(after)))
