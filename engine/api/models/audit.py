"""Entries of the append-only audit log."""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel


class AuditEntryPublic(BaseModel):
    id: int
    at: datetime
    actor: str
    actor_role: str
    action: str
    entity: str
    entity_key: str
    agency: str | None
    before: dict[str, object] | None
    after: dict[str, object] | None


class AuditPage(BaseModel):
    items: list[AuditEntryPublic]
    total: int
    limit: int
    offset: int
