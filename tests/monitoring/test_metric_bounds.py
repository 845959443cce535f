"""Metric labels from outside stay bounded; every event outcome series exists from the start; conflicts counted."""

from __future__ import annotations

import json
from pathlib import Path

from prometheus_client import CollectorRegistry
from prometheus_client.parser import text_string_to_metric_families
from sqlalchemy import text

from engine.core.events import EVENT_TYPES
from monitoring import install
from monitoring.http import render
from monitoring.metrics import OTHER, Labels, Metrics
from monitoring.settings import MonitoringSettings
from tests.monitoring.support import make_app

AGENCIES = [f"000.00.{n // 100:02d}.H{n % 100:02d}" for n in range(3000)]


def _received(number: int, agency: str) -> str:
    return json.dumps({"event_id": f"r-{number}", "type": "case.received", "case_id": f"C-{number}",
                       "agency": agency, "procedure": "1.001193", "occurred_at": "2026-03-02T08:00:00+07:00"})


def _families(registry: CollectorRegistry) -> dict[str, list[tuple[dict[str, str], float]]]:
    body, _ = render(registry)
    found: dict[str, list[tuple[dict[str, str], float]]] = {}
    for family in text_string_to_metric_families(body.decode()):
        for sample in family.samples:
            found.setdefault(sample.name, []).append((sample.labels, sample.value))
    return found


def test_three_thousand_invented_agencies_keep_metrics_small_and_totals_whole(tmp_path: Path) -> None:
    app = make_app(f"sqlite:///{tmp_path / 'eiso.db'}")
    registry = CollectorRegistry()
    install(app, registry, database=True)
    for number, agency in enumerate(AGENCIES):
        assert app.service.ingest_line(_received(number, agency), "t").status == "applied"
    body, _ = render(registry)
    assert len(body) < 600_000, len(body)  # unbounded, every agency had its series: several megabytes
    samples = _families(registry)
    agencies = {labels["agency"] for series in samples.values() for labels, _ in series if "agency" in labels}
    assert len(agencies) == 201 and OTHER in agencies  # the first 200 (EISO_METRICS_MAX_AGENCIES), then "other"
    with app.engine.connect() as conn:
        steps = conn.execute(text("SELECT count(*) FROM case_step WHERE status = 'active'")).scalar_one()
    assert sum(v for _, v in samples["eiso_cases_open"]) == 3000
    assert sum(v for _, v in samples["eiso_steps_open"]) == steps
    assert sum(v for _, v in samples["eiso_cases_judged_month"]) == 3000  # all open past their due at NOW
    assert sum(v for _, v in samples["eiso_cases_overdue"]) == 3000
    assert registry.get_sample_value("eiso_cases_judged_month", {"agency": OTHER}) == 2800
    assert registry.get_sample_value("eiso_on_time_ratio", {"agency": OTHER}) == 0
    app.engine.dispose()


def test_an_allow_list_names_the_same_agencies_in_every_process() -> None:
    labels = Labels.from_settings(MonitoringSettings(agencies="000.00.01.H10, 000.00.02.H10", max_procedures=2))
    assert [labels.agency(a) for a in ("000.00.01.H10", "000.00.03.H10", None)] == ["000.00.01.H10", OTHER,
                                                                                   "unknown"]
    assert [labels.procedure(p) for p in ("1", "2", "3", "1")] == ["1", "2", OTHER, "1"]


def test_every_event_outcome_series_exists_at_zero_from_the_start(tmp_path: Path) -> None:
    app = make_app(f"sqlite:///{tmp_path / 'eiso.db'}")
    registry = CollectorRegistry()
    install(app, registry)
    for type_ in EVENT_TYPES:
        for outcome in ("applied", "duplicate", "parked", "refused"):
            labels = {"type": type_, "outcome": outcome}
            assert registry.get_sample_value("eiso_events_consumed_total", labels) == 0, labels
    assert registry.get_sample_value("eiso_events_consumed_total", {"type": "unknown", "outcome": "refused"}) == 0
    assert registry.get_sample_value("eiso_event_id_conflicts_total") == 0
    app.service.ingest_line("{not json", "t")
    assert registry.get_sample_value("eiso_events_consumed_total", {"type": "unknown", "outcome": "refused"}) == 1
    unknown = json.loads(_received(1, "000.00.01.H10")) | {"type": "case.teleported"}
    app.service.ingest_line(json.dumps(unknown), "t")
    assert all(labels["type"] in {*EVENT_TYPES, "unknown", "other", "watch.tick"}
               for labels, _ in _families(registry)["eiso_events_consumed_total"])
    app.engine.dispose()


def test_the_api_worker_and_exporter_declare_the_series_at_zero() -> None:
    """Every process that exports the counter builds ``Metrics`` (``install``): the API, the worker, the exporter."""
    registry = CollectorRegistry()
    Metrics(registry)
    assert registry.get_sample_value("eiso_events_consumed_total", {"type": "case.received", "outcome": "parked"}) == 0
    root = Path(__file__).resolve().parents[2]
    for module in ("engine/api/app.py", "engine/cli/worker.py", "engine/cli/metrics.py"):
        assert "install(" in (root / module).read_text(encoding="utf-8"), module


def test_event_id_conflicts_are_counted(tmp_path: Path) -> None:
    app = make_app(f"sqlite:///{tmp_path / 'eiso.db'}")
    registry = CollectorRegistry()
    install(app, registry)
    first = _received(1, "000.00.01.H10")
    assert app.service.ingest_line(first, "t").status == "applied"
    assert app.service.ingest_line(first, "t").status == "duplicate"
    assert registry.get_sample_value("eiso_event_id_conflicts_total") == 0
    other = json.dumps(json.loads(first) | {"case_id": "C-other"})
    outcome = app.service.ingest_line(other, "t")
    assert outcome.status == "refused" and outcome.conflict
    assert registry.get_sample_value("eiso_event_id_conflicts_total") == 1
    assert registry.get_sample_value("eiso_events_consumed_total",
                                     {"type": "case.received", "outcome": "refused"}) == 1
    app.engine.dispose()
