"""History imports in the store: the import record (``history_import``, migration 0017), the audit
entry, the source of replayed findings, and the procedures an audit-run database needs.

A replay writes through ``ReplayCaseStore``: the ingest use case's own statements, with every
nonconformity it raises tagged ``history:<import id>`` (``nonconformity.source``; NULL means live).
A record keeps the source it was raised with: a later update (``step_overdue`` becoming
``step_late``) does not change it. No outbox row is written (the replay's service has no outbox).
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime
from typing import Any

from sqlalchemy import JSON, Column, Engine, make_url
from sqlalchemy import select as sa_select
from sqlmodel import Field, Session, SQLModel, col, select

from engine.store.audit import add_entry
from engine.store.case_store import SqlCaseStore, SqlCaseTransaction
from engine.store.cases import CASES, JOURNAL
from engine.store.sources import HISTORY_PREFIX
from engine.store.tables import ProcedureVersion, UTCDateTime
from engine.store.writes import Writes

__all__ = ["HISTORY_PREFIX", "HistoryImportRow", "ReplayCaseStore", "copy_procedures", "finish_import",
           "foreign_cases", "safe_url", "source_of", "start_import"]


def source_of(import_id: str) -> str:
    return HISTORY_PREFIX + import_id


class HistoryImportRow(SQLModel, table=True):
    """One ``eiso history import``: what was read, with which mapping, by whom, when."""

    __tablename__ = "history_import"

    id: str = Field(primary_key=True, max_length=40)
    file_name: str = Field(max_length=500)
    sha256: str = Field(max_length=64, index=True)
    rows: int = 0
    cases: int = 0
    events: int = 0
    cases_refused: int = 0
    mapping: dict[str, Any] = Field(sa_column=Column(JSON, nullable=False))
    started_at: datetime = Field(sa_column=Column(UTCDateTime(), nullable=False))
    finished_at: datetime | None = Field(default=None, sa_column=Column(UTCDateTime(), nullable=True))
    actor: str = Field(max_length=200)


class _ReplayTransaction(SqlCaseTransaction):
    def __init__(self, parent: SqlCaseTransaction, source: str):
        super().__init__(parent.conn, None)
        self.source = source

    def flush(self, writes: Writes) -> None:
        for row in writes.nonconformities.values():
            row["source"] = self.source  # inserted with it; the upsert's update leaves it as it was
        super().flush(writes)


class ReplayCaseStore(SqlCaseStore):
    """The SQL case store for a replay: no outbox, and its findings carry ``source``."""

    def __init__(self, engine: Engine, source: str):
        super().__init__(engine, None)
        self.source = source

    @contextmanager
    def transaction(self) -> Iterator[SqlCaseTransaction]:
        with super().transaction() as tx:
            yield _ReplayTransaction(tx, self.source)


def start_import(engine: Engine, row: HistoryImportRow) -> str:
    """Insert the record (unfinished) under ``row.id``, or ``<id>-2``, ``-3``... when an import of the same
    file began in the same second; returns the id given."""
    with Session(engine) as session, session.begin():
        taken = set(session.exec(select(HistoryImportRow.id).where(
            col(HistoryImportRow.id).startswith(row.id))).all())
        base, number = row.id, 1
        while row.id in taken:
            number += 1
            row.id = f"{base}-{number}"
        session.add(row)
        return row.id


def finish_import(engine: Engine, import_id: str, *, rows: int, cases: int, events: int, cases_refused: int,
                  at: datetime, role: str, audit_engines: list[Engine], target: str) -> None:
    """Record the counts and the end, and add the audit entry (to each of ``audit_engines``)."""
    with Session(engine) as session, session.begin():
        record = session.get(HistoryImportRow, import_id)
        assert record is not None
        record.rows, record.cases, record.events, record.cases_refused = rows, cases, events, cases_refused
        record.finished_at = at
        session.add(record)
        after = {"import_id": import_id, "file": record.file_name, "sha256": record.sha256, "rows": rows,
                 "cases": cases, "events": events, "cases_refused": cases_refused, "mapping": record.mapping,
                 "target_database": target, "started_at": record.started_at, "finished_at": at}
        actor = record.actor
    for audited in audit_engines:
        with Session(audited) as session, session.begin():
            add_entry(session, actor=actor, role=role, at=at, action="history.import", entity="history_import",
                      key=import_id, agency=None, before=None, after=after)


def copy_procedures(source: Engine, target: Engine) -> int:
    """Deployed versions of ``source`` that ``target`` lacks (by code, scope, version), copied: an audit-run
    database replays against the same documented procedures as the normal store."""
    with Session(source) as session:
        versions = list(session.exec(select(ProcedureVersion)).all())
    copied = 0
    with Session(target) as session, session.begin():
        have = {(v.code, v.scope, v.version) for v in session.exec(select(ProcedureVersion)).all()}
        for v in versions:
            if (v.code, v.scope, v.version) in have:
                continue
            values = v.model_dump(exclude={"id"})
            session.add(ProcedureVersion(**values))
            copied += 1
    return copied


def safe_url(url: str) -> str:
    """The database URL as the audit entry records it: without its password."""
    try:
        return make_url(url).render_as_string(hide_password=True)
    except Exception:  # an unparseable URL is refused before this; never echo a secret
        return "(unreadable URL)"


def foreign_cases(engine: Engine, receipts: dict[str, str]) -> set[str]:
    """Of ``receipts`` (case id -> the replay's receipt event id), the cases already in the store whose
    receipt is not that event: another file's or the live stream's case under the same id."""
    found: set[str] = set()
    ids = list(receipts)
    with engine.connect() as conn:
        for start in range(0, len(ids), 1000):
            chunk = ids[start:start + 1000]
            present = set(conn.execute(sa_select(CASES.c.case_id).where(CASES.c.case_id.in_(chunk))).scalars())
            if not present:
                continue
            ours = set(conn.execute(sa_select(JOURNAL.c.case_id).where(
                JOURNAL.c.event_id.in_([receipts[c] for c in present]))).scalars())
            found |= present - ours
    return found
