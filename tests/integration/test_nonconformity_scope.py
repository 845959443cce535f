"""Nonconformities name the procedure scope (issue 10, section 3): agency A's version 1 is told from every
agency's version 1 in `eiso nc list`, the API and the outbound message. SQLite and PostgreSQL.

The scope is a key added to each output (contract section 5: adding a key is compatible); migration 0010
gives the records raised before it their case's scope.
"""

from __future__ import annotations

import csv
import io
import json
import os
import subprocess
import sys
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import pytest
from sqlalchemy import MetaData, select, text

from engine.api.roles import Role
from engine.bootstrap import build
from engine.core.clock import ManualClock
from engine.core.events import parse_event
from engine.settings import DatabaseSettings, EngineSettings, Settings
from engine.store.database import make_engine, upgrade
from engine.store.outbox import NONCONFORMITY, OUTBOX
from tests.api.support import OTHER_AGENCY, OWN_AGENCY, PROCEDURE, World, late_case, make_world, nc_key
from tests.conftest import ROOT

SOURCE = PROCEDURE.read_bytes()
# Agency A's own version 1: another statutory limit, the same steps (so the same late step).
SCOPED = SOURCE.replace(b'name="statutoryLimit" value="P5D"', b'name="statutoryLimit" value="P10D"')
A_CASE, EVERY_CASE = "A-260302-0001", "E-260302-0001"


@pytest.fixture
def scoped_world(database_url: str) -> Iterator[World]:
    """Version 1 for every agency and agency A's own version 1; a late case under each, outbox on."""
    clock = ManualClock(datetime.fromisoformat("2026-03-01T08:00:00+07:00"))
    app = build(Settings(database=DatabaseSettings(url=database_url), engine=EngineSettings(outbox=True)),
                clock=clock)
    try:
        world = make_world(app, clock, seed=False)
        every = app.catalog.deploy(SOURCE, "procedure.bpmn", clock.now())
        own = app.catalog.deploy(SCOPED, "procedure-a.bpmn", clock.now(), agencies=[OWN_AGENCY])
        assert (every.scope, every.version, own.scope, own.version) == ("*", 1, OWN_AGENCY, 1)
        for obj in [*late_case(A_CASE, OWN_AGENCY, "a"), *late_case(EVERY_CASE, OTHER_AGENCY, "e")]:
            assert app.service.ingest_object(obj, "test").status == "applied"
        with world.client:
            yield world
    finally:
        app.engine.dispose()


def _cli(database_url: str, *args: str) -> str:
    env = {**os.environ, "EISO_DATABASE_URL": database_url, "COLUMNS": "200"}
    env.pop("EISO_DEBUG", None)
    result = subprocess.run([sys.executable, "-m", "engine.cli.app", *args], check=False, capture_output=True,
                            text=True, env=env, cwd=ROOT, timeout=300)
    assert result.returncode == 0 and "Traceback" not in result.stderr, result.stderr
    return result.stdout


def _named(items: list[dict[str, Any]]) -> dict[str, tuple[Any, ...]]:
    return {item["case_id"]: (item["procedure"], str(item["procedure_version"]), item["procedure_scope"])
            for item in items}


EXPECTED = {A_CASE: ("9.000001", "1", OWN_AGENCY), EVERY_CASE: ("9.000001", "1", "*")}


def test_a_scoped_case_raises_a_nonconformity_that_names_its_scope_everywhere(database_url: str,
                                                                              scoped_world: World) -> None:
    eiso = scoped_world.eiso
    listed = json.loads(_cli(database_url, "nc", "list", "--format", "json"))
    assert _named(listed) == EXPECTED
    rows = list(csv.DictReader(io.StringIO(_cli(database_url, "nc", "list", "--format", "csv"))))
    assert _named(rows) == EXPECTED
    assert list(rows[0])[:12] == ["type", "case_id", "agency", "procedure", "procedure_version", "step", "due_at",
                                  "actual_at", "delay_working_hours", "detected_at", "event_ids", "status"]

    page = scoped_world.call(Role.admin, "GET", "/nonconformities")
    assert page.status_code == 200, page.text
    assert _named(page.json()["items"]) == EXPECTED
    one = scoped_world.call(Role.admin, "GET", f"/nonconformities/{nc_key(A_CASE)}")
    assert one.status_code == 200 and one.json()["procedure_scope"] == OWN_AGENCY

    with eiso.engine.connect() as conn:
        values = conn.execute(select(OUTBOX.c.value).where(OUTBOX.c.kind == NONCONFORMITY)).scalars().all()
    messages = [json.loads(v) for v in values]
    assert _named(messages) == EXPECTED
    assert {m["key"] for m in messages} == {nc_key(A_CASE), nc_key(EVERY_CASE)}


def test_a_corrective_step_keeps_the_scope_in_the_message(scoped_world: World) -> None:
    """A message written by the API's corrective-action step reads the row: the scope is there too."""
    answer = scoped_world.call(Role.admin, "POST", f"/nonconformities/{nc_key(A_CASE)}/correction",
                               json={"correction": "Handed over at once"})
    assert answer.status_code == 200, answer.text
    assert answer.json()["procedure_scope"] == OWN_AGENCY
    with scoped_world.eiso.engine.connect() as conn:
        value = conn.execute(select(OUTBOX.c.value).where(
            OUTBOX.c.message_id == f"nc:{nc_key(A_CASE)}:step_late:correction_recorded")).scalar_one()
    assert json.loads(value)["procedure_scope"] == OWN_AGENCY


def test_a_case_reloaded_from_its_snapshot_raises_records_with_its_scope(scoped_world: World) -> None:
    """A record raised after the case left the cache (snapshot plus journal) still names the scope."""
    eiso = scoped_world.eiso
    eiso.service._cache.clear()
    eiso.clock.set(datetime(2026, 4, 30, 3, 0, tzinfo=UTC))
    eiso.service.watch()
    with eiso.engine.connect() as conn:
        scopes = dict(conn.execute(text("SELECT type, procedure_scope FROM nonconformity WHERE case_id = :c "
                                        "AND type = 'case_overdue'"), {"c": A_CASE}).all())
    assert scopes == {"case_overdue": OWN_AGENCY}


def test_a_batch_written_by_copy_names_the_scope(scoped_world: World) -> None:
    """Thirty events in one batch: PostgreSQL writes the records by COPY (``engine.store.writes``), SQLite by VALUES."""
    eiso = scoped_world.eiso
    events = [parse_event(obj) for n in range(10)
              for obj in late_case(f"AB-260302-{n:04d}", OWN_AGENCY, f"ab{n}")]
    assert [o.status for o in eiso.service.ingest_batch(events)] == ["applied"] * 30
    with eiso.engine.connect() as conn:
        scopes = conn.execute(text("SELECT DISTINCT procedure_scope FROM nonconformity WHERE case_id LIKE 'AB-%'"
                                   )).scalars().all()
        messages = [json.loads(v) for v in conn.execute(select(OUTBOX.c.value).where(
            OUTBOX.c.kind == NONCONFORMITY, OUTBOX.c.message_key.like("AB-%"))).scalars()]
    assert scopes == [OWN_AGENCY]
    assert len(messages) == 10 and {m["procedure_scope"] for m in messages} == {OWN_AGENCY}


def test_migration_0010_gives_old_records_their_cases_scope(database_url: str) -> None:
    """A database at 0009 with records written as before (no scope column), upgraded to 0010."""
    engine = make_engine(database_url)
    try:
        upgrade(engine, "0009")
        at = datetime(2026, 3, 2, 1, 0, tzinfo=UTC)
        stored = at.replace(tzinfo=None) if engine.dialect.name == "sqlite" else at
        with engine.begin() as conn:
            tables = MetaData()
            tables.reflect(conn)
            ncs, cases = tables.tables["nonconformity"], tables.tables["cases"]
            assert "procedure_scope" not in ncs.c  # truly the schema before 0010
            for case_id, scope in ((A_CASE, OWN_AGENCY), (EVERY_CASE, "*")):
                conn.execute(cases.insert().values(
                    case_id=case_id, agency=OWN_AGENCY, procedure="9.000001", procedure_version=1,
                    procedure_scope=scope, status="open", received_at=stored, started_at=stored,
                    clock_running=True, overdue_flagged=False, event_count=1, journal_seq=1))
            for case_id in (A_CASE, EVERY_CASE, "NO-CASE-ROW"):
                conn.execute(ncs.insert().values(
                    key=f"{case_id}:case_timeliness", type="case_overdue", case_id=case_id, agency=OWN_AGENCY,
                    procedure="9.000001", procedure_version=1, detected_at=stored, event_ids=["e"], details={},
                    status="open", updated_at=stored))
        upgrade(engine, "0010")
        with engine.connect() as conn:
            scopes = dict(conn.execute(text("SELECT case_id, procedure_scope FROM nonconformity")).all())
        assert scopes == {A_CASE: OWN_AGENCY, EVERY_CASE: "*", "NO-CASE-ROW": "*"}
    finally:
        engine.dispose()
