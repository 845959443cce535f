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
    assert {labels["scope"] for labels, _ in samples["eiso_step_allowance_working_hours"]} == {"*"}


def test_labels_are_bounded_never_a_case_id(fed: tuple[App, CollectorRegistry, list[str]]) -> None:
    app, registry, _ = fed
    with app.engine.connect() as conn:
        from sqlalchemy import text

        case_ids = {r[0] for r in conn.execute(text("SELECT case_id FROM cases"))}
    allowed = {"agency", "procedure", "scope", "step", "type", "outcome", "kind", "timeliness", "le"}
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


def test_on_time_rate_is_the_reports_for_the_month_so_far(fed: tuple[App, CollectorRegistry, list[str]]) -> None:
    """domain.md and `eiso report`: late = resolved late + still open past the due; the gauge counts the same."""
    from collections import Counter

    from engine.reports import Period, build_report
    from tests.monitoring.support import NOW

    app, registry, _ = fed
    month_start = NOW.replace(day=1, hour=0, minute=0, second=0)
    report = build_report(app.engine, app.catalog, app.calendar, Period(month_start, NOW), objective=0.95)
    by_agency: dict[str, Counter[str]] = {}
    for group in report["groups"]:
        counts = by_agency.setdefault(group["agency"], Counter())
        for key in ("resolved", "early", "on_time", "open_overdue"):
            counts[key] += group[key]
    assert any(c["open_overdue"] for c in by_agency.values()), "the month must hold open overdue cases"
    for agency, counts in by_agency.items():
        judged = counts["resolved"] + counts["open_overdue"]
        if not judged:
            continue
        gauge = {"agency": agency}
        assert registry.get_sample_value("eiso_cases_judged_month", gauge) == judged
        assert registry.get_sample_value("eiso_cases_resolved_month", gauge) == counts["resolved"]
        assert registry.get_sample_value("eiso_cases_in_time_month", gauge) == counts["early"] + counts["on_time"]
        assert registry.get_sample_value("eiso_on_time_ratio", gauge) == pytest.approx(
            (counts["early"] + counts["on_time"]) / judged)


@pytest.mark.parametrize(("when", "working"), [
    ("2026-03-31T10:00:00+07:00", 1),  # a Tuesday morning
    ("2026-03-31T12:00:00+07:00", 0),  # the lunch break
    ("2026-03-31T17:30:00+07:00", 0),  # after closing
    ("2026-03-28T10:00:00+07:00", 0),  # a Saturday
    ("2026-02-18T10:00:00+07:00", 0),  # Tết, a Wednesday: the clock says office hours, the calendar does not
])
def test_working_time_follows_the_legal_calendar(tmp_path: Path, when: str, working: int) -> None:
    from datetime import datetime

    from engine.core.clock import ManualClock

    app = make_app(f"sqlite:///{tmp_path / 'eiso.db'}")
    assert isinstance(app.clock, ManualClock)
    app.clock.set(datetime.fromisoformat(when))
    registry = CollectorRegistry()
    install(app, registry, database=True)
    assert registry.get_sample_value("eiso_working_time") == working
    with app.engine.begin() as conn:
        from sqlalchemy import text

        conn.execute(text("ALTER TABLE cases RENAME TO cases_gone"))
    assert registry.get_sample_value("eiso_working_time") == working  # no database needed
    app.engine.dispose()


def test_deadline_series_exist_at_zero_for_agencies_with_open_work(
        fed: tuple[App, CollectorRegistry, list[str]]) -> None:
    _, registry, _ = fed
    samples = _samples(registry)
    open_pairs = {(labels["agency"], labels["procedure"]) for labels, _ in samples["eiso_cases_open"]}
    missed = {(labels["agency"], labels["procedure"], labels["kind"])
              for labels, _ in samples["eiso_deadlines_missed_total"]}
    assert {(a, p, k) for a, p in open_pairs for k in ("case", "step")} <= missed


def test_feed_keys_each_event_by_its_case_and_skips_blank_lines() -> None:
    from tools.feed import feed, key_of

    sent: list[tuple[str, bytes, bytes | None]] = []

    class Producer:
        def send(self, topic: str, value: bytes, key: bytes | None) -> None:
            sent.append((topic, value, key))

        def flush(self, timeout: float) -> None:
            pass

    lines = ['{"case_id": "C-1", "type": "case.received"}\n', "\n", "{not an event\n", b'{"case_id": "C-2"}']
    assert feed(lines, topic="t", producer=Producer()) == 3
    assert [(t, k) for t, _, k in sent] == [("t", b"C-1"), ("t", None), ("t", b"C-2")]
    assert sent[1][1] == b"{not an event"
    assert key_of("[1, 2]") is None and key_of('{"case_id": ""}') is None
