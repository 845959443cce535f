"""Every dashboard query against the real thing, laid out as docker-compose deploys it.

`eiso simulate` traffic is produced to a real Kafka (keyed by case id, `tools.feed`) week by week, the
real worker applies it to a real PostgreSQL and the deadline watcher runs, the clock following the month.
Processes as in docker-compose: the worker serves its own counters (job eiso-worker) and two exporters
serve the database gauges (job eiso-metrics, twice, to prove that a second exporter changes nothing). A
real Prometheus (Debian's binary, loopback only) scrapes them with monitoring/prometheus/prometheus.yml's
jobs and loads the alert rules; every PromQL panel query must return a finite value and every SQL panel
query must return rows, read by logging in as the read-only reporting role that
monitoring/postgres/10-reporting-role.sh creates. With EISO_RENDER_DASHBOARDS=DIR (scripts/render-dashboards)
the panels are also plotted into DIR.
"""

from __future__ import annotations

import json
import math
import os
import shutil
import socket
import subprocess
import threading
import time
import urllib.parse
import urllib.request
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest
import yaml
from prometheus_client import CollectorRegistry
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

from connectors.worker import CaseEventWorker
from engine.bootstrap import App
from engine.core.clock import ManualClock
from monitoring import WorkerMetrics, install
from monitoring.collector import DatabaseCollector
from monitoring.http import serve
from tests.conftest import fresh_postgres_database, postgres_url
from tests.integration.kafka_support import create_topics, kafka_settings, unique_prefix
from tests.monitoring.support import NOW, make_app, required_binary, simulate
from tools.dashboards import DASHBOARDS
from tools.feed import feed
from tools.render import grafana_variables, substitute

MONITORING = Path(__file__).resolve().parents[2] / "monitoring"
RULES = MONITORING / "prometheus" / "alerts.yml"
ROLE_SCRIPT = MONITORING / "postgres" / "10-reporting-role.sh"
REPORTING_PASSWORD = "eiso-reporting-test"
# The month is replayed a week at a time; the clock (deadlines, the watcher, "now" of the gauges) follows.
WEEKS = ["2026-03-09T07:30:00+07:00", "2026-03-16T07:30:00+07:00", "2026-03-23T07:30:00+07:00",
         "2026-03-30T07:30:00+07:00"]


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
    reporting_url: str
    prometheus: str
    started: float
    ended: float


def _targets(kind: str) -> list[tuple[str, str, dict[str, Any]]]:
    return [(name, p["title"], t) for name, build in DASHBOARDS.items() for p in build()["panels"]
            for t in p["targets"] if t["datasource"]["type"] == kind]


def _reporting_role(base: str) -> str:
    """The reporting role made by the init script docker-compose runs (psql), or its equivalent; its URL."""
    url = make_url(base)
    psql = shutil.which("psql")
    if psql is not None:
        env = dict(os.environ, PGHOST=url.host or "127.0.0.1", PGPORT=str(url.port or 5432),
                   POSTGRES_USER=url.username or "postgres", POSTGRES_DB=url.database or "postgres",
                   EISO_REPORTING_PASSWORD=REPORTING_PASSWORD)
        if url.password:
            env["PGPASSWORD"] = str(url.password)
        run = subprocess.run(["sh", str(ROLE_SCRIPT)], env=env, capture_output=True, text=True, check=False)
        assert run.returncode == 0, run.stdout + run.stderr
    else:
        admin = create_engine(base, isolation_level="AUTOCOMMIT")
        with admin.connect() as conn:
            conn.execute(text("DO $$ BEGIN IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'eiso_reporting') "
                              "THEN CREATE ROLE eiso_reporting LOGIN; END IF; END $$"))
            conn.execute(text(f"ALTER ROLE eiso_reporting LOGIN PASSWORD '{REPORTING_PASSWORD}'"))
            conn.execute(text("ALTER ROLE eiso_reporting SET default_transaction_read_only = on"))
        admin.dispose()
    return url.set(username="eiso_reporting", password=REPORTING_PASSWORD).render_as_string(hide_password=False)


def _prometheus_config(tmp: Path, targets: dict[str, list[str]]) -> Path:
    """monitoring/prometheus/prometheus.yml with its eiso jobs pointed at this test's processes."""
    config = yaml.safe_load((MONITORING / "prometheus" / "prometheus.yml").read_text(encoding="utf-8"))
    config["global"].update(scrape_interval="1s", evaluation_interval="1s")
    config.pop("alerting", None)
    jobs = []
    for job in config["scrape_configs"]:
        if job["job_name"] in targets:
            job["static_configs"] = [{"targets": targets[job["job_name"]]}]
            jobs.append(job)
    assert {j["job_name"] for j in jobs} == set(targets), "prometheus.yml lacks a job the test serves"
    config["scrape_configs"] = jobs
    shutil.copy(RULES, tmp / "alerts.yml")
    path = tmp / "prometheus.yml"
    path.write_text(yaml.safe_dump(config), encoding="utf-8")
    return path


def _start_prometheus(tmp: Path, config: Path) -> tuple[subprocess.Popen[bytes], str]:
    binary = required_binary("prometheus")
    port = _free_port()
    process = subprocess.Popen(
        [binary, f"--config.file={config}", f"--storage.tsdb.path={tmp / 'data'}",
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
    """Until every target has been scraped successfully ``count`` more times."""
    query = "min(sum_over_time(up[10m]))"

    def scraped() -> float:
        result = _get(f"{base}/api/v1/query?query=" + urllib.parse.quote(query))["data"]["result"]
        return float(result[0]["value"][1]) if result else 0.0

    goal = scraped() + count
    deadline = time.monotonic() + 40
    while time.monotonic() < deadline:
        if scraped() >= goal:
            return
        time.sleep(0.3)
    raise AssertionError("prometheus did not scrape every target")


def _wait_until(condition: Callable[[], bool], failure: str, seconds: float = 120) -> None:
    deadline = time.monotonic() + seconds
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(failure)
        time.sleep(0.2)


def _weeks(lines: list[str]) -> list[tuple[datetime, list[str]]]:
    """The month's lines cut at each week's Monday morning, with the instant the clock moves to."""
    chunks: list[tuple[datetime, list[str]]] = []
    rest = lines
    for boundary in [*WEEKS, NOW.isoformat()]:
        until = datetime.fromisoformat(boundary)
        taken = [line for line in rest if datetime.fromisoformat(json.loads(line)["occurred_at"]) < until]
        rest = rest[len(taken):]
        chunks.append((until, taken))
    chunks[-1][1].extend(rest)  # events after NOW (the last afternoon) come with the last week
    return chunks


def _replay(lines: list[str], settings: Any, app: App, clock: ManualClock, runner: CaseEventWorker,
            worker: threading.Thread, prometheus: str) -> None:
    """The month week by week: produce, wait until the worker read it all, move the clock, run the watcher."""
    sent = 0
    for number, (until, chunk) in enumerate(_weeks(lines)):
        extra = ["{not an event"] if number == len(WEEKS) else []  # the last week brings an unreadable message
        sent += feed([*chunk, *extra], settings)
        _wait_until(lambda: runner.stats.messages >= sent and worker.is_alive(),  # noqa: B023
                    f"the worker did not read week {number + 1}")
        clock.set(until)  # the worker is idle: the watcher runs as of the week's end
        app.service.watch()
        _wait_for_scrapes(prometheus, 3)


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    required_binary("prometheus")
    base = postgres_url()
    if base is None:
        pytest.skip("no PostgreSQL: run through scripts/test (EISO_TEST_POSTGRES_URL)")
    reporting_base = _reporting_role(base)
    tmp = tmp_path_factory.mktemp("stack")
    settings = kafka_settings(unique_prefix("monitoring"))
    for url in fresh_postgres_database():
        app = make_app(url, outbox=True)
        clock = app.clock
        assert isinstance(clock, ManualClock)
        worker_registry = CollectorRegistry()  # the worker: its own counters and the lag, no database gauges
        install(app, worker_registry)
        worker_metrics = WorkerMetrics(worker_registry)
        exporters = []  # `eiso metrics serve`, twice: the gauges must not double
        for _ in range(2):
            registry = CollectorRegistry()
            registry.register(DatabaseCollector(app.engine, app.calendar, app.catalog, clock,
                                                objective=app.settings.engine.quality_objective))
            exporters.append(serve(registry, 0)[0])
        lines = simulate(tmp / "month.jsonl", cases=300)
        create_topics(settings, partitions=2)
        worker_server, _ = serve(worker_registry, 0)
        config = _prometheus_config(tmp, {
            "eiso-worker": [f"127.0.0.1:{worker_server.server_port}"],
            "eiso-metrics": [f"127.0.0.1:{s.server_port}" for s in exporters]})
        process, prometheus = _start_prometheus(tmp, config)
        reporting_url = reporting_base.rsplit("/", 1)[0] + "/" + make_url(url).database
        # One worker for the whole month, as in production; the test waits until it has read each week.
        runner = CaseEventWorker(app, settings, metrics=worker_metrics)
        worker = threading.Thread(target=runner.run, name="eiso-worker", daemon=True)
        try:
            _wait_for_scrapes(prometheus, 2)
            started = time.time()
            worker.start()
            _replay(lines, settings, app, clock, runner, worker, prometheus)
            time.sleep(2)
            yield Stack(app, url, reporting_url, prometheus, started, time.time())
        finally:
            process.terminate()
            try:
                process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
            runner.stop()
            worker.join(timeout=30)
            for server in [worker_server, *exporters]:
                server.shutdown()
                server.server_close()
            app.engine.dispose()


def _variables(stack: Stack) -> dict[str, str]:
    return grafana_variables(time.time() - stack.started + 5)


@pytest.mark.parametrize(("dashboard", "title", "target"), _targets("prometheus"),
                         ids=[f"{d}:{t}:{x['refId']}" for d, t, x in _targets("prometheus")])
def test_every_promql_panel_query_returns_data(stack: Stack, dashboard: str, title: str, target: dict[str, Any]
                                               ) -> None:
    query = substitute(target["expr"], _variables(stack))
    answer = _get(f"{stack.prometheus}/api/v1/query?query=" + urllib.parse.quote(query))
    assert answer["status"] == "success"
    values = [float(r["value"][1]) for r in answer["data"]["result"]]
    assert values, f"{dashboard} / {title}: no data for {query}"
    assert any(math.isfinite(v) for v in values), f"{dashboard} / {title}: only NaN for {query}"


@pytest.mark.parametrize(("dashboard", "title", "target"), _targets("grafana-postgresql-datasource"),
                         ids=[f"{d}:{t}" for d, t, _ in _targets("grafana-postgresql-datasource")])
def test_every_sql_panel_query_returns_rows_as_the_reporting_role(stack: Stack, dashboard: str, title: str,
                                                                  target: dict[str, Any]) -> None:
    engine = create_engine(stack.reporting_url)  # logged in as Grafana's datasource is
    try:
        with engine.connect() as conn:
            assert conn.execute(text("SELECT current_user")).scalar_one() == "eiso_reporting"
            rows = conn.execute(text(substitute(target["rawSql"], _variables(stack)).replace(":", r"\:"))).all()
    finally:
        engine.dispose()
    assert rows, f"{dashboard} / {title}: no rows"


def _instant(stack: Stack, query: str) -> list[tuple[dict[str, str], float]]:
    answer = _get(f"{stack.prometheus}/api/v1/query?query=" + urllib.parse.quote(query))
    return [(r["metric"], float(r["value"][1])) for r in answer["data"]["result"]]


def test_two_exporters_count_once_and_agree_with_the_database(stack: Stack) -> None:
    assert len(_instant(stack, 'up{job="eiso-metrics"} == 1')) == 2
    with stack.app.engine.connect() as conn:
        open_cases = conn.execute(text("SELECT count(*) FROM cases WHERE status IN "
                                       "('open', 'suspended', 'awaiting_supplement')")).scalar_one()
        active = conn.execute(text("SELECT count(*) FROM case_step WHERE status = 'active'")).scalar_one()
    [(_, cases)] = _instant(stack, "sum(max without (instance, job) (eiso_cases_open))")
    [(_, steps)] = _instant(stack, "sum(max without (instance, job) (eiso_steps_open))")
    assert (cases, steps) == (open_cases, active)
    [(_, doubled)] = _instant(stack, "sum(eiso_cases_open)")
    assert doubled == 2 * open_cases  # what a naive sum would show


def test_the_deadline_alerts_fired_on_the_replayed_month(stack: Stack) -> None:
    """The watcher flagged steps and cases overdue week after week: the real Prometheus raised the alerts."""
    alerts = _get(f"{stack.prometheus}/api/v1/alerts")["data"]["alerts"]
    names = {a["labels"]["alertname"] for a in alerts}
    assert {"EisoStepWentOverdue", "EisoCaseWentOverdue", "EisoDeadLetters"} <= names, names
    for alert in alerts:
        if alert["labels"]["alertname"] in ("EisoStepWentOverdue", "EisoCaseWentOverdue"):
            assert set(alert["labels"]) == {"alertname", "severity", "agency", "procedure"}


def test_the_real_prometheus_loaded_every_alert_rule(stack: Stack) -> None:
    groups = _get(f"{stack.prometheus}/api/v1/rules")["data"]["groups"]
    rules = [r for g in groups for r in g["rules"]]
    expected = [r for g in yaml.safe_load(RULES.read_text())["groups"] for r in g["rules"]]
    assert len(rules) == len(expected)
    assert all(r["health"] == "ok" for r in rules), [r for r in rules if r["health"] != "ok"]


def test_the_reporting_role_reads_only_the_views_and_writes_nothing(stack: Stack) -> None:
    engine = create_engine(stack.reporting_url)
    try:
        for statement in ("SELECT count(*) FROM journal", "SELECT count(*) FROM cases",
                          "UPDATE v_late_cases SET status = 'closed'", "DELETE FROM v_open_nonconformities",
                          "CREATE TABLE grafana_was_here (x int)"):
            with engine.connect() as conn, pytest.raises(Exception, match=r"permission denied|read-only"):
                conn.execute(text(statement))
        with engine.connect() as conn:
            assert conn.execute(text("SHOW default_transaction_read_only")).scalar_one() == "on"
            assert conn.execute(text("SELECT count(*) FROM v_late_cases")).scalar_one() > 0
    finally:
        engine.dispose()


def test_every_panel_is_plotted(stack: Stack, tmp_path: Path) -> None:
    """monitoring.render on this stack: one PNG per dashboard (docs/dashboards/ through scripts/render-dashboards)."""
    pytest.importorskip("matplotlib", reason="pip install -e '.[docs]'")
    from tools.render import Prometheus, render_all, sql_runner

    out = Path(os.environ.get("EISO_RENDER_DASHBOARDS") or tmp_path)
    subtitle = ("Panel data plotted by tools/render.py (not Grafana): a simulated month (300 cases, "
                "`eiso simulate --seed 7 --month 2026-03`) replayed week by week through Kafka, the worker and "
                "PostgreSQL, scraped by a real Prometheus; the clock ends on " + NOW.strftime("%Y-%m-%d %H:%M") +
                " (Vietnam) for the gauges, while the SQL views' lists judge lateness by the database's clock (the day "
                "it was drawn).")
    written = render_all(Prometheus(stack.prometheus), sql_runner(stack.reporting_url, role=None), stack.started - 5,
                         time.time(), out, step=1.0, rate_interval="5s", subtitle=subtitle)
    assert sorted(p.name for p in written) == sorted(n.replace(".json", ".png") for n in DASHBOARDS)
    for path in written:
        assert 10_000 < path.stat().st_size < 300_000, (path, path.stat().st_size)
