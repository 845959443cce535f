"""Sends the outbox's pending messages to Kafka after the transactions that wrote them."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from datetime import datetime
from typing import Any

from sqlalchemy import Engine, select, update

from engine.store.outbox import DEAD_LETTER, OUTBOX

log = logging.getLogger("eiso.publisher")


class OutboxPublisher:
    """Publishes pending outbox rows in id order and marks them published.

    Rows are locked while they are sent (``FOR UPDATE SKIP LOCKED`` on PostgreSQL), so two
    workers do not send the same rows; a crash between sending and marking sends a row
    again, with the same ``message_id`` header for consumers to drop the repeat.
    """

    def __init__(self, engine: Engine, producer: Any, outbound_topic: str, dlq_topic: str,
                 now: Callable[[], datetime], batch: int = 2000, timeout_s: float = 30.0):
        self.engine = engine
        self.producer = producer
        self.topics = {DEAD_LETTER: dlq_topic}
        self.outbound_topic = outbound_topic
        self.now = now
        self.batch = batch
        self.timeout_s = timeout_s
        self.published = 0
        self._stopping = False

    def stop(self) -> None:
        """Finish the batch in hand and return from ``run`` (from a signal handler)."""
        self._stopping = True

    def run(self, idle_seconds: float = 0.2, exit_when_idle: float | None = None, retry_seconds: float = 2.0) -> int:
        """Send pending rows until stopped: the publisher as its own process, beside the workers.

        Several publishers may run: each locks the rows it sends (``SKIP LOCKED``). A database or
        broker outage is logged and retried; nothing is marked published that the broker did not take.
        """
        idle_since = time.monotonic()
        while not self._stopping:
            try:
                sent = self.publish_pending()
            except Exception as err:  # database or broker down: the rows stay pending
                log.warning("outbox not published (%s); retrying in %.1f s", err, retry_seconds)
                time.sleep(retry_seconds)
                continue
            if sent:
                idle_since = time.monotonic()
                continue
            if exit_when_idle is not None and time.monotonic() - idle_since >= exit_when_idle:
                break
            time.sleep(idle_seconds)
        return self.published

    def publish_pending(self) -> int:
        sent = 0
        while True:
            count = self._publish_batch()
            sent += count
            if count < self.batch:
                break
        self.published += sent
        return sent

    def _publish_batch(self) -> int:
        with self.engine.begin() as conn:
            rows = conn.execute(
                select(OUTBOX.c.id, OUTBOX.c.kind, OUTBOX.c.message_key, OUTBOX.c.value, OUTBOX.c.headers)
                .where(OUTBOX.c.published_at.is_(None)).order_by(OUTBOX.c.id).limit(self.batch)
                .with_for_update(skip_locked=True)
            ).all()
            if not rows:
                return 0
            futures = []
            for row in rows:
                headers = [(str(k), str(v).encode("utf-8")) for k, v in (row.headers or {}).items()]
                headers.append(("kind", row.kind.encode()))
                key = row.message_key.encode("utf-8") if row.message_key is not None else None
                topic = self.topics.get(row.kind, self.outbound_topic)
                futures.append(self.producer.send(topic, key=key, value=row.value, headers=headers))
            self.producer.flush(timeout=self.timeout_s)
            for future in futures:
                future.get(timeout=self.timeout_s)  # raises if the broker did not take it: nothing is marked
            conn.execute(update(OUTBOX).where(OUTBOX.c.id.in_([r.id for r in rows])).values(published_at=self.now()))
        return len(rows)
