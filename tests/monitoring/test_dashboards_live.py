"""Every dashboard query against the real thing.

`eiso simulate` traffic goes through a real Kafka into the real worker (with its metrics) and a
real PostgreSQL; a real Prometheus (Debian's binary, loopback only) scrapes the process's
/metrics with the alert rules loaded; every PromQL panel query must return a finite value and
every SQL panel query must return rows, read as the read-only reporting role.
"""

from __future__ import annotations

import json
import math
import shutil
import socket
import subprocess
import time
import urllib.parse
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from prometheus_client import CollectorRegistry
from sqlalchemy import create_engine, text

from connectors.worker import CaseEventWorker
from engine.bootstrap import App
from monitoring import WorkerMetrics, install
from monitoring.dashboards import DASHBOARDS
from monitoring.http import serve
from tests.conftest import fresh_postgres_database, postgres_url
from tests.integration.kafka_support import create_topics, kafka_settings, produce, unique_prefix
from tests.monitoring.support import make_app, required_binary, simulate

RULES = Path(__file__).resolve().parents[2] / "monitoring" / "prometheus" / "alerts.yml"
GRAFANA_VARIABLES = {"${agency:regex}": ".*", "${procedure:regex}": ".*", "$agency": ".*", "$procedure": ".*",
                     "$__rate_interval": "30s", "$__range": "10m"}



def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _get(url: str) -> Any:
    with urllib.request.urlopen(url, timeout=10) as response:
        return json.loads(response.read())


@dataclass
class Stack:
    app: App
    url: str
    prometheus: str


def _substitute(query: str) -> str:
    for name, value in GRAFANA_VARIABLES.items():
        query = query.replace(name, value)
    return query


def _targets(kind: str) -> list[tuple[str, str, dict[str, Any]]]:
    return [(name, p["title"], t) for name, build in DASHBOARDS.items() for p in build()["panels"]
            for t in p["targets"] if t["datasource"]["type"] == kind]


def _ensure_reporting_role() -> None:
    base = postgres_url()
    if base is None:
        pytest.skip("no PostgreSQL: run through scripts/test (EISO_TEST_POSTGRES_URL)")
    admin = create_engine(base, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text("DO $$ BEGIN IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'eiso_reporting') "
                          "THEN CREATE ROLE eiso_reporting NOLOGIN; END IF; END $$"))
    admin.dispose()


def _run_worker(app: App, settings: Any, metrics: WorkerMetrics) -> None:
    CaseEventWorker(app, settings, metrics=metrics).run(exit_when_idle=2)


def _start_prometheus(tmp: Path, target: str) -> tuple[subprocess.Popen[bytes], str]:
    binary = required_binary("prometheus")
    shutil.copy(RULES, tmp / "alerts.yml")
    (tmp / "prometheus.yml").write_text(
        "global: {scrape_interval: 1s, evaluation_interval: 1s}\n"
        "rule_files: [alerts.yml]\n"
        f"scrape_configs:\n  - job_name: eiso-worker\n    static_configs:\n      - targets: ['{target}']\n")
    port = _free_port()
    process = subprocess.Popen(
        [binary, f"--config.file={tmp / 'prometheus.yml'}", f"--storage.tsdb.path={tmp / 'data'}",
         f"--web.listen-address=127.0.0.1:{port}", "--storage.tsdb.retention.time=1h"],
        stdout=(tmp / "prometheus.log").open("wb"), stderr=subprocess.STDOUT)
    base = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        try:
            if urllib.request.urlopen(f"{base}/-/ready", timeout=2).status == 200:
                return process, base
        except OSError:
            time.sleep(0.2)
    process.kill()
    raise AssertionError("prometheus did not become ready: " + (tmp / "prometheus.log").read_text()[-2000:])


def _wait_for_scrapes(base: str, count: int) -> None:
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        result = _get(f"{base}/api/v1/query?query=" + urllib.parse.quote("count_over_time(up[1m])"))["data"]["result"]
        if result and float(result[0]["value"][1]) >= count:
            return
        time.sleep(0.5)
    raise AssertionError("prometheus did not scrape the metrics endpoint")


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    required_binary("prometheus")
    _ensure_reporting_role()
    tmp = tmp_path_factory.mktemp("stack")
    settings = kafka_settings(unique_prefix("monitoring"))
    for url in fresh_postgres_database():
        app = make_app(url, outbox=True)
        registry = CollectorRegistry()
        install(app, registry, database=True)
        worker_metrics = WorkerMetrics(registry)
        lines = simulate(tmp / "month.jsonl", cases=300)
        create_topics(settings, partitions=2)
        half = len(lines) * 2 // 3
        produce(settings, lines[:half])
        _run_worker(app, settings, worker_metrics)
        server, _ = serve(registry, 0)
        process, base = _start_prometheus(tmp, f"127.0.0.1:{server.server_port}")
        try:
            _wait_for_scrapes(base, 3)
            # The rest arrives while Prometheus watches, with a message that cannot be read.
            produce(settings, [*lines[half:], b"{not an event"])
            _run_worker(app, settings, worker_metrics)
            app.service.watch()
            _wait_for_scrapes(base, 8)
            time.sleep(2)
            yield Stack(app, url, base)
        finally:
            process.terminate()
            try:
                process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
            server.shutdown()
            server.server_close()
            app.engine.dispose()


@pytest.mark.parametrize(("dashboard", "title", "target"), _targets("prometheus"),
                         ids=[f"{d}:{t}" for d, t, _ in _targets("prometheus")])
def test_every_promql_panel_query_returns_data(stack: Stack, dashboard: str, title: str, target: dict[str, Any]
                                               ) -> None:
    query = _substitute(target["expr"])
    answer = _get(f"{stack.prometheus}/api/v1/query?query=" + urllib.parse.quote(query))
    assert answer["status"] == "success"
    values = [float(r["value"][1]) for r in answer["data"]["result"]]
    assert values, f"{dashboard} / {title}: no data for {query}"
    assert any(math.isfinite(v) for v in values), f"{dashboard} / {title}: only NaN for {query}"


@pytest.mark.parametrize(("dashboard", "title", "target"), _targets("grafana-postgresql-datasource"),
                         ids=[f"{d}:{t}" for d, t, _ in _targets("grafana-postgresql-datasource")])
def test_every_sql_panel_query_returns_rows_as_the_reporting_role(stack: Stack, dashboard: str, title: str,
                                                                  target: dict[str, Any]) -> None:
    engine = create_engine(stack.url)
    try:
        with engine.begin() as conn:
            conn.execute(text("SET LOCAL ROLE eiso_reporting"))
            rows = conn.execute(text(_substitute(target["rawSql"]).replace(":", r"\:"))).all()
    finally:
        engine.dispose()
    assert rows, f"{dashboard} / {title}: no rows"


def test_the_real_prometheus_loaded_every_alert_rule(stack: Stack) -> None:
    groups = _get(f"{stack.prometheus}/api/v1/rules")["data"]["groups"]
    rules = [r for g in groups for r in g["rules"]]
    assert len(rules) >= 15
    assert all(r["health"] == "ok" for r in rules), [r for r in rules if r["health"] != "ok"]


def test_the_reporting_role_reads_only_the_views(stack: Stack) -> None:
    engine = create_engine(stack.url)
    try:
        with engine.begin() as conn:
            conn.execute(text("SET LOCAL ROLE eiso_reporting"))
            with pytest.raises(Exception, match="permission denied"):
                conn.execute(text("SELECT count(*) FROM journal"))
    finally:
        engine.dispose()
