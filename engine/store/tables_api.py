"""Tables of the HTTP API: users and their tokens, corrective actions, the audit log.

The corrective-action details live beside the engine's ``nonconformity`` table, keyed by the
same ``key``: the engine upserts its table on every event and must never clobber what the ISO
secretaries wrote. The audit log is append-only; triggers in migration 0003 refuse UPDATE and
DELETE on it.
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from sqlalchemy import JSON, Column, ForeignKey, Index, String, Text
from sqlmodel import Field, SQLModel

from engine.store.tables import UTCDateTime


def _ts(nullable: bool = True, index: bool = False) -> Any:
    return Field(default=None, sa_column=Column(UTCDateTime(), nullable=nullable, index=index))


def _text() -> Any:
    return Field(default=None, sa_column=Column(Text, nullable=True))


class ApiUser(SQLModel, table=True):
    """A person or system that calls the API with a token; ``agencies`` empty means every agency."""

    __tablename__ = "api_user"

    id: int | None = Field(default=None, primary_key=True)
    name: str = Field(max_length=200, unique=True)
    role: str = Field(max_length=32)
    agencies: list[str] = Field(sa_column=Column(JSON, nullable=False))
    created_at: datetime = _ts(nullable=False)
    disabled_at: datetime | None = _ts()


class ApiToken(SQLModel, table=True):
    """Only the SHA-256 of a token is kept; the token itself is shown once, at creation."""

    __tablename__ = "api_token"

    id: int | None = Field(default=None, primary_key=True)
    user_id: int = Field(sa_column=Column(ForeignKey("api_user.id"), nullable=False, index=True))
    token_hash: str = Field(max_length=64, unique=True)
    created_at: datetime = _ts(nullable=False)
    revoked_at: datetime | None = _ts()


class CorrectiveAction(SQLModel, table=True):
    """ISO 9001 clause 10.2 for one nonconformity: correction, cause, action, verification."""

    __tablename__ = "corrective_action"

    key: str = Field(sa_column=Column(String(400), ForeignKey("nonconformity.key"), primary_key=True))
    correction: str | None = _text()
    corrected_at: datetime | None = _ts()
    cause: str | None = _text()
    cause_category: str | None = Field(default=None, max_length=32, index=True)
    action: str | None = _text()
    action_owner: str | None = Field(default=None, max_length=200)
    action_due: date | None = None
    verification: str | None = _text()
    effective: bool | None = None
    verified_at: datetime | None = _ts()
    closing_note: str | None = _text()
    closed_at: datetime | None = _ts()
    updated_at: datetime = _ts(nullable=False)
    updated_by: str = Field(max_length=200)


class AuditEntry(SQLModel, table=True):
    """Who changed what, when, with the state before and after. Never updated, never deleted."""

    __tablename__ = "audit_log"
    __table_args__ = (Index("ix_audit_log_entity", "entity", "entity_key"),)

    id: int | None = Field(default=None, primary_key=True)
    at: datetime = _ts(nullable=False, index=True)
    actor: str = Field(max_length=200)
    actor_role: str = Field(max_length=32)
    action: str = Field(max_length=64)
    entity: str = Field(max_length=32)
    entity_key: str = Field(max_length=400)
    agency: str | None = Field(default=None, max_length=100, index=True)
    before: dict[str, Any] | None = Field(default=None, sa_column=Column(JSON, nullable=True))
    after: dict[str, Any] | None = Field(default=None, sa_column=Column(JSON, nullable=True))


class ConsoleSession(SQLModel, table=True):
    """A signed-in browser of the web console. Only the SHA-256 of the cookie's secret is kept; signing
    out deletes the row, so a copied cookie dies with it. The identity is kept as signed in (a token's
    user is checked again on every request, so disabling the user or revoking the token ends it)."""

    __tablename__ = "console_session"

    id_hash: str = Field(max_length=64, primary_key=True)
    user_name: str = Field(max_length=200)
    role: str = Field(max_length=32)
    agencies: list[str] = Field(sa_column=Column(JSON, nullable=False))
    token_hash: str | None = Field(default=None, max_length=64)
    csrf: str = Field(max_length=64)
    created_at: datetime = _ts(nullable=False)
    expires_at: datetime = _ts(nullable=False, index=True)


__all__ = ["ApiToken", "ApiUser", "AuditEntry", "ConsoleSession", "CorrectiveAction"]
