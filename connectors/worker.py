"""``eiso worker``: the one-stop-shop's case stream from Kafka into the engine, each event once.

At-least-once delivery plus idempotent apply: every event is applied and its id journaled in
one database transaction; the partition offsets are committed to Kafka only after those
transactions. A message that cannot be decoded goes to the dead-letter topic (through the
outbox, in the transaction that records it) and the partition moves on.

Nothing polled is dropped. While the database is down the worker keeps its group membership
without consuming: every partition it holds is paused, also those a rebalance assigns during the
outage, and records a poll returns anyway are sought back to. A revoked partition's records in
hand are forgotten, never applied later: a partition new to the worker starts from the group's
committed offset, and one it keeps across the rebalance is sought back to its first forgotten record.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from kafka import KafkaConsumer, KafkaProducer, TopicPartition
from kafka.consumer.subscription_state import ConsumerRebalanceListener
from kafka.structs import OffsetAndMetadata
from sqlalchemy import text
from sqlalchemy.exc import DBAPIError, OperationalError

from connectors.decoding import Decoder
from connectors.publisher import OutboxPublisher
from connectors.settings import KafkaSettings
from engine.bootstrap import App
from engine.core.events import EventInvalid
from engine.service import CaseBusy
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
    """Runs on the consumer's IO thread inside ``poll()``: it only changes local state (no I/O)."""

    def __init__(self, worker: CaseEventWorker):
        self.worker = worker

    def on_partitions_revoked(self, revoked: Any) -> None:
        self.worker.forget(revoked, kept=True)
        log.info("partitions revoked: %s", _names(revoked))

    def on_partitions_lost(self, lost: Any) -> None:
        self.worker.forget(lost, kept=False)
        log.info("partitions lost: %s", _names(lost))

    def on_partitions_assigned(self, assigned: Any) -> None:
        self.worker.take(assigned)
        log.info("partitions assigned: %s", _names(assigned))


def _names(partitions: Any) -> list[str]:
    return sorted(f"{tp.topic}:{tp.partition}" for tp in partitions)


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
        self.in_flight: dict[TopicPartition, list[Any]] = {}  # polled, not yet applied
        self.rewind: dict[TopicPartition, int] = {}  # first forgotten offset of a revoked partition
        self.outage = False
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
                log.info("batch records=%d partitions=%d lag=%s duration_ms=%.0f",
                         sum(len(records) for records in batch.values()), len(batch), self._lag_after(batch),
                         (time.monotonic() - idle_since) * 1000)
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

    def forget(self, revoked: Any, kept: bool) -> None:
        """A revoked partition's records in hand are never applied here: its next owner reads them, and
        applying them too could apply a later event before an earlier one. When the consumer ``kept``
        its fetch positions (a plain rebalance, not a lost membership), note where to seek back to
        should the partition come back to this worker with its position past them."""
        for tp in revoked:
            records = self.in_flight.pop(tp, None)
            if not kept:
                self.rewind.pop(tp, None)
            elif records and tp not in self.rewind:
                self.rewind[tp] = records[0].offset

    def take(self, assigned: Any) -> None:
        """Runs inside the rebalance (no I/O): a partition kept across it goes back to its first
        forgotten record; one new to this worker starts from the group's committed offset (the
        consumer fetches it, nothing here overrides that). During a database outage every one is paused."""
        partitions = list(assigned)
        for tp in partitions:
            offset = self.rewind.pop(tp, None)
            if offset is not None:
                self.consumer.seek(tp, offset)
        self.rewind.clear()  # the others are another member's now: when they come back, from the commit
        if self.outage and partitions:
            self.consumer.pause(*partitions)

    def _process(self, batch: dict[TopicPartition, list[Any]]) -> dict[TopicPartition, OffsetAndMetadata]:
        """Apply a poll's records, every partition's, in one transaction (order kept per partition)."""
        self.in_flight = {tp: records for tp, records in batch.items() if records}
        if not self.in_flight:
            return {}
        try:
            self._retrying(self._apply_in_flight)
        except _StopRequested:
            self.in_flight = {}
            return {}
        applied, self.in_flight = self.in_flight, {}
        for records in applied.values():
            self.stats.messages += len(records)
        return {tp: OffsetAndMetadata(records[-1].offset + 1, "", -1) for tp, records in applied.items()}

    def _apply_in_flight(self) -> None:
        """The records still ours at this attempt: a rebalance during a retry may have taken some."""
        if self.in_flight:
            self._apply_records(dict(self.in_flight))
            return
        with self.app.engine.connect() as conn:  # all revoked: still wait for the database before resuming
            conn.execute(text("SELECT 1"))

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
        except (OperationalError, DBAPIError, CaseBusy):
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
        """Run ``work``; while the database is down, pause every partition held, keep the membership, retry."""
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
                self.outage = True
                self._pause_all()
                # polling keeps the membership; a rebalance in it revokes (forget) and assigns (take)
                self._hold_back(self.consumer.poll(timeout_ms=int(self.settings.db_retry_seconds * 1000)))
                if self._stopping:
                    raise _StopRequested from None
            except CaseBusy as err:  # other writers (API, watcher) kept changing a case: a race, not bad data
                log.warning("%s; retrying the batch (applied events answer duplicate)", err)
                self.stats.database_retries += 1
                time.sleep(min(1.0, self.settings.db_retry_seconds))
                if self._stopping:
                    raise _StopRequested from None
        if self.outage:
            self.outage = False
            self.consumer.resume(*self.consumer.assignment())

    def _pause_all(self) -> None:
        assigned = self.consumer.assignment()
        if assigned:
            self.consumer.pause(*assigned)

    def _hold_back(self, polled: dict[TopicPartition, list[Any]]) -> None:
        """Records a poll returned during the outage are not ours to drop: fetch them again later."""
        for tp, records in polled.items():
            if records and tp in self.consumer.assignment():
                self.consumer.seek(tp, records[0].offset)
                self.consumer.pause(tp)
                log.warning("%d record(s) of %s:%s polled during the outage: sought back to offset %d",
                            len(records), tp.topic, tp.partition, records[0].offset)

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
            except (OperationalError, DBAPIError, CaseBusy):
                raise
            except Exception as err:  # an engine fault must not stop the partition: keep and report it
                log.exception("event %s from %s could not be applied", event.event_id, source)
                self._dead_letter(record, value, EventInvalid(
                    [f"internal error while applying: {type(err).__name__}: {err}"], event_id=event.event_id))
                continue
            self.stats.count(outcome.status)

    def _lag_after(self, batch: dict[TopicPartition, list[Any]]) -> int | str:
        """Records left behind the batch's partitions, from the last fetch's high watermarks (no I/O)."""
        lag = 0
        for tp, records in batch.items():
            highwater = self.consumer.highwater(tp)
            if highwater is None or not records:
                return "unknown"
            lag += max(0, highwater - records[-1].offset - 1)
        return lag

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
        assigned = self.consumer.assignment()
        offsets = {tp: om for tp, om in done.items() if tp in assigned}
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
