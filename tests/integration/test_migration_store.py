"""Migrating running cases on a real database (SQLite and PostgreSQL): the application use case, its journal
row, snapshot and audit row, the dry run, the agency filter, a refused map, and a replay from the journal.

Hand-computed on the test procedure (appraise P2D; version 2 makes it P3D): a case received Fri 6 Mar 2026
14:00 whose receive step completed Mon 9 Mar 08:00 has appraise running from Mon 08:00, due Wed 11 Mar 08:00;
on version 2 the same 8 h used by Tue 08:00 leave 16 h of 24: due Thu 12 Mar 08:00.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

import pytest
from sqlalchemy import delete, func, select
from sqlmodel import Session

from engine.application.actor import Actor
from engine.application.migration import MigrationRequest, ProcedureNotFound, migrate_cases
from engine.bootstrap import App
from engine.core.clock import ManualClock
from engine.core.migration import StepMapInvalid
from engine.store.cases import JOURNAL, SNAPSHOTS, load_case
from engine.store.tables import CaseRow, CaseStepRow
from engine.store.tables_api import AuditEntry
from tests.conftest import FIXTURES
from tests.unit.engine_harness import at, vn

SOURCE = (FIXTURES / "test-procedure.bpmn").read_bytes()
LONGER = SOURCE.replace(b'value="P2D"', b'value="P3D"')
RENAMED = SOURCE.replace(b'"appraise"', b'"assess"')
OTHER = "000.00.02.H10"
ALICE = Actor("alice", "cli")


def ev(event_id: str, type_: str, when: str, step: str | None = None, case_id: str = "A",
       agency: str = "000.00.01.H10") -> dict[str, Any]:
    obj = {"event_id": event_id, "type": type_, "case_id": case_id, "agency": agency, "procedure": "9.000001",
           "occurred_at": at(when)}
    if step:
        obj["step"] = step
    return obj


def at_appraise(app: App, case_id: str, agency: str = "000.00.01.H10") -> None:
    for i, (type_, when, step) in enumerate([("case.received", "2026-03-06 14:00", None),
                                             ("step.completed", "2026-03-09 08:00", "receive")]):
        assert app.service.ingest_object(ev(f"{case_id}-{i}", type_, when, step, case_id, agency), "test").status \
            == "applied"


@pytest.fixture
def running(app: App, clock: ManualClock) -> App:
    """Cases A (at appraise), B (at appraise, suspended Tue 10 Mar 08:00), C (another agency, at appraise);
    version 2 deployed Tue 10 Mar 09:00, which is also when they migrate."""
    app.catalog.deploy(SOURCE, "test-procedure.bpmn", clock.now())
    at_appraise(app, "A")
    at_appraise(app, "B")
    app.service.ingest_object(ev("B-s", "case.suspended", "2026-03-10 08:00", case_id="B"), "test")
    at_appraise(app, "C", OTHER)
    clock.set(vn("2026-03-10 09:00"))
    assert app.catalog.deploy(LONGER, "test-procedure.bpmn", clock.now()).version == 2
    return app


def counts(app: App) -> tuple[int, int, int]:
    with app.engine.connect() as conn:
        journal = conn.execute(select(func.count()).select_from(JOURNAL)).scalar_one()
        audit = conn.execute(select(func.count()).select_from(AuditEntry.__table__)).scalar_one()  # type: ignore[attr-defined]
        migrated = conn.execute(select(func.count()).select_from(JOURNAL).where(JOURNAL.c.type == "case_migrated")
                                ).scalar_one()
    return journal, audit, migrated


def case_row(app: App, case_id: str) -> CaseRow:
    with Session(app.engine) as session:
        row = session.get(CaseRow, case_id)
        assert row is not None
        return row


def appraise_due(app: App, case_id: str) -> datetime | None:
    with Session(app.engine) as session:
        return session.exec(select(CaseStepRow.due_at).where(  # type: ignore[call-overload]
            CaseStepRow.case_id == case_id, CaseStepRow.seq == 1)).scalar_one()


def migrate(app: App, **given: Any) -> Any:
    request = MigrationRequest(code="9.000001", to_version=given.pop("to", 2), **given)
    return migrate_cases(app.engine, app.catalog, app.calendar, request, ALICE, app.clock.now(),
                         forget=app.service.forget)


def test_dry_run_plans_the_same_and_writes_nothing(running: App) -> None:
    app = running
    before = counts(app)
    summary = migrate(app, dry_run=True)
    answer = summary.to_dict(app.calendar)
    assert (answer["moved"], answer["stayed"], answer["dry_run"]) == (3, 0, True)
    by_case = {c["case_id"]: c for c in answer["cases"]}
    [a_step] = by_case["A"]["steps"]
    assert (a_step["step"], a_step["new_step"]) == ("appraise", "appraise")
    assert (a_step["due_before"], a_step["due_after"]) == ("2026-03-11T08:00:00+07:00", "2026-03-12T08:00:00+07:00")
    assert (a_step["allowance_hours_before"], a_step["allowance_hours_after"], a_step["consumed_hours"]) == (
        16.0, 24.0, 9.0)  # Mon 08:00 -> Tue 09:00: 7.5 + 1.5 h
    [b_step] = by_case["B"]["steps"]
    assert (b_step["paused"], b_step["due_after"], b_step["consumed_hours"]) == (True, None, 8.0)
    assert counts(app) == before
    assert case_row(app, "A").procedure_version == 1
    assert appraise_due(app, "A") == vn("2026-03-11 08:00")


def test_migration_moves_with_journal_snapshot_audit_and_replays(running: App) -> None:
    app = running
    journal, audit, _ = counts(app)
    summary = migrate(app)
    assert [(c.case_id, c.moved) for c in summary.cases] == [("A", True), ("B", True), ("C", True)]
    assert counts(app) == (journal + 3, audit + 3, 3)
    assert case_row(app, "A").procedure_version == 2
    assert appraise_due(app, "A") == vn("2026-03-12 08:00")
    assert appraise_due(app, "B") is None  # suspended: no due until it resumes
    with Session(app.engine) as session:
        entry = session.exec(select(AuditEntry).where(  # type: ignore[call-overload]
            AuditEntry.__table__.c.action == "case.migrate",  # type: ignore[attr-defined]
            AuditEntry.__table__.c.entity_key == "A")).scalar_one()  # type: ignore[attr-defined]
        assert (entry.actor, entry.actor_role, entry.agency) == ("alice", "cli", "000.00.01.H10")
        assert (entry.before["version"], entry.after["version"]) == ("9.000001/1", "9.000001/2")
    with app.engine.connect() as conn:
        payload = conn.execute(select(JOURNAL.c.payload).where(JOURNAL.c.case_id == "A",
                                                               JOURNAL.c.type == "case_migrated")).scalar_one()
        snapshot_seq = conn.execute(select(SNAPSHOTS.c.journal_seq).where(SNAPSHOTS.c.case_id == "A")).scalar_one()
        migrated_seq = conn.execute(select(JOURNAL.c.seq).where(JOURNAL.c.case_id == "A",
                                                                JOURNAL.c.type == "case_migrated")).scalar_one()
    assert (payload["from_version"], payload["to_version"], payload["actor"]["name"]) == (1, 2, "alice")
    assert snapshot_seq == migrated_seq  # a load starts from the migrated state
    # the cases go on, loaded from the database (cache dropped): A's appraise is early on version 2
    app.service.forget_cache()
    assert app.service.ingest_object(ev("A-2", "step.completed", "2026-03-11 10:00", "appraise"), "test").status \
        == "applied"
    app.service.ingest_object(ev("B-r", "case.resumed", "2026-03-12 08:00", case_id="B"), "test")
    assert appraise_due(app, "B") == vn("2026-03-16 08:00")  # 16 h left from Thu 08:00
    with app.engine.begin() as conn:
        from_snapshot = _state(load_case(conn, "A", app.catalog, app.calendar))
        conn.execute(delete(SNAPSHOTS).where(SNAPSHOTS.c.case_id == "A"))
        replayed = _state(load_case(conn, "A", app.catalog, app.calendar))
        conn.rollback()
    assert replayed == from_snapshot  # the journal alone, migration row included, gives the same case
    assert from_snapshot["procedure_version"] == 2
    assert [(s["step"], s["timeliness"]) for s in from_snapshot["steps"]][:2] == [("receive", "on_time"),
                                                                                ("appraise", "early")]


def _state(live: Any) -> dict[str, Any]:
    state: dict[str, Any] = live.case.to_dict()
    for step in state["steps"]:
        step.pop("task_id")  # a replayed workflow draws new task ids
    return state


def test_agency_filter_and_visibility_select_the_cases(running: App) -> None:
    app = running
    assert [c.case_id for c in migrate(app, agencies=(OTHER,), dry_run=True).cases] == ["C"]
    request = MigrationRequest(code="9.000001", to_version=2, dry_run=True)
    seen = migrate_cases(app.engine, app.catalog, app.calendar, request, ALICE, app.clock.now(),
                         visible=lambda agency: agency == OTHER)
    assert [c.case_id for c in seen.cases] == ["C"]


def test_removed_step_stays_and_a_renamed_one_moves_with_the_map(running: App, clock: ManualClock) -> None:
    app = running
    assert app.catalog.deploy(RENAMED, "test-procedure.bpmn", clock.now()).version == 3
    before = counts(app)
    stayed = migrate(app, to=3, agencies=("000.00.01.H10",))
    assert [(c.case_id, c.reason_code) for c in stayed.cases] == [("A", "step_removed"), ("B", "step_removed")]
    assert counts(app) == before and case_row(app, "A").procedure_version == 1
    with pytest.raises(StepMapInvalid, match="'apraise'"):
        migrate(app, to=3, step_map={"apraise": "assess"})
    assert counts(app) == before
    moved = migrate(app, to=3, step_map={"appraise": "assess"}, agencies=("000.00.01.H10",))
    assert [(c.case_id, c.moved, c.mapped) for c in moved.cases] == [
        ("A", True, (("appraise", "assess"),)), ("B", True, (("appraise", "assess"),))]
    app.service.forget_cache()
    assert app.service.ingest_object(ev("A-3", "step.completed", "2026-03-10 10:00", "assess"), "test").status \
        == "applied"
    with pytest.raises(ProcedureNotFound, match="no version 9"):
        migrate(app, to=9)
