"""The step statistics' rule: the level's thresholds, the breach rate, the 90th percentile, the overdue predicate."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import Boolean, Column, Integer, MetaData, Table, create_engine, insert, select

from engine.reporting.steps import (
    OK_BELOW,
    WARN_BELOW,
    Level,
    breach_rate,
    hours,
    level,
    p90,
    step_overdue,
)
from engine.store.tables import UTCDateTime


@pytest.mark.parametrize(("rate", "expected"), [
    (None, Level.NONE), (0.0, Level.OK), (0.0499, Level.OK), (OK_BELOW, Level.WARN), (0.1999, Level.WARN),
    (WARN_BELOW, Level.BAD), (1.0, Level.BAD)])
def test_the_level_of_a_breach_rate(rate: float | None, expected: Level) -> None:
    assert level(rate) is expected


def test_the_breach_rate_counts_the_overdue_as_judged_and_late() -> None:
    assert breach_rate(completed=0, completed_late=0, overdue=0) is None
    assert breach_rate(completed=4, completed_late=3, overdue=1) == 0.8
    assert breach_rate(completed=0, completed_late=0, overdue=2) == 1.0
    assert breach_rate(completed=20, completed_late=1, overdue=0) == 0.05
    assert level(breach_rate(completed=20, completed_late=1, overdue=0)) is Level.WARN  # 5 % is not below 5 %


def test_the_90th_percentile_and_hours() -> None:
    assert p90([10]) == 10
    assert p90([1, 2, 3, 4]) == 4  # index min(3, int(3.6))
    assert p90(list(range(1, 11))) == 10 and p90(list(range(1, 21))) == 19
    assert hours(96300) == 26.75 and hours(1800) == 0.5


def test_overdue_is_a_running_step_past_its_due() -> None:
    now = datetime(2026, 3, 12, 1, 0, tzinfo=UTC)
    table = Table("case_step", MetaData(), Column("id", Integer, primary_key=True), Column("running", Boolean),
                  Column("due_at", UTCDateTime()))
    shapes = [(running, due) for running in (True, False)
              for due in (None, now - timedelta(seconds=1), now, now + timedelta(seconds=1))]
    engine = create_engine("sqlite://")
    table.metadata.create_all(engine)
    with engine.begin() as conn:
        conn.execute(insert(table), [{"id": i, "running": r, "due_at": d} for i, (r, d) in enumerate(shapes)])
        found = {row[0] for row in conn.execute(select(table.c.id).where(step_overdue(table.c, now)))}
    assert found == {0 + 1}  # running, due a second ago; never paused (no due) or due at or after now
