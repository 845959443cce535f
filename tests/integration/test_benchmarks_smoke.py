"""Each benchmark runs to its table on a tiny stream (no threshold: timing belongs in BENCHMARKS.md)."""

from __future__ import annotations

import os
import subprocess
import sys

from tests.conftest import ROOT, postgres_url
from tests.integration.kafka_support import bootstrap


def run(script: str, env: dict[str, str]) -> str:
    result = subprocess.run([sys.executable, str(ROOT / "bench" / script), "--cases", "15"], cwd=ROOT,
                            env={**os.environ, **env}, capture_output=True, text=True, timeout=600, check=False)
    assert result.returncode == 0, result.stderr[-3000:]
    return result.stdout


def test_store_vs_ceiling_prints_its_table() -> None:
    out = run("store_vs_ceiling.py", {"EISO_DATABASE_URL": ""})
    assert "in memory (ceiling)" in out and "naive store" in out and "batches of 500" in out


def test_kafka_throughput_prints_events_per_second() -> None:
    database = postgres_url()
    if database is None:
        import pytest

        pytest.skip("no PostgreSQL")
    out = run("kafka_throughput.py", {"EISO_KAFKA_BOOTSTRAP": bootstrap(), "EISO_DATABASE_URL": database})
    assert "events/s" in out and "machine:" in out


def test_one_command_prints_every_target() -> None:
    """`python3 -m bench --quick`: every target of the province-scale issue in one table (sizes tiny)."""
    database = postgres_url()
    if database is None:
        import pytest

        pytest.skip("no PostgreSQL")
    result = subprocess.run([sys.executable, "-m", "bench", "--quick"], cwd=ROOT, capture_output=True, text=True,
                            env={**os.environ, "EISO_KAFKA_BOOTSTRAP": bootstrap(), "EISO_DATABASE_URL": database},
                            timeout=900, check=False)
    assert result.returncode == 0, result.stderr[-3000:]
    for target in ("throughput, one worker", "x naive store", "% of SpiffWorkflow alone", "with COPY",
                   "watcher due queries use an index", "due -> nonconformity committed", "control slip",
                   "late cases page", "worker RSS"):
        assert target in result.stdout, target
