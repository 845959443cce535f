"""The newcomer's path on the real Kafka: `eiso simulate | eiso events produce -`, then `eiso worker` applies
the events, and its log at INFO stays a handful of key=value lines (no per-task SpiffWorkflow lines, no
ERROR for a topic that does not exist yet)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from connectors.settings import KafkaSettings
from tests.conftest import ROOT
from tests.integration.kafka_support import bootstrap, kafka_settings, read_all, unique_prefix

CASES = 300


def _env(settings: KafkaSettings, database_url: str) -> dict[str, str]:
    env = {**os.environ, "EISO_DATABASE_URL": database_url, "EISO_KAFKA_BOOTSTRAP": settings.bootstrap,
           "EISO_KAFKA_TOPIC": settings.topic, "EISO_KAFKA_GROUP": settings.group,
           "EISO_KAFKA_DLQ_TOPIC": settings.dlq_topic, "EISO_KAFKA_OUTBOUND_TOPIC": settings.outbound_topic,
           "EISO_KAFKA_SESSION_TIMEOUT_MS": "6000", "COLUMNS": "200"}
    env.pop("EISO_DEBUG", None)
    return env


def _eiso(env: dict[str, str], *args: str, stdin: str | None = None, timeout: float = 300
          ) -> subprocess.CompletedProcess[str]:
    result = subprocess.run([sys.executable, "-m", "engine.cli.app", *args], input=stdin, capture_output=True,
                            text=True, env=env, cwd=ROOT, timeout=timeout, check=False)
    assert "Traceback" not in result.stderr, result.stderr
    return result


def test_simulate_produce_then_the_worker_applies_with_a_quiet_log(postgres_database: str) -> None:
    settings = kafka_settings(unique_prefix("newcomer"))
    env = _env(settings, postgres_database)
    assert _eiso(env, "procedures", "deploy", "--bundled").returncode == 0
    simulated = _eiso(env, "simulate", "--cases", str(CASES), "--month", "2026-10", "--seed", "7")
    assert simulated.returncode == 0, simulated.stderr
    lines = [line for line in simulated.stdout.splitlines() if line.strip()]

    produced = _eiso(env, "events", "produce", "-", stdin=simulated.stdout)
    assert produced.returncode == 0, produced.stderr
    assert f"{len(lines)} event(s) of {CASES} case(s) sent to {settings.topic}" in produced.stdout
    messages = read_all(settings, settings.topic, expected=len(lines), timeout_ms=20_000)
    assert len(messages) == len(lines)
    assert all(m.key.decode() == json.loads(m.value)["case_id"] for m in messages)  # keyed by case id

    worker = _eiso(env, "worker", "--exit-when-idle", "3", "--log-level", "INFO")
    assert worker.returncode == 0, worker.stderr
    assert f"worker stopped: {len(lines)} message(s)" in worker.stdout, worker.stdout
    log = worker.stderr.splitlines()
    assert not [line for line in log if "spiff" in line or " ERROR " in line], worker.stderr
    batches = [line for line in log if " batch records=" in line]
    assert batches and all("lag=" in line and "duration_ms=" in line for line in batches), worker.stderr
    assert len(log) <= len(batches) + 12, worker.stderr  # start, assignment, idle stop: a few lines besides


def test_a_topic_that_does_not_exist_yet_is_one_info_line_not_an_error(tmp_path: Path) -> None:
    settings = kafka_settings(unique_prefix("absent"))
    env = _env(settings, f"sqlite:///{tmp_path / 'eiso.db'}")
    worker = _eiso(env, "worker", "--exit-when-idle", "1", "--log-level", "INFO", timeout=120)
    assert worker.returncode == 0, worker.stderr
    assert " ERROR " not in worker.stderr, worker.stderr
    notices = [line for line in worker.stderr.splitlines() if "does not exist yet" in line]
    assert len(notices) <= 1 and all(" INFO " in line and settings.topic in line for line in notices), worker.stderr


def test_produce_refuses_a_file_that_is_not_case_events_and_sends_nothing(tmp_path: Path) -> None:
    bootstrap()
    settings = kafka_settings(unique_prefix("refuse"))
    env = _env(settings, f"sqlite:///{tmp_path / 'eiso.db'}")
    good = json.dumps({"event_id": "e1", "type": "case.received", "case_id": "C-1"})
    events = tmp_path / "events.jsonl"
    events.write_text(f"{good}\n\nnot json at all\n[1, 2]\n{good}\n", encoding="utf-8")
    produced = _eiso(env, "events", "produce", str(events))
    assert produced.returncode == 1
    assert "events.jsonl:3: not JSON" in produced.stderr and "events.jsonl:4: not a case event" in produced.stderr
    assert "nothing sent" in produced.stderr
    assert read_all(settings, settings.topic, timeout_ms=3000) == []
