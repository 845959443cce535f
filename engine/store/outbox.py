"""The outbox: messages for other systems, written in the transaction of the change they report.

Kinds: ``ack`` (what became of an event), ``nonconformity`` (raised or updated, as the
database has it) and ``dead_letter`` (an input message that could not be decoded, with its
original bytes). A publisher outside the core sends pending rows and marks them published.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, Engine, Table, select, update
from sqlalchemy.dialects import postgresql, sqlite

from engine.store.queries import Presenter, nonconformity_dict
from engine.store.tables import NonconformityRow, OutboxMessage

OUTBOX: Table = OutboxMessage.__table__  # type: ignore[attr-defined]
NCS: Table = NonconformityRow.__table__  # type: ignore[attr-defined]

ACK, NONCONFORMITY, DEAD_LETTER = "ack", "nonconformity", "dead_letter"


@dataclass(frozen=True)
class DeadLetter:
    """Where an undecodable message came from, so it can be found and replayed."""

    topic: str
    partition: int
    offset: int
    value: bytes
    key: bytes | None = None


@dataclass(frozen=True)
class PendingMessage:
    id: int
    message_id: str
    kind: str
    key: str | None
    value: bytes
    headers: dict[str, Any]


class Outbox:
    def __init__(self, presenter: Presenter):
        self.presenter = presenter
        self._inserts: dict[str, Any] = {}

    def acknowledge(self, conn: Connection, **fields: Any) -> None:
        self.insert(conn, [self.ack_row(**fields)])

    @staticmethod
    def ack_row(*, event_id: str | None, case_id: str | None, status: str, step: str | None, reason: str | None,
                nonconformity_keys: Sequence[str], now: datetime) -> dict[str, Any]:
        body = {"message": "event_outcome", "event_id": event_id, "case_id": case_id, "status": status,
                "step": step, "reason": reason, "nonconformities": list(nonconformity_keys)}
        message_id = (f"ack:{event_id}:{status}" if event_id else f"ack:unidentified:{now.isoformat()}:{reason}")[:500]
        return _row(message_id, ACK, case_id, _json(body), {"message_id": message_id}, now)

    def nonconformities(self, conn: Connection, keys: Iterable[str], now: datetime) -> None:
        """Messages for these nonconformities as the database has them now (after the engine's upsert)."""
        wanted = list(keys)
        messages = []
        for start in range(0, len(wanted), 1000):
            for row in conn.execute(select(NCS).where(NCS.c.key.in_(wanted[start:start + 1000]))).all():
                body = {"message": "nonconformity", "key": row.key, **nonconformity_dict(row, self.presenter)}
                message_id = f"nc:{row.key}:{row.type}:{row.status}"[:500]
                messages.append(_row(message_id, NONCONFORMITY, row.case_id, _json(body),
                                     {"message_id": message_id}, now))
        self.insert(conn, messages)

    def insert(self, conn: Connection, rows: list[dict[str, Any]]) -> None:
        if rows:
            conn.execute(self._insert(conn), rows)

    def dead_letter(self, conn: Connection, letter: DeadLetter, reason: str, now: datetime) -> None:
        message_id = f"dlq:{letter.topic}:{letter.partition}:{letter.offset}"
        headers = {"message_id": message_id, "reason": reason[:2000], "source_topic": letter.topic,
                   "source_partition": str(letter.partition), "source_offset": str(letter.offset)}
        key = letter.key.decode("utf-8", "replace") if letter.key is not None else None
        self.insert(conn, [_row(message_id, DEAD_LETTER, key, letter.value, headers, now)])

    def _insert(self, conn: Connection) -> Any:
        name = conn.dialect.name
        if name not in self._inserts:
            insert = postgresql.insert if name == "postgresql" else sqlite.insert
            self._inserts[name] = insert(OUTBOX).on_conflict_do_nothing(index_elements=["message_id"])
        return self._inserts[name]


def pending(engine: Engine, limit: int = 1000) -> list[PendingMessage]:
    with engine.connect() as conn:
        rows = conn.execute(
            select(OUTBOX).where(OUTBOX.c.published_at.is_(None)).order_by(OUTBOX.c.id).limit(limit)
        ).all()
    return [PendingMessage(r.id, r.message_id, r.kind, r.message_key, r.value, r.headers) for r in rows]


def mark_published(engine: Engine, ids: Sequence[int], now: datetime) -> None:
    if not ids:
        return
    with engine.begin() as conn:
        conn.execute(update(OUTBOX).where(OUTBOX.c.id.in_(list(ids))).values(published_at=now))


def _row(message_id: str, kind: str, key: str | None, value: bytes, headers: dict[str, Any],
         now: datetime) -> dict[str, Any]:
    return {"message_id": message_id, "kind": kind, "message_key": key, "value": value, "headers": headers,
            "created_at": now}


def _json(body: dict[str, Any]) -> bytes:
    return json.dumps(body, ensure_ascii=False, separators=(",", ":")).encode("utf-8")
