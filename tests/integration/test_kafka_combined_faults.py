"""Combined faults on the real Kafka and a real PostgreSQL: two workers, SIGKILLs at random moments,
and PostgreSQL stopped while the surviving worker takes over a killed worker's partitions.

Nothing may be lost or applied twice: the end state is an uninterrupted `eiso ingest` of the same
stream. The longer version, with more kills and a broker restart, is scripts/chaos-soak.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.integration.kafka_support import ChaosPlan, PrivatePostgres, kafka_settings, run_chaos, unique_prefix


@pytest.fixture
def private_postgres() -> Iterator[PrivatePostgres]:
    """A cluster of the test's own: the shared one must never be stopped."""
    cluster = PrivatePostgres()
    try:
        yield cluster
    finally:
        cluster.destroy()


def test_kills_and_a_database_stop_during_a_rebalance_lose_nothing(private_postgres: PrivatePostgres,
                                                                   tmp_path: Path) -> None:
    settings = kafka_settings(unique_prefix("combined"))
    plan = ChaosPlan(cases=2100, seed=30, kills=2, outages=1, produce_seconds=40.0)

    report = run_chaos(plan, settings, private_postgres, tmp_path, say=print)

    print(report.summary())
    assert report.events >= 20_000
    assert report.kills == 3 and report.outages == 1
    assert report.takeovers_during_outage == 1  # the rebalance fell within the database stop
    assert report.database_retries > 0
    # Same digest as `eiso ingest`, one journal row per event id, an acknowledgement per event id and
    # every nonconformity's latest state on the outbound topic, committed offsets at the partitions' ends.
    assert not report.problems, "\n".join(report.problems)
    assert report.journal == (report.distinct_ids, report.distinct_ids)
