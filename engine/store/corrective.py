"""The corrective-action records in the database (``engine.application.corrective.CorrectiveRecords``).

A nonconformity's version for compare-and-set is the id of its latest audit entry (0 before
any): every corrective-action change writes exactly one audit entry in its own transaction, so
the version changes with every change and never goes back, without a column of its own.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import func, update
from sqlmodel import Session, col, select

from engine.store.audit import add_entry
from engine.store.outbox import Outbox
from engine.store.tables import NonconformityRow
from engine.store.tables_api import AuditEntry, CorrectiveAction

ENTITY = "nonconformity"


def latest(column: Any) -> Any:
    """SQL for the version of the nonconformity whose key is ``column`` (a correlated subquery)."""
    return (select(func.coalesce(func.max(AuditEntry.id), 0))
            .where(AuditEntry.entity == ENTITY, col(AuditEntry.entity_key) == column).scalar_subquery())


def current(session: Session, key: str) -> int:
    """The version of the nonconformity ``key``."""
    found = session.exec(select(func.max(AuditEntry.id)).where(AuditEntry.entity == ENTITY,
                                                               AuditEntry.entity_key == key)).one()
    return int(found or 0)


class SqlCorrectiveRecords:
    """One nonconformity's corrective-action change in the session's transaction; ``commit`` writes it all."""

    def __init__(self, session: Session, outbox: Outbox | None):
        self.session = session
        self.outbox = outbox

    def nonconformity(self, key: str) -> NonconformityRow | None:
        return self.session.get(NonconformityRow, key)

    def version(self, key: str) -> int:
        return current(self.session, key)

    def action(self, key: str) -> CorrectiveAction | None:
        return self.session.get(CorrectiveAction, key)

    def set_status(self, key: str, before: str, after: str) -> bool:
        """Compare-and-set: the row takes ``after`` only while it is ``before`` (and is locked until commit)."""
        changed = self.session.exec(update(NonconformityRow).where(
            col(NonconformityRow.key) == key, col(NonconformityRow.status) == before).values(status=after))
        return bool(changed.rowcount == 1)

    def save_action(self, action: CorrectiveAction) -> None:
        self.session.add(action)

    def audit(self, *, actor: str, role: str, at: datetime, action: str, key: str, agency: str | None,
              before: dict[str, Any], after: dict[str, Any]) -> None:
        add_entry(self.session, actor=actor, role=role, at=at, action=action, entity=ENTITY, key=key, agency=agency,
                  before=before, after=after)

    def publish(self, key: str, at: datetime) -> None:
        """The nonconformity's outbox message (with Kafka), as the database has it in this transaction."""
        if self.outbox is not None:
            self.session.flush()
            self.outbox.nonconformities(self.session.connection(), [key], at)

    def commit(self) -> None:
        self.session.commit()

    def rollback(self) -> None:
        self.session.rollback()
