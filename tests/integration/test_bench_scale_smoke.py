"""The million-case benchmarks run to their tables on a tiny data set (no threshold: timing belongs
in BENCHMARKS.md); the data set's clones behave as the engine-made cases they were cloned from."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator

import psycopg
import pytest

from bench import api_latency, dataset, watcher_latency
from tests.conftest import ROOT, fresh_postgres_database, postgres_url

KEYS = {"target", "measured", "goal", "met"}


@pytest.fixture(scope="module")
def base() -> str:
    url = postgres_url()
    if url is None:
        pytest.skip("no PostgreSQL: run through scripts/test (EISO_TEST_POSTGRES_URL)")
    return url


@pytest.fixture(scope="module")
def loaded(base: str) -> Iterator[dataset.DatasetInfo]:
    databases = fresh_postgres_database()
    url = next(databases)
    yield dataset.load(url, 2_000, templates=120, samples=6)
    next(databases, None)


def test_loaded_rows_are_real_cases(loaded: dataset.DatasetInfo) -> None:
    assert loaded.rows["cases"] == 2_000 - 120
    assert loaded.rows["journal"] > loaded.rows["cases"] and loaded.rows["case_step"] > loaded.rows["cases"]
    assert loaded.open_cases > 1_000 and loaded.samples
    with psycopg.connect(dataset.psycopg_url(loaded.url)) as conn:
        assert conn.execute("SELECT count(*) FROM cases").fetchone() == (2_000,)
        orphans = conn.execute("SELECT count(*) FROM journal j LEFT JOIN cases c USING (case_id) "
                               "WHERE c.case_id IS NULL").fetchone()
        assert orphans == (0,)
    # A clone takes its template's next event, then a watcher pass, exactly as the template does.
    assert dataset.verify(loaded) == []
    rows = dataset.summary(loaded)
    assert rows and set(rows[0]) == KEYS


def test_watcher_benchmark_measures_both_sizes_and_the_real_loop(base: str, loaded: dataset.DatasetInfo) -> None:
    databases = fresh_postgres_database()
    small = next(databases)
    try:
        dataset.load(small, 300, templates=60)
        results = watcher_latency.measure(2_000, url=loaded.url, small_url=small, due=3, planted=2, interval=1.0)
    finally:
        next(databases, None)
    assert results.small.due_pass[0] == results.large.due_pass[0] == 3
    assert "Index" in results.large.plans["steps"] and "Index" in results.large.plans["cases"]
    assert len(results.latency.seconds) == 2 and all(x > 0 for x in results.latency.seconds)
    rows = watcher_latency.rows(results)
    assert len(rows) == 3 and all(set(r) == KEYS for r in rows)


def test_api_benchmark_answers_both_routes(loaded: dataset.DatasetInfo) -> None:
    measured = api_latency.measure(2_000, url=loaded.url, clients=3, seconds=2, warmup=0.5)
    assert measured.errors == []
    assert measured.latencies[api_latency.SLIP] and measured.latencies[api_latency.LATE]
    rows = api_latency.rows(measured)
    assert len(rows) == 2 and all(set(r) == KEYS for r in rows)


def test_loader_runs_from_the_command_line(base: str) -> None:
    result = subprocess.run([sys.executable, str(ROOT / "bench" / "dataset.py"), "--cases", "300", "--templates",
                             "40"], cwd=ROOT, env={**os.environ, "EISO_DATABASE_URL": base}, capture_output=True,
                            text=True, timeout=600, check=False)
    assert result.returncode == 0, result.stderr[-3000:]
    assert "rows/s" in result.stdout and "same behaviour" in result.stdout
