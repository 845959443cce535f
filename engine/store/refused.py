"""Dropping refused events the user no longer wants, with the audit entry in the same transaction."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import ColumnElement, and_, delete, func, or_, select, true
from sqlmodel import Session, col

from engine.store.audit import add_entry
from engine.store.tables import RefusedEvent


def _escaped(text: str) -> str:
    return text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


def _chosen(before: datetime | None, source: str | None) -> ColumnElement[bool]:
    conditions: list[ColumnElement[bool]] = []
    if before is not None:
        conditions.append(col(RefusedEvent.refused_at) < before)
    if source is not None:
        # A file's rows are "<file>:<line>": the file name alone names them all.
        conditions.append(or_(col(RefusedEvent.source) == source,
                              col(RefusedEvent.source).like(_escaped(source) + ":%", escape="\\")))
    return and_(true(), *conditions)


def purge_refused(session: Session, *, before: datetime | None, source: str | None, actor: str, role: str,
                  at: datetime) -> int:
    """Delete the refused events chosen (all when neither ``before`` nor ``source``); one audit entry says
    how many, chosen how. Commits nothing: the caller's transaction holds both."""
    chosen = _chosen(before, source)
    count = session.execute(select(func.count()).select_from(RefusedEvent).where(chosen)).scalar_one()
    if not count:
        return 0
    session.execute(delete(RefusedEvent).where(chosen))
    criteria: dict[str, Any] = {"before": before, "source": source}
    add_entry(session, actor=actor, role=role, at=at, action="refused_event.purge", entity="refused_event",
              key=f"before={before.isoformat() if before else '*'} source={source or '*'}"[:400], agency=None,
              before={"rows": int(count), **criteria}, after=None)
    return int(count)
