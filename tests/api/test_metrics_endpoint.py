"""The API serves Prometheus metrics at /metrics, fed by the events it applies."""

from __future__ import annotations

from fastapi.testclient import TestClient

from engine.api import create_app
from engine.bootstrap import build
from engine.settings import DatabaseSettings, Settings


def test_metrics_endpoint_counts_the_events_it_applies(tmp_path) -> None:  # type: ignore[no-untyped-def]
    eiso = build(Settings(database=DatabaseSettings(url=f"sqlite:///{tmp_path / 'm.db'}")))
    client = TestClient(create_app(eiso))
    eiso.service.ingest_line('{"broken', "test")
    body = client.get("/metrics").text
    assert 'eiso_events_consumed_total{outcome="refused",type="unknown"} 1.0' in body
    assert "case_id" not in body
