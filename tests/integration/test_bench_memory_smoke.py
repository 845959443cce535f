"""bench/worker_memory.py on a small stream: the worker subprocess runs to the end, every event is
applied, the cache evicts and reloads, and RSS is reported (no threshold on time or memory: the
figures belong in BENCHMARKS.md)."""

from __future__ import annotations

import pytest

from bench.worker_memory import MIB, measure, rows, table
from tests.conftest import postgres_url
from tests.integration.kafka_support import bootstrap


def test_worker_memory_benchmark_runs_to_its_table() -> None:
    database = postgres_url()
    kafka = bootstrap()
    if database is None:
        pytest.skip("no PostgreSQL: run through scripts/test (EISO_TEST_POSTGRES_URL)")
    # 2,000 cases, a case comes back after 1,200 other events (300 per partition), batches of 100 and a
    # cache of 50: every return of a case misses the cache and reloads it from the store.
    runs, info = measure(cases=2000, cache_sizes=("50",), gap=400, batch=100, idle=3.0, timeout=480.0,
                         bootstrap=kafka, database_url=database)

    assert info["events"] == 6000
    (run,) = runs
    assert run.returncode == 0
    assert run.applied_events == 6000 and run.parked == 0 and run.refused == 0
    assert run.final["outcomes"] == {"applied": 6000}
    assert run.final["cache_size"] == 50 and run.final["cache"] <= 50
    assert run.reloads > 0
    assert run.samples and all(s.rss > 0 and s.hwm >= s.rss for s in run.samples)
    assert all(run.rss_at(share) is not None for share in (0.1, 0.5, 1.0))
    assert run.peak >= run.rss_end > 10 * MIB
    assert "50" in table(runs)
    (row,) = rows(runs)
    assert set(row) == {"target", "measured", "goal", "met"} and isinstance(row["met"], bool)
    assert "MiB" in row["measured"]
