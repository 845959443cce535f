"""The metrics, declared once on an injected registry; labels bounded (never a case id).

Counters and histograms count what this process did: Prometheus scrapes every process (each is
its own ``instance``) and queries sum them. The gauges of open work are not here: they are read
from the database at scrape time by ``monitoring.collector.DatabaseCollector``.

Every agency, procedure and step label, here and in the collector, goes through one ``Labels`` (monitoring.labels):
values beyond a configured list or count become ``other``, so that invented codes cannot grow
/metrics (served without authentication) without end, and totals still add up.
"""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram

from engine.bootstrap import App
from engine.core.events import EVENT_TYPES
from engine.service import APPLIED, DUPLICATE, PARKED, REFUSED, Outcome
from engine.store.cases import WATCH_TICK
from monitoring.collector import DatabaseCollector
from monitoring.labels import OTHER, UNKNOWN, Labels, label

# Working hours (8 a working day): a quarter of an hour up to 50 working days (the longest statutory limits),
# with a bound at the allowances procedures use most (0.25, 0.5, 1, 1.5, 2, 3, 5, 7, 10 days) so that the
# share of steps within their allowance is read from a bucket, not interpolated.
HOURS_BUCKETS = (0.25, 0.5, 1, 2, 4, 8, 12, 16, 24, 40, 56, 64, 80, 120, 160, 240, 320, 400)
OUTCOMES = (APPLIED, DUPLICATE, PARKED, REFUSED)
EVENT_TYPE_LABELS = (*sorted(EVENT_TYPES), UNKNOWN, OTHER)


def event_type_label(value: str | None) -> str:
    """An event's type as a label: the contract's types, the watcher's tick, else unknown or other."""
    if value is None:
        return UNKNOWN
    return value if value in EVENT_TYPES or value == WATCH_TICK else OTHER


class Metrics:
    """What one process measures from the service's outcomes."""

    def __init__(self, registry: CollectorRegistry | None = None, labels: Labels | None = None):
        self.registry = registry if registry is not None else CollectorRegistry()
        self.labels = labels if labels is not None else Labels.from_settings()
        r = self.registry
        self.events = Counter("eiso_events_consumed", "Case events handled, by event type and outcome "
                              "(applied, duplicate, parked, refused)", ["type", "outcome"], registry=r)
        # Every series at zero from the start, so that the first refusal or parking is an increase to rate().
        for type_ in EVENT_TYPE_LABELS:
            for outcome in OUTCOMES:
                self.events.labels(type_, outcome)
        self.events.labels(WATCH_TICK, APPLIED)
        self.event_id_conflicts = Counter("eiso_event_id_conflicts", "Events refused because their event id was "
                                          "already used for a different event or by another agency (both kept)",
                                          registry=r)
        self.nonconformities = Counter("eiso_nonconformities_raised", "Nonconformities raised or updated by "
                                       "events in this process", ["agency", "procedure", "type"], registry=r)
        self.step_hours = Histogram("eiso_step_working_hours", "Working hours a step took, pauses excluded",
                                    ["agency", "procedure", "step"], buckets=HOURS_BUCKETS, registry=r)
        self.case_hours = Histogram("eiso_case_working_hours", "Working hours a case took to resolve, pauses "
                                    "excluded", ["agency", "procedure"], buckets=HOURS_BUCKETS, registry=r)
        self.cases_finished = Counter("eiso_cases_finished", "Cases resolved, by timeliness (early, on_time, "
                                      "late)", ["agency", "procedure", "timeliness"], registry=r)

    def observe(self, outcome: Outcome) -> None:
        """A ``CaseService`` observer: called after the commit with every outcome."""
        self.events.labels(event_type_label(outcome.event_type), outcome.status).inc()
        if getattr(outcome, "conflict", False):
            self.event_id_conflicts.inc()
        agency, procedure = self.labels.agency(outcome.agency), self.labels.procedure(outcome.procedure)
        for record in outcome.nonconformities:
            self.nonconformities.labels(agency, procedure, label(record.type)).inc()
        for timing in outcome.timings:
            hours = timing.working_seconds / 3600
            if timing.step is None:
                self.case_hours.labels(agency, procedure).observe(hours)
                self.cases_finished.labels(agency, procedure, label(timing.timeliness)).inc()
            else:
                self.step_hours.labels(agency, procedure, self.labels.step(timing.step)).observe(hours)


class WorkerMetrics:
    """The Kafka worker's own measurements (only the worker declares them)."""

    def __init__(self, registry: CollectorRegistry):
        self.consumer_lag = Gauge("eiso_kafka_consumer_lag", "Messages behind the partition's high watermark",
                                  ["topic", "partition"], registry=registry)
        self.dead_letters = Counter("eiso_dead_letters", "Messages sent to the dead-letter topic, by source topic",
                                    ["topic"], registry=registry)
        self.database_retries = Counter("eiso_worker_database_retries", "Retries while the database was "
                                        "unavailable", registry=registry)
        self.batches = Counter("eiso_worker_batches", "Poll batches applied and committed", registry=registry)


def install(app: App, registry: CollectorRegistry | None = None, database: bool = False,
            labels: Labels | None = None) -> Metrics:
    """Measure ``app``'s service on ``registry``; with ``database``, also export the gauges read from the
    database (one process per deployment should, see the README). ``labels``: default from EISO_METRICS_*."""
    metrics = Metrics(registry, labels)
    app.service.observers.append(metrics.observe)
    if database:
        metrics.registry.register(DatabaseCollector(app.engine, app.calendar, app.catalog, app.clock,
                                                    objective=app.settings.engine.quality_objective,
                                                    labels=metrics.labels))
    return metrics
