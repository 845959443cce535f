"""eiso_cases_conforming_ratio: the share of this month's closed cases that followed their procedure, by agency
and procedure, kept as cases close (SQLite and PostgreSQL)."""

from __future__ import annotations

from datetime import datetime

from prometheus_client import CollectorRegistry

from engine.bootstrap import App
from engine.core.clock import ManualClock
from monitoring.collector import DatabaseCollector
from monitoring.labels import Labels
from monitoring.settings import MonitoringSettings
from tests.conformance.support import REWORK
from tests.conformance.test_store_conformance import AGENCY, CASES_RUN, _events

METRIC = "eiso_cases_conforming_ratio"
LABELS = {"agency": AGENCY, "procedure": "9.000101"}


def test_the_ratio_follows_the_cases_closed_this_month(app: App, clock: ManualClock) -> None:
    app.catalog.deploy(REWORK, "rework.bpmn", clock.now())
    for events in CASES_RUN:
        for event in events:
            app.service.ingest_object(event, "test")
    clock.set(datetime.fromisoformat("2026-03-31T16:00:00+07:00"))
    registry = CollectorRegistry()
    registry.register(DatabaseCollector(app.engine, app.calendar, app.catalog, clock, 0.95,
                                        labels=Labels.from_settings(MonitoringSettings())))
    # C-1 reworked, C-3 skipped a step, C-4 did something not in the procedure: 1 of 4 closed cases conforms
    assert registry.get_sample_value(METRIC, LABELS) == 0.25
    late = _events("C-6", [("receive", "2026-03-02 08:30", {}), ("appraise", "2026-03-02 09:00", {}),
                           ("review", "2026-03-02 10:00", {}), ("approve", "2026-03-02 11:00", {})],
                   "2026-03-30 09:00")
    for event in late:
        app.service.ingest_object(event, "test")
    assert registry.get_sample_value(METRIC, LABELS) == 2 / 5
    # closed (by its event's time) long before the latest closing known: found by counting the month again
    early = _events("C-7", [("receive", "2026-03-02 08:30", {}), ("appraise", "2026-03-02 09:00", {}),
                            ("review", "2026-03-02 10:00", {}), ("approve", "2026-03-02 11:00", {})],
                    "2026-03-02 12:00")
    for event in early:
        app.service.ingest_object(event, "test")
    assert registry.get_sample_value(METRIC, LABELS) == 3 / 6
    clock.set(datetime.fromisoformat("2026-04-02T09:00:00+07:00"))  # a new month: nothing closed in it yet
    assert registry.get_sample_value(METRIC, LABELS) is None
