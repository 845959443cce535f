"""The watcher's next due (SQLite and PostgreSQL): the earliest running clock not yet flagged overdue."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import select

from engine.bootstrap import App
from engine.core.clock import ManualClock
from engine.store.cases import CASES, STEPS
from tests.integration.test_service_store import deploy, ev
from tests.unit.engine_harness import vn


def test_next_due_follows_the_flags(app: App, clock: ManualClock) -> None:
    deploy(app)
    assert app.service.next_due(vn("2026-03-02 08:00")) is None
    assert app.service.ingest_object(ev("a1", "case.received", "2026-03-02 08:00"), "test").status == "applied"
    with app.engine.connect() as conn:
        step_due = conn.execute(select(STEPS.c.due_at).where(STEPS.c.running.is_(True))).scalar_one()
        case_due = conn.execute(select(CASES.c.due_at)).scalar_one()
    assert step_due < case_due
    assert app.service.next_due(vn("2026-03-02 08:00")) == step_due
    assert app.service.next_due(step_due) == step_due  # due at that very instant: not raised yet

    result = app.service.watch(step_due + timedelta(seconds=1))
    assert [n.step for n in result.nonconformities] == ["receive"]
    assert app.service.next_due(result.at) == case_due  # the flagged step is no longer waited for
    again = app.service.watch(step_due + timedelta(seconds=2))
    assert again.cases == 0 and not again.nonconformities  # its row is flagged: no pass comes back to it

    clock.set(result.at)
    assert 0 < app.service.pause_after_watch(result, 3600.0) <= 3600.0
    clock.set(case_due - timedelta(seconds=2))
    assert abs(app.service.pause_after_watch(result, 3600.0) - 2.005) < 0.01

    late = app.service.watch(case_due + timedelta(seconds=1))
    assert "case_overdue" in [n.type for n in late.nonconformities]
    assert app.service.next_due(late.at) is None


def test_a_pass_flags_a_step_row_left_unflagged(app: App) -> None:
    """A row that still says "not flagged" although its case holds the nonconformity is flagged once."""
    deploy(app)
    app.service.ingest_object(ev("a1", "case.received", "2026-03-02 08:00"), "test")
    with app.engine.connect() as conn:
        step_due = conn.execute(select(STEPS.c.due_at).where(STEPS.c.running.is_(True))).scalar_one()
    assert len(app.service.watch(step_due + timedelta(seconds=1)).nonconformities) == 1
    with app.engine.begin() as conn:
        conn.execute(STEPS.update().values(overdue_flagged=False))
    app.service.forget_cache()
    repair = app.service.watch(step_due + timedelta(seconds=2))
    assert repair.cases == 1 and not repair.nonconformities
    assert app.service.watch(step_due + timedelta(seconds=3)).cases == 0


def test_a_pass_reads_due_cases_in_batches(app: App) -> None:
    deploy(app)
    for n in range(5):
        app.service.ingest_object(ev(f"b{n}", "case.received", f"2026-03-02 08:0{n}", case_id=f"C-{n}"), "test")
    app.service.watch_batch = 2
    result = app.service.watch(vn("2026-03-03 08:00"))
    assert result.cases == 5 and len({n.case_id for n in result.nonconformities}) == 5
    assert app.service.watch(vn("2026-03-03 08:00")).cases == 0
