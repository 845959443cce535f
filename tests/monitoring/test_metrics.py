"""The metrics module on a fresh registry: counters from the service's outcomes, gauges from the database."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from prometheus_client import CollectorRegistry
from prometheus_client.parser import text_string_to_metric_families

from engine.bootstrap import App
from monitoring import Metrics, WorkerMetrics, install
from monitoring.http import render
from tests.monitoring.support import make_app, simulate


@pytest.fixture(scope="module")
def fed(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[App, CollectorRegistry, list[str]]]:
    tmp_path = tmp_path_factory.mktemp("metrics")
    app = make_app(f"sqlite:///{tmp_path / 'eiso.db'}")
    registry = CollectorRegistry()
    install(app, registry, database=True)
    lines = simulate(tmp_path / "month.jsonl", cases=300)
    for line in lines:
        app.service.ingest_line(line, "test")
    app.service.ingest_line("{not json", "test")
    app.service.watch()
    try:
        yield app, registry, lines
    finally:
        app.engine.dispose()


def _samples(registry: CollectorRegistry) -> dict[str, list[tuple[dict[str, str], float]]]:
    body, _ = render(registry)
    found: dict[str, list[tuple[dict[str, str], float]]] = {}
    for family in text_string_to_metric_families(body.decode()):
        for sample in family.samples:
            found.setdefault(sample.name, []).append((sample.labels, sample.value))
    return found


def test_every_event_is_counted_once_by_type_and_outcome(fed: tuple[App, CollectorRegistry, list[str]]) -> None:
    _, registry, lines = fed
    samples = _samples(registry)
    total = sum(v for labels, v in samples["eiso_events_consumed_total"] if labels["type"] != "watch.tick")
    assert total == len(lines) + 1  # the watcher's passes that raised something are counted apart
    assert registry.get_sample_value("eiso_events_consumed_total", {"type": "unknown", "outcome": "refused"}) == 1
    assert registry.get_sample_value("eiso_events_consumed_total",
                                     {"type": "case.received", "outcome": "applied"}) == 300


def test_durations_and_nonconformities_are_measured(fed: tuple[App, CollectorRegistry, list[str]]) -> None:
    _, registry, _ = fed
    samples = _samples(registry)
    case_counts = [v for labels, v in samples["eiso_case_working_hours_count"]]
    finished = sum(v for _, v in samples["eiso_cases_finished_total"])
    assert sum(case_counts) == finished > 0
    assert sum(v for _, v in samples["eiso_step_working_hours_count"]) > finished
    buckets = {labels["le"] for labels, _ in samples["eiso_step_working_hours_bucket"]}
    assert {"0.25", "8.0", "400.0", "+Inf"} <= buckets
    assert sum(v for _, v in samples["eiso_nonconformities_raised_total"]) > 0


def test_open_work_comes_from_the_database(fed: tuple[App, CollectorRegistry, list[str]]) -> None:
    app, registry, _ = fed
    samples = _samples(registry)
    with app.engine.connect() as conn:
        from sqlalchemy import text

        open_cases = conn.execute(text("SELECT count(*) FROM cases WHERE status IN "
                                       "('open', 'suspended', 'awaiting_supplement')")).scalar_one()
        active = conn.execute(text("SELECT count(*) FROM case_step WHERE status = 'active'")).scalar_one()
    assert sum(v for _, v in samples["eiso_cases_open"]) == open_cases > 0
    assert sum(v for _, v in samples["eiso_steps_open"]) == active
    assert 0 < sum(v for _, v in samples["eiso_cases_overdue"]) <= open_cases
    assert all(0 <= v <= 1 for _, v in samples["eiso_on_time_ratio"])
    assert samples["eiso_quality_objective"] == [({}, 0.95)]
    assert samples["eiso_database_up"] == [({}, 1.0)]
    assert any(labels["kind"] == "case" and v > 0 for labels, v in samples["eiso_deadlines_missed_total"])
    assert {labels["procedure"] for labels, _ in samples["eiso_step_allowance_working_hours"]}


def test_labels_are_bounded_never_a_case_id(fed: tuple[App, CollectorRegistry, list[str]]) -> None:
    app, registry, _ = fed
    with app.engine.connect() as conn:
        from sqlalchemy import text

        case_ids = {r[0] for r in conn.execute(text("SELECT case_id FROM cases"))}
    allowed = {"agency", "procedure", "step", "type", "outcome", "kind", "timeliness", "le"}
    for samples in _samples(registry).values():
        for labels, _ in samples:
            assert set(labels) <= allowed
            assert not set(labels.values()) & case_ids


def test_database_down_is_reported_not_raised(tmp_path: Path) -> None:
    app = make_app(f"sqlite:///{tmp_path / 'eiso.db'}")
    registry = CollectorRegistry()
    install(app, registry, database=True)
    with app.engine.begin() as conn:
        from sqlalchemy import text

        conn.execute(text("ALTER TABLE cases RENAME TO cases_gone"))
    assert registry.get_sample_value("eiso_database_up") == 0
    assert registry.get_sample_value("eiso_cases_open") is None
    app.engine.dispose()


def test_metrics_are_declared_once_per_registry() -> None:
    registry = CollectorRegistry()
    Metrics(registry)
    WorkerMetrics(registry)
    with pytest.raises(ValueError, match="Duplicated timeseries"):
        Metrics(registry)
    Metrics(CollectorRegistry())  # a fresh registry is independent


def test_process_without_database_flag_exports_no_gauges(tmp_path: Path) -> None:
    app = make_app(f"sqlite:///{tmp_path / 'eiso.db'}")
    registry = CollectorRegistry()
    install(app, registry)
    assert "eiso_cases_open" not in _samples(registry)
    app.engine.dispose()


def test_metrics_route_serves_the_registry_for_the_api(fed: tuple[App, CollectorRegistry, list[str]]) -> None:
    from starlette.applications import Starlette
    from starlette.testclient import TestClient

    from monitoring.http import metrics_route

    _, registry, _ = fed
    with TestClient(Starlette(routes=[metrics_route(registry)])) as client:
        plain = client.get("/metrics")
        open_metrics = client.get("/metrics", headers={"Accept": "application/openmetrics-text; version=1.0.0"})
    assert plain.status_code == 200 and "eiso_cases_open{" in plain.text
    assert open_metrics.headers["content-type"].startswith("application/openmetrics-text")
