"""``eiso worker``: the one-stop-shop's case stream from Kafka into the engine, each event once.

At-least-once delivery plus idempotent apply: every event is applied and its id journaled in
one database transaction; the partition offsets are committed to Kafka only after those
transactions. A message that cannot be decoded goes to the dead-letter topic (through the
outbox, in the transaction that records it) and the partition moves on. While the database
is down the worker pauses its partitions, keeps its group membership and retries.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import partial
from typing import Any

from kafka import KafkaConsumer, KafkaProducer, TopicPartition
from kafka.consumer.subscription_state import ConsumerRebalanceListener
from kafka.structs import OffsetAndMetadata
from sqlalchemy.exc import DBAPIError, OperationalError

from connectors.decoding import Decoder
from connectors.publisher import OutboxPublisher
from connectors.settings import KafkaSettings
from engine.bootstrap import App
from engine.core.events import EventInvalid
from engine.store.outbox import DeadLetter
from monitoring.metrics import WorkerMetrics

log = logging.getLogger("eiso.worker")


@dataclass
class WorkerStats:
    messages: int = 0
    outcomes: dict[str, int] = field(default_factory=dict)
    dead_letters: int = 0
    batches: int = 0
    database_retries: int = 0

    def count(self, status: str) -> None:
        self.outcomes[status] = self.outcomes.get(status, 0) + 1


class _Rebalance(ConsumerRebalanceListener):
    def __init__(self, worker: CaseEventWorker):
        self.worker = worker

    def on_partitions_revoked(self, revoked: Any) -> None:
        self.worker.revoked.update(revoked)
        log.info("partitions revoked: %s", sorted(f"{tp.topic}:{tp.partition}" for tp in revoked))

    def on_partitions_assigned(self, assigned: Any) -> None:
        self.worker.revoked.difference_update(assigned)
        log.info("partitions assigned: %s", sorted(f"{tp.topic}:{tp.partition}" for tp in assigned))


class _StopRequested(Exception):
    pass


class CaseEventWorker:
    def __init__(self, app: App, settings: KafkaSettings, decoder: Decoder | None = None,
                 consumer: Any | None = None, producer: Any | None = None, metrics: WorkerMetrics | None = None):
        self.app = app
        self.metrics = metrics
        self.settings = settings
        self.formats = settings.topic_formats()
        self.decoder = decoder or Decoder()
        if "portal" in self.formats.values():
            self.decoder.check_portal_mapping()
        self.consumer = consumer or self._consumer()
        self.producer = producer or KafkaProducer(**settings.producer_config())
        self.publisher = OutboxPublisher(app.engine, self.producer, settings.outbound_topic, settings.dlq_topic,
                                         app.clock.now)
        self.stats = WorkerStats()
        self.revoked: set[TopicPartition] = set()
        self._stopping = False
        self._assigned_at: float | None = None
        self._lag_labels: set[tuple[str, str]] = set()

    def _consumer(self) -> KafkaConsumer:
        s = self.settings
        return KafkaConsumer(
            **s.client_config(), group_id=s.group, enable_auto_commit=False, auto_offset_reset="earliest",
            max_poll_records=s.batch_size, max_poll_interval_ms=s.max_poll_interval_ms,
            session_timeout_ms=s.session_timeout_ms, heartbeat_interval_ms=max(1000, s.session_timeout_ms // 10),
        )

    def stop(self) -> None:
        """Finish the batch in hand, commit, leave the group (from a signal handler)."""
        self._stopping = True

    def run(self, exit_when_idle: float | None = None, on_batch: Callable[[WorkerStats], None] | None = None
            ) -> WorkerStats:
        if self.app.service.outbox is None:
            raise RuntimeError("the worker needs the outbox: set EISO_OUTBOX=true or EISO_KAFKA_BOOTSTRAP")
        for topic in self.formats:  # the topics' metadata first: a group formed without it assigns nothing
            self.consumer.partitions_for_topic(topic)
        self.consumer.subscribe(sorted(self.formats), listener=_Rebalance(self))
        if self.metrics is not None:
            for topic in self.formats:  # a series at zero first, so that the first dead letter is an increase
                self.metrics.dead_letters.labels(topic)
        log.info("consuming %s as group %s", ", ".join(f"{t} ({f})" for t, f in self.formats.items()),
                 self.settings.group)
        idle_since = time.monotonic()
        try:
            while not self._stopping:
                batch = self.consumer.poll(timeout_ms=self.settings.poll_timeout_ms,
                                           max_records=self.settings.batch_size)
                if not batch:
                    self._publish()
                    self._measure_lag()
                    if exit_when_idle is not None and self._idle_enough(idle_since, exit_when_idle):
                        log.info("idle for %.1f s: stopping", exit_when_idle)
                        break
                    continue
                idle_since = time.monotonic()
                done = self._process(batch)
                self._publish()
                self._commit(done)
                self.stats.batches += 1
                self._measure_lag()
                if self.metrics is not None:
                    self.metrics.batches.inc()
                if on_batch is not None:
                    on_batch(self.stats)
        finally:
            self._close()
        return self.stats

    def _idle_enough(self, idle_since: float, exit_when_idle: float) -> bool:
        """Idle time counts once partitions are assigned and fetched from: joining a group after a
        crashed member can take a session timeout, a new topic's leaders take a moment, and a
        worker must not give up before it has seen whether there is anything to read."""
        idle = time.monotonic() - idle_since
        assigned = self.consumer.assignment()
        if assigned and all(self.consumer.highwater(tp) is not None for tp in assigned):
            # assigned, and a fetch has answered for every partition: an empty poll now means no data
            if self._assigned_at is None:
                self._assigned_at = time.monotonic()
            return time.monotonic() - max(idle_since, self._assigned_at) >= exit_when_idle
        self._assigned_at = None
        return idle >= exit_when_idle + self.settings.session_timeout_ms / 1000 * 2

    def _process(self, batch: dict[TopicPartition, list[Any]]) -> dict[TopicPartition, OffsetAndMetadata]:
        """Apply a poll's records, every partition's, in one transaction (order kept per partition)."""
        owned = {tp: records for tp, records in batch.items() if tp not in self.revoked and records}
        # a revoked partition is another member's now: it re-reads from the last commit
        if not owned:
            return {}
        try:
            self._retrying(partial(self._apply_records, owned))
        except _StopRequested:
            return {}
        for records in owned.values():
            self.stats.messages += len(records)
        return {tp: OffsetAndMetadata(records[-1].offset + 1, "", -1) for tp, records in owned.items()}

    def _apply_records(self, batch: dict[TopicPartition, list[Any]]) -> None:
        """Decode the records; apply the valid events in one transaction, dead-letter the rest."""
        events: list[Any] = []
        for tp, records in batch.items():
            fmt = self.formats.get(tp.topic, "contract")
            for record in records:
                value: bytes = record.value if record.value is not None else b""
                try:
                    events.extend(self.decoder.decode(value, fmt))
                except EventInvalid as err:
                    self._dead_letter(record, value, err)
        if not events:
            return
        try:
            outcomes = self.app.service.ingest_batch(events)
        except (OperationalError, DBAPIError):
            raise
        except Exception:  # an engine fault in the batch: find the event, one transaction each
            log.exception("batch of %d events failed; applying them one by one", len(events))
            for tp, records in batch.items():
                for record in records:
                    self._apply(record, self.formats.get(tp.topic, "contract"))
            return
        for outcome in outcomes:
            self.stats.count(outcome.status)

    def _retrying(self, work: Callable[[], None]) -> None:
        """Run ``work``; while the database is down, pause the partitions, keep the membership, retry."""
        paused = False
        while True:
            try:
                work()
                break
            except (OperationalError, DBAPIError) as err:
                self.stats.database_retries += 1
                if self.metrics is not None:
                    self.metrics.database_retries.inc()
                log.warning("database unavailable (%s); pausing and retrying in %.1f s",
                            str(getattr(err, "orig", err)).strip().splitlines()[0][:200],
                            self.settings.db_retry_seconds)
                if not paused:
                    self.consumer.pause(*self.consumer.assignment())
                    paused = True
                self.consumer.poll(timeout_ms=int(self.settings.db_retry_seconds * 1000))  # keeps membership
                if self._stopping:
                    raise _StopRequested from None
        if paused:
            self.consumer.resume(*self.consumer.paused())

    def _dead_letter(self, record: Any, value: bytes, err: EventInvalid) -> None:
        source = f"{record.topic}:{record.partition}:{record.offset}"
        letter = DeadLetter(record.topic, record.partition, record.offset, value, record.key)
        outcome = self.app.service.refuse(value.decode("utf-8", "replace"), err, source, letter)
        self.stats.count(outcome.status)
        self.stats.dead_letters += 1
        if self.metrics is not None:
            self.metrics.dead_letters.labels(record.topic).inc()
        log.warning("dead-lettered %s: %s", source, err)

    def _apply(self, record: Any, fmt: str) -> None:
        """One record, one transaction per event (the fallback after a failed batch)."""
        source = f"{record.topic}:{record.partition}:{record.offset}"
        value: bytes = record.value if record.value is not None else b""
        try:
            events = self.decoder.decode(value, fmt)
        except EventInvalid:
            return  # already dead-lettered by the batch
        for event in events:
            try:
                outcome = self.app.service.ingest(event)
            except (OperationalError, DBAPIError):
                raise
            except Exception as err:  # an engine fault must not stop the partition: keep and report it
                log.exception("event %s from %s could not be applied", event.event_id, source)
                self._dead_letter(record, value, EventInvalid(
                    [f"internal error while applying: {type(err).__name__}: {err}"], event_id=event.event_id))
                continue
            self.stats.count(outcome.status)

    def _measure_lag(self) -> None:
        """Lag per assigned partition: the high watermark the last fetch saw minus our position."""
        if self.metrics is None:
            return
        gauge = self.metrics.consumer_lag
        assigned = self.consumer.assignment()
        for tp in assigned:
            highwater = self.consumer.highwater(tp)
            if highwater is None:
                continue  # no fetch response yet for this partition
            try:
                position = self.consumer.position(tp)
            except Exception:  # e.g. revoked meanwhile; the next round measures again
                continue
            gauge.labels(tp.topic, str(tp.partition)).set(max(0, highwater - position))
        current = {(tp.topic, str(tp.partition)) for tp in assigned}
        for labels in [key for key in list(self._lag_labels) if key not in current]:
            gauge.remove(*labels)  # a partition given to another member is no longer ours to report
        self._lag_labels = current

    def _publish(self) -> None:
        if not self.settings.publish_in_worker:
            return  # `eiso publisher` sends the outbox
        try:
            self.publisher.publish_pending()
        except (OperationalError, DBAPIError) as err:
            log.warning("outbox not published, database unavailable: %s", err)
        except Exception as err:  # the broker refused; the rows stay pending and are sent next time
            log.warning("outbox not published: %s", err)

    def _commit(self, done: dict[TopicPartition, OffsetAndMetadata]) -> None:
        offsets = {tp: om for tp, om in done.items() if tp not in self.revoked}
        if not offsets:
            return
        try:
            self.consumer.commit(offsets)
        except Exception as err:  # e.g. a rebalance took the partitions: their events are re-read, idempotently
            log.warning("offset commit failed (%s); the events will be re-read and found duplicate", err)

    def _close(self) -> None:
        self._publish()
        try:
            self.consumer.close(autocommit=False)
        finally:
            self.producer.flush(timeout=30)
            self.producer.close(timeout=30)
