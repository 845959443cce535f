"""Metrics follow the successor agency code (issue 13, item 4): once a history closes a code, the open-work gauges
count its cases under the successor, those moved at the import and those sent later with the closed code."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path

from prometheus_client import CollectorRegistry
from prometheus_client.parser import text_string_to_metric_families

from engine.application.agencies import import_agency_history
from engine.bootstrap import build
from engine.core.clock import ManualClock
from engine.settings import DatabaseSettings, Settings
from monitoring import install
from monitoring.http import render
from tests.api.support import PROCEDURE, event

A, B = "000.00.12.H11", "000.00.12.H10"


def agencies(registry: CollectorRegistry, name: str) -> dict[str, float]:
    body, _ = render(registry)
    found: dict[str, float] = {}
    for family in text_string_to_metric_families(body.decode()):
        for sample in family.samples:
            if sample.name == name and sample.value:
                found[sample.labels["agency"]] = found.get(sample.labels["agency"], 0) + sample.value
    return found


def test_gauges_and_counters_follow_the_successor(database_url: str, tmp_path: Path) -> None:
    clock = ManualClock(datetime.fromisoformat("2026-03-02T08:00:00+07:00"))
    app = build(Settings(database=DatabaseSettings(url=database_url)), clock=clock)
    try:
        registry = CollectorRegistry()
        install(app, registry, database=True)
        app.catalog.deploy(PROCEDURE.read_bytes(), PROCEDURE.name, clock.now())
        assert app.service.ingest_object(event("a-1", "case.received", "2026-03-02 08:00", "A-1", A),
                                         "test").status == "applied"
        assert agencies(registry, "eiso_cases_open") == {A: 1}
        clock.set(datetime.fromisoformat("2026-03-05T08:00:00+07:00"))
        history = tmp_path / "history.csv"
        history.write_text(f"code,valid_to,successor\n{A},2026-03-04,{B}\n", encoding="utf-8")
        result = import_agency_history(app.engine, history, clock.now(), app.calendar.zone, "tester")
        assert result.saved is not None and result.saved.cases == 1
        app.service.agency_codes.invalidate()
        assert agencies(registry, "eiso_cases_open") == {B: 1}
        assert app.service.ingest_object(event("a-2", "case.received", "2026-03-05 08:00", "A-2", A),
                                         "test").status == "applied"
        assert agencies(registry, "eiso_cases_open") == {B: 2}
    finally:
        app.engine.dispose()

