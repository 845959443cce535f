"""Migration 0007 on a database written by the schema before it: every existing deployment becomes
"every agency", and what cases follow is unchanged (issue 10, section 3). SQLite and PostgreSQL.

The database is built at revision 0006 by Alembic and written the way the code of that schema wrote
it: a version row, then a received case (journal, case row, step rows, and a snapshot without a
scope), the rows computed by the engine's own core and filtered to the columns that existed then.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Connection, MetaData, Table

from engine.bootstrap import build
from engine.core.clock import ManualClock
from engine.core.events import parse_event
from engine.core.handling import CaseHandler
from engine.procedures.loader import load_procedure
from engine.settings import DatabaseSettings, Settings
from engine.store.cases import LiveCase, case_values, snapshot_row, step_rows
from engine.store.database import make_engine, upgrade
from engine.store.queries import Presenter, case_detail
from tests.conftest import FIXTURES
from tests.unit.engine_harness import at

SOURCE = (FIXTURES / "test-procedure.bpmn").read_bytes()
DEPLOYED = datetime(2026, 3, 1, 1, 0, tzinfo=UTC)
AGENCY = "000.31.12.H10"


def received(case_id: str, when: str, agency: str = AGENCY) -> dict[str, Any]:
    return {"event_id": f"{case_id}-r", "type": "case.received", "case_id": case_id, "agency": agency,
            "procedure": "9.000001", "occurred_at": at(when)}


def _stored(conn: Connection, value: Any) -> Any:
    """A value as that schema's column type took it: UTC times (naive on SQLite, as UTCDateTime wrote them)."""
    if isinstance(value, datetime):
        value = value.astimezone(UTC)
        return value.replace(tzinfo=None) if conn.dialect.name == "sqlite" else value
    return value


def _insert(conn: Connection, table: Table, row: dict[str, Any]) -> Any:
    kept = {k: _stored(conn, v) for k, v in row.items() if k in table.c}
    return conn.execute(table.insert().values(**kept))


def write_as_before(url: str) -> None:
    engine = make_engine(url)
    upgrade(engine, "0006")
    loaded = load_procedure(SOURCE, "test-procedure.bpmn")
    calendar = build(Settings(database=DatabaseSettings(url="sqlite://")), migrate=False).calendar
    with engine.begin() as conn:
        tables = MetaData()
        tables.reflect(conn)
        assert "scope" not in tables.tables["procedure_version"].c  # truly the schema before 0007
        _insert(conn, tables.tables["procedure_version"], {
            "code": "9.000001", "version": 1, "process_id": loaded.definition.process_id,
            "name": loaded.definition.name, "filename": "test-procedure.bpmn", "checksum": loaded.checksum,
            "statutory_limit_seconds": loaded.definition.statutory_limit_seconds, "source": SOURCE,
            "deployed_at": DEPLOYED})
        event = parse_event(received("OLD-1", "2026-03-02 08:00"))
        handler, _ = CaseHandler.receive(event, loaded, 1, calendar)
        live = LiveCase(handler, event_count=0, since_snapshot=0, is_new=True)
        journal = _insert(conn, tables.tables["journal"], {
            "event_id": event.event_id, "case_id": event.case_id, "type": event.type, "occurred_at": event.occurred_at,
            "recorded_at": DEPLOYED, "payload": event.to_dict(), "notes": None})
        seq = journal.inserted_primary_key[0]
        _insert(conn, tables.tables["cases"], {"case_id": "OLD-1", **case_values(live.case), "event_count": 1,
                                               "journal_seq": seq})
        for step in step_rows(live):
            _insert(conn, tables.tables["case_step"], step)
        snapshot = snapshot_row(live, DEPLOYED)
        del snapshot["state"]["case"]["procedure_scope"]  # snapshots of that time had no scope
        _insert(conn, tables.tables["case_snapshot"], {**snapshot, "journal_seq": seq})
    engine.dispose()


def test_existing_deployments_become_every_agency_and_cases_follow_the_same_version(database_url: str) -> None:
    write_as_before(database_url)
    clock = ManualClock(datetime(2026, 3, 12, 1, 0, tzinfo=UTC))
    app = build(Settings(database=DatabaseSettings(url=database_url)), clock=clock)  # upgrades to head
    try:
        [version] = app.catalog.versions()
        assert (version.code, version.scope, version.version, version.retired_at) == ("9.000001", "*", 1, None)
        presenter = Presenter(app.calendar)
        before = case_detail(app.engine, "OLD-1", presenter)
        assert before is not None
        assert (before["procedure_version"], before["procedure_scope"]) == (1, "*")

        completed = {"event_id": "OLD-1-c", "type": "step.completed", "case_id": "OLD-1", "agency": AGENCY,
                     "procedure": "9.000001", "step": "receive", "occurred_at": at("2026-03-02 09:00")}
        assert app.service.ingest_object(completed, "test").status == "applied"  # reloaded from the old rows
        app.service._cache.clear()
        assert app.service.ingest_object({**completed, "event_id": "OLD-1-c2", "step": "appraise",
                                          "occurred_at": at("2026-03-03 09:00")}, "test").status == "applied"
        after = case_detail(app.engine, "OLD-1", presenter)
        assert after is not None and after["due_at"] == before["due_at"]
        assert [s["step"] for s in after["steps"]][:2] == ["receive", "appraise"]

        for case_id, agency in (("NEW-1", AGENCY), ("NEW-2", "000.00.13.H10")):
            assert app.service.ingest_object(received(case_id, "2026-03-12 09:00", agency), "test").status == "applied"
            new = case_detail(app.engine, case_id, presenter)
            assert new is not None and (new["procedure_version"], new["procedure_scope"]) == (1, "*")
        redeployed = app.catalog.deploy(SOURCE, "test-procedure.bpmn", clock.now())
        assert (redeployed.created, redeployed.scope, redeployed.version) == (False, "*", 1)  # identical: a no-op
    finally:
        app.engine.dispose()
