"""Database tables (SQLModel). They never leave through an API: adapters map them.

Throughput design: an event appends one ``journal`` row and updates the small ``case``
row and the step rows it touched; the case's full state (with its workflow) is written
to ``case_snapshot`` only every few events and when the case closes. A case is rebuilt
from its latest snapshot plus the journal rows after it.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import JSON, Column, DateTime, Index, LargeBinary, Text, TypeDecorator, UniqueConstraint
from sqlmodel import Field, SQLModel

from engine.core.agency import EVERY_AGENCY, MAX_SCOPE_AGENCIES
from engine.core.states import NonconformityStatus

# A scope key: at most MAX_SCOPE_AGENCIES agency codes of at most 100 characters, comma-separated.
SCOPE_LENGTH = MAX_SCOPE_AGENCIES * 101  # 2020, as migration 0007 wrote it


class UTCDateTime(TypeDecorator[datetime]):
    """Aware datetimes stored as UTC; SQLite keeps no offset, PostgreSQL uses timestamptz."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Any) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given to the store")
        value = value.astimezone(UTC)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: datetime | None, dialect: Any) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def _ts(nullable: bool = True, index: bool = False) -> Any:
    return Field(default=None, sa_column=Column(UTCDateTime(), nullable=nullable, index=index))


class ProcedureVersion(SQLModel, table=True):
    __tablename__ = "procedure_version"
    # Versions are numbered per code and scope: agency B's version 1 is not agency A's.
    __table_args__ = (UniqueConstraint("code", "scope", "version", name="uq_procedure_code_scope_version"),)

    id: int | None = Field(default=None, primary_key=True)
    code: str = Field(index=True, max_length=32)
    scope: str = Field(default=EVERY_AGENCY, max_length=SCOPE_LENGTH,  # engine.core.agency.scope_key
                       sa_column_kwargs={"server_default": EVERY_AGENCY})
    version: int
    process_id: str = Field(max_length=255)
    name: str = Field(max_length=500)
    filename: str = Field(max_length=500)
    checksum: str = Field(max_length=64)
    statutory_limit_seconds: int
    source: bytes = Field(sa_column=Column(LargeBinary, nullable=False))
    deployed_at: datetime = _ts(nullable=False)
    retired_at: datetime | None = _ts()


class CaseRow(SQLModel, table=True):
    __tablename__ = "cases"
    # PostgreSQL also has ix_cases_open_agency_due on (reverse(agency) text_pattern_ops, due_at) WHERE
    # resolved_at IS NULL AND closed_at IS NULL (migration 0005; an expression index SQLite has no use for).
    __table_args__ = (Index("ix_cases_watch", "clock_running", "overdue_flagged", "due_at"),)

    case_id: str = Field(primary_key=True, max_length=200)
    agency: str = Field(index=True, max_length=100)
    # The code the case was received with when the agency code history moved it on to a successor
    # (engine.core.agency_history; migration 0016); None: the same as agency.
    agency_original: str | None = Field(default=None, max_length=100)
    procedure: str = Field(index=True, max_length=32)
    procedure_version: int
    procedure_scope: str = Field(default=EVERY_AGENCY, max_length=SCOPE_LENGTH,
                                 sa_column_kwargs={"server_default": EVERY_AGENCY})
    status: str = Field(index=True, max_length=32)
    received_at: datetime = _ts(nullable=False, index=True)
    started_at: datetime = _ts(nullable=False)
    due_at: datetime | None = _ts(index=True)
    clock_running: bool = Field(default=True)
    overdue_flagged: bool = Field(default=False)
    promised_at: datetime | None = _ts()
    extended_due_at: datetime | None = _ts()
    resolved_at: datetime | None = _ts(index=True)
    timeliness: str | None = Field(default=None, max_length=16)
    delay_seconds: int | None = None
    closed_at: datetime | None = _ts()
    last_event_at: datetime | None = _ts()
    event_count: int = 0
    journal_seq: int = 0


class CaseStepRow(SQLModel, table=True):
    __tablename__ = "case_step"
    __table_args__ = (Index("ix_case_step_watch", "running", "overdue_flagged", "due_at"),)

    case_id: str = Field(primary_key=True, max_length=200)
    seq: int = Field(primary_key=True)
    step: str = Field(max_length=255)
    unit: str | None = Field(default=None, max_length=255)
    agency: str = Field(max_length=100, index=True)
    procedure: str = Field(max_length=32)
    status: str = Field(max_length=16)
    activated_at: datetime = _ts(nullable=False)
    started_at: datetime | None = _ts()
    due_at: datetime | None = _ts()
    completed_at: datetime | None = _ts()
    timeliness: str | None = Field(default=None, max_length=16)
    delay_seconds: int | None = None
    running: bool = False
    overdue_flagged: bool = False
    # A completed step's working time in seconds (engine.core.step_time.worked), kept when it completes
    # (migration 0015); NULL while not completed, and for steps completed before 0015.
    worked_seconds: int | None = None


class JournalEntry(SQLModel, table=True):
    __tablename__ = "journal"
    __table_args__ = (Index("ix_journal_case_seq", "case_id", "seq"),)

    seq: int | None = Field(default=None, primary_key=True)
    event_id: str = Field(max_length=255, unique=True)
    case_id: str = Field(max_length=200)
    type: str = Field(max_length=64)
    occurred_at: datetime = _ts(nullable=False)
    recorded_at: datetime = _ts(nullable=False)
    payload: dict[str, Any] = Field(sa_column=Column(JSON, nullable=False))
    notes: str | None = Field(default=None, sa_column=Column(Text))


class CaseSnapshot(SQLModel, table=True):
    __tablename__ = "case_snapshot"

    case_id: str = Field(primary_key=True, max_length=200)
    journal_seq: int
    serializer_version: str = Field(max_length=16)
    state: dict[str, Any] = Field(sa_column=Column(JSON, nullable=False))
    taken_at: datetime = _ts(nullable=False)


class ParkedEvent(SQLModel, table=True):
    __tablename__ = "parked_event"

    id: int | None = Field(default=None, primary_key=True)
    event_id: str = Field(max_length=255, unique=True)
    case_id: str = Field(max_length=200, index=True)
    procedure: str = Field(max_length=32, index=True)
    reason: str = Field(sa_column=Column(Text, nullable=False))
    payload: dict[str, Any] = Field(sa_column=Column(JSON, nullable=False))
    parked_at: datetime = _ts(nullable=False)


class RefusedEvent(SQLModel, table=True):
    __tablename__ = "refused_event"

    id: int | None = Field(default=None, primary_key=True)
    event_id: str | None = Field(default=None, max_length=255, index=True)
    source: str = Field(max_length=500)
    raw: str = Field(sa_column=Column(Text, nullable=False))
    problems: str = Field(sa_column=Column(Text, nullable=False))
    refused_at: datetime = _ts(nullable=False)


class NonconformityRow(SQLModel, table=True):
    __tablename__ = "nonconformity"

    key: str = Field(primary_key=True, max_length=400)
    type: str = Field(index=True, max_length=40)
    case_id: str = Field(index=True, max_length=200)
    agency: str = Field(index=True, max_length=100)
    procedure: str = Field(index=True, max_length=32)
    procedure_version: int
    procedure_scope: str = Field(default=EVERY_AGENCY, max_length=SCOPE_LENGTH,  # the case's (migration 0010)
                                 sa_column_kwargs={"server_default": EVERY_AGENCY})
    step: str | None = Field(default=None, max_length=255)
    due_at: datetime | None = _ts()
    actual_at: datetime | None = _ts()
    delay_seconds: int | None = None
    detected_at: datetime = _ts(nullable=False, index=True)
    event_ids: list[str] = Field(sa_column=Column(JSON, nullable=False))
    details: dict[str, Any] = Field(sa_column=Column(JSON, nullable=False))
    status: str = Field(default=NonconformityStatus.OPEN, max_length=32, index=True)
    updated_at: datetime = _ts(nullable=False)
    # ``history:<import id>`` for a finding raised by a replayed history (eiso history import, migration
    # 0017); NULL: live. Written with a new record only, never changed by an update.
    source: str | None = Field(default=None, max_length=60, index=True)






class OutboxMessage(SQLModel, table=True):
    """Messages for other systems, written in the same transaction as the change they report.

    A publisher sends them after the commit and marks them published; each carries a stable
    ``message_id`` so that a message sent twice (crash between send and mark) can be dropped.
    """

    __tablename__ = "outbox"
    __table_args__ = (Index("ix_outbox_pending", "published_at", "id"),)

    id: int | None = Field(default=None, primary_key=True)
    message_id: str = Field(max_length=500, unique=True)
    kind: str = Field(max_length=32)
    message_key: str | None = Field(default=None, max_length=255)
    value: bytes = Field(sa_column=Column(LargeBinary, nullable=False))
    headers: dict[str, Any] = Field(sa_column=Column(JSON, nullable=False))
    created_at: datetime = _ts(nullable=False)
    published_at: datetime | None = _ts()


__all__ = [
    "CaseRow", "CaseSnapshot", "CaseStepRow", "JournalEntry", "NonconformityRow", "OutboxMessage", "ParkedEvent",
    "ProcedureVersion", "RefusedEvent", "UTCDateTime",
]
