"""Agency code history (issue 13, item 4), on SQLite and PostgreSQL: `eiso agencies import` (CSV, XLSX,
JSON; all rows or none; re-import idempotent; audited), events sent with a closed code applied to its
successor with the original kept, existing rows moved at import, scope and the report by original and
current code.

Agencies: A = 000.00.12.H11 (department 12 of a province merged away) closes at the start of Wednesday
4 March 2026; its successor B = 000.00.12.H10, the code the API world's users are bound to.
"""

from __future__ import annotations

import csv
import hashlib
import json
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest
from openpyxl import Workbook
from sqlmodel import Session, col, select
from typer.testing import CliRunner

from engine.api.roles import Role
from engine.api.users import create_user
from engine.application.agencies import import_agency_history
from engine.bootstrap import App
from engine.cli.app import app as cli
from engine.cli.context import get_app
from engine.core.clock import ManualClock
from engine.core.events import parse_event
from engine.store.agencies import stored_codes
from engine.store.tables import CaseRow, CaseStepRow, JournalEntry, NonconformityRow
from engine.store.tables_api import AuditEntry
from tests.api.support import PROCEDURE, USER_AGENCY, World, event, late_case, make_world
from tests.conftest import ROOT

A, B = "000.00.12.H11", USER_AGENCY
SAMPLE = ROOT / "config" / "agency-history-sample.csv"
HEADINGS = ["code", "name", "valid_from", "valid_to", "successor"]
ROWS = [[A, "Sở Tư pháp tỉnh cũ", "", "2026-03-04", B], [B, "Sở Tư pháp", "", "", ""]]
NOW = datetime.fromisoformat("2026-03-12T08:00:00+07:00")


def write_csv(path: Path, rows: list[list[str]]) -> Path:
    with path.open("w", newline="", encoding="utf-8") as stream:
        csv.writer(stream).writerows([HEADINGS, *rows])
    return path


def run_import(app: App, path: Path) -> Any:
    result = import_agency_history(app.engine, path, app.clock.now(), app.calendar.zone, "tester")
    app.service.agency_codes.invalidate()  # as `eiso agencies import` does in its own process
    return result


def eiso(database_url: str, *args: str) -> Any:
    get_app.cache_clear()
    try:
        result = CliRunner().invoke(cli, list(args), env={"EISO_DATABASE_URL": database_url, "COLUMNS": "200"})
    finally:
        if get_app.cache_info().currsize:
            get_app().engine.dispose()
        get_app.cache_clear()
    assert result.exception is None or isinstance(result.exception, SystemExit), result.exception
    return result


def case_row(app: App, case_id: str) -> CaseRow:
    with Session(app.engine) as session:
        row = session.get(CaseRow, case_id)
        assert row is not None
        return row


def agencies_of(app: App, case_id: str) -> tuple[str, str | None, set[str], set[str]]:
    """The case's agency and original code, and the agencies of its step rows and nonconformities."""
    row = case_row(app, case_id)
    with Session(app.engine) as session:
        steps = set(session.exec(select(CaseStepRow.agency).where(CaseStepRow.case_id == case_id)).all())
        ncs = set(session.exec(select(NonconformityRow.agency).where(NonconformityRow.case_id == case_id)).all())
    return row.agency, row.agency_original, steps, ncs


@pytest.fixture
def world(app: App, clock: ManualClock) -> Iterator[World]:
    made = make_world(app, clock, seed=False)  # users bound to B; clock at 2026-03-01 08:00 during the set-up
    clock.set(datetime.fromisoformat("2026-03-01T08:00:00+07:00"))
    app.catalog.deploy(PROCEDURE.read_bytes(), PROCEDURE.name, clock.now())
    with made.client:
        yield made


# -- import --------------------------------------------------------------------------------------------------

def test_csv_import_then_reimport_is_idempotent_and_audited(app: App, tmp_path: Path) -> None:
    path = write_csv(tmp_path / "history.csv", ROWS)
    first = run_import(app, path)
    assert first.problems == [] and first.saved is not None
    assert (first.saved.inserted, first.saved.updated, first.saved.unchanged) == (2, 0, 0)
    stored = {row.code: (row.successor, row.valid_to, row.imported_by) for row in stored_codes(app.engine)}
    assert stored == {A: (B, datetime.fromisoformat("2026-03-04T00:00:00+07:00"), "tester"), B: (None, None, "tester")}
    again = run_import(app, path)
    assert again.saved is not None and (again.saved.inserted, again.saved.updated, again.saved.unchanged) == (0, 0, 2)
    changed = run_import(app, write_csv(tmp_path / "renamed.csv", [[B, "Sở Tư pháp tỉnh mới", "", "", ""]]))
    assert changed.saved is not None and (changed.saved.updated, changed.saved.unchanged) == (1, 0)
    assert len(stored_codes(app.engine)) == 2  # codes not in the file are kept
    with Session(app.engine) as session:
        audit = session.exec(select(AuditEntry).where(AuditEntry.entity == "agency_history")
                             .order_by(col(AuditEntry.id))).all()
    assert [(e.actor, e.action, e.entity_key) for e in audit] == [
        ("tester", "agency_history.import", "history.csv"), ("tester", "agency_history.import", "history.csv"),
        ("tester", "agency_history.import", "renamed.csv")]
    assert audit[0].after is not None
    assert audit[0].after["sha256"] == hashlib.sha256(path.read_bytes()).hexdigest()
    assert (audit[0].after["rows"], audit[0].after["inserted"]) == (2, 2)


def test_xlsx_and_json(app: App, tmp_path: Path) -> None:
    book = Workbook()
    sheet = book.active
    assert sheet is not None
    sheet.append(["Danh mục mã định danh"])  # a title line above the headings
    sheet.append(["Mã định danh", "Tên cơ quan", "Hiệu lực từ", "Hiệu lực đến", "Mã kế thừa"])
    sheet.append([A, "cũ", None, datetime(2026, 3, 4), B])  # a real spreadsheet date
    book.save(tmp_path / "history.xlsx")
    result = run_import(app, tmp_path / "history.xlsx")
    assert result.problems == [] and result.saved is not None and result.saved.inserted == 1
    items = [{"code": A, "name": "cũ", "valid_to": "2026-03-04", "successor": B}, {"code": B, "name": "mới"}]
    (tmp_path / "history.json").write_text(json.dumps({"agencies": items}, ensure_ascii=False), encoding="utf-8")
    result = run_import(app, tmp_path / "history.json")
    assert result.saved is not None and (result.saved.inserted, result.saved.unchanged) == (1, 1)


def test_bad_rows_refuse_the_whole_file(app: App, tmp_path: Path) -> None:
    bad = [*ROWS, ["H11", "not a code", "", "", ""], ["000.00.13.H11", "", "", "31/02/2026", B]]
    result = run_import(app, write_csv(tmp_path / "bad.csv", bad))
    assert result.saved is None
    assert [(p.row, p.code) for p in result.problems] == [(4, "H11"), (5, "000.00.13.H11")]
    assert str(result.problems[0]).startswith('row 4: H11: code: agency "H11" is not an agency code')
    assert str(result.problems[1]).startswith("row 5: 000.00.13.H11: valid_to '31/02/2026': expected")
    cycle = [[A, "", "", "2026-03-04", B], [B, "", "", "2026-05-01", A]]
    result = run_import(app, write_csv(tmp_path / "cycle.csv", cycle))
    assert result.saved is None and [p.row for p in result.problems] == [2, 3]
    assert "cycle" in result.problems[0].problem
    closes_first = [[A, "", "", "2026-03-04", B], [B, "", "", "2026-03-01", "000.00.12.H12"]]
    result = run_import(app, write_csv(tmp_path / "closes.csv", closes_first))
    assert result.saved is None and [(p.row, p.code) for p in result.problems] == [(2, A)]
    assert stored_codes(app.engine) == []
    with Session(app.engine) as session:
        assert session.exec(select(AuditEntry).where(AuditEntry.entity == "agency_history")).all() == []


def test_a_file_conflicting_with_the_stored_history_is_refused(app: App, tmp_path: Path) -> None:
    run_import(app, write_csv(tmp_path / "first.csv", ROWS))
    result = run_import(app, write_csv(tmp_path / "second.csv", [[B, "", "", "2026-05-01", A]]))
    assert result.saved is None
    assert {(p.row, p.code) for p in result.problems} == {(2, B), (None, A)}
    assert {row.code: row.successor for row in stored_codes(app.engine)} == {A: B, B: None}


def test_cli_imports_the_sample_and_lists_it_with_formulas_harmless(database_url: str, app: App,
                                                                     tmp_path: Path) -> None:
    done = eiso(database_url, "agencies", "import", str(SAMPLE), "--actor", "chuyên viên")
    assert done.exit_code == 0, done.stderr
    assert "7 row(s): 7 added, 0 updated, 0 unchanged; moved to their successor: 0 case(s)" in done.stderr
    listed = json.loads(eiso(database_url, "agencies", "list", "--format", "json").stdout)
    current = {row["code"]: row["current"] for row in listed}
    assert current["000.41.12.H10"] == current["000.42.12.H10"] == "000.45.12.H10"
    assert current["000.00.00.H11"] == "000.00.00.H10"
    hostile = write_csv(tmp_path / "hostile.csv", [[A, "=HYPERLINK(\"http://x\")[/b]", "", "", ""]])
    assert eiso(database_url, "agencies", "import", str(hostile)).exit_code == 0
    out = eiso(database_url, "agencies", "list", "--format", "csv").stdout
    assert "'=HYPERLINK" in out
    table = eiso(database_url, "agencies", "list")
    assert table.exit_code == 0 and "[/b]" in table.stdout
    refused = eiso(database_url, "agencies", "import", str(write_csv(tmp_path / "b.csv", [["x", "", "", "", ""]])))
    assert refused.exit_code == 1 and "row 2: x: code:" in refused.stderr and "nothing imported" in refused.stderr


# -- events --------------------------------------------------------------------------------------------------

def test_an_event_with_a_closed_code_lands_on_the_successor(app: App, world: World, tmp_path: Path) -> None:
    run_import(app, write_csv(tmp_path / "h.csv", ROWS))
    received = event("n-1", "case.received", "2026-03-05 08:00", "N-1", A)
    assert app.service.ingest_object(received, "test").status == "applied"
    assert agencies_of(app, "N-1")[:3] == (B, A, {B})
    with Session(app.engine) as session:
        (payload,) = session.exec(select(JournalEntry.payload).where(JournalEntry.event_id == "n-1")).all()
    assert (payload["agency"], payload["agency_original"]) == (B, A)
    assert app.service.ingest_object(received, "again").status == "duplicate"  # as sent: the same event
    app.service.forget_cache()  # rebuilt from the journal: still the successor's
    done = event("n-2", "step.completed", "2026-03-05 09:00", "N-1", B, "receive")
    assert app.service.ingest_object(done, "test").status == "applied"
    assert agencies_of(app, "N-1")[:2] == (B, A)


@pytest.mark.parametrize("later_code", [A, B])
def test_a_case_received_before_the_closing_continues_on_the_successor(app: App, world: World, tmp_path: Path,
                                                                       later_code: str) -> None:
    run_import(app, write_csv(tmp_path / "h.csv", ROWS))
    received, first, late = late_case("P-1", A, "p")  # Monday 2 March, before the closing
    for obj in (received, first):
        assert app.service.ingest_object(obj, "test").status == "applied"
    assert agencies_of(app, "P-1") == (A, None, {A}, set())
    late["agency"] = later_code  # Friday 6 March, after it: the old code or the new one
    outcome = app.service.ingest_object(late, "test")
    assert outcome.status == "applied" and [nc.agency for nc in outcome.nonconformities] == [B]
    assert agencies_of(app, "P-1") == (B, A, {B}, {B})
    # an event dated before the closing, sent late with the old code, still finds its case
    late_sent = event("p-4", "case.result_ready", "2026-03-06 15:00", "P-1", A)
    assert app.service.ingest_object(late_sent, "test").status == "applied"
    other = event("p-5", "case.returned", "2026-03-06 16:00", "P-1", "000.00.13.H10")
    assert app.service.ingest_object(other, "test").status == "refused"


def test_import_moves_existing_rows_and_the_watcher_keeps_them_moved(app: App, world: World, clock: ManualClock,
                                                                       tmp_path: Path) -> None:
    received, first, late = late_case("E-1", A, "e")
    for obj in (received, first, late):  # a late 'appraise': a nonconformity under A
        assert app.service.ingest_object(obj, "test").status == "applied"
    assert app.service.ingest_object(event("o-1", "case.received", "2026-03-09 08:00", "O-1", A),
                                     "test").status == "applied"  # opened under A: no history yet
    assert agencies_of(app, "E-1") == (A, None, {A}, {A})
    clock.set(NOW)
    result = run_import(app, write_csv(tmp_path / "h.csv", ROWS))
    assert result.saved is not None
    assert (result.saved.cases, result.saved.steps, result.saved.nonconformities) == (2, 5, 1)
    assert agencies_of(app, "E-1") == (B, A, {B}, {B})
    assert agencies_of(app, "O-1")[:3] == (B, A, {B})
    # the service still holds both cases as received, under A: a watcher pass writes them under B
    app.service.watch(NOW)
    assert agencies_of(app, "O-1") == (B, A, {B}, {B})  # 'receive' overdue, raised under B
    assert agencies_of(app, "E-1") == (B, A, {B}, {B})
    assert app.service.ingest_object(event("o-2", "step.completed", "2026-03-12 08:30", "O-1", A, "receive"),
                                     "test").status == "applied"
    assert agencies_of(app, "O-1") == (B, A, {B}, {B})
    again = run_import(app, write_csv(tmp_path / "h.csv", ROWS))
    assert again.saved is not None and (again.saved.cases, again.saved.unchanged) == (0, 2)


# -- scope and reports ---------------------------------------------------------------------------------------

def test_the_successors_users_see_the_predecessors_cases_and_the_report_by_both_codes(
        app: App, world: World, clock: ManualClock, tmp_path: Path) -> None:
    old_leader = create_user(app.engine, "old-leader", Role.leader, [A], clock.now())
    for obj in late_case("M-1", A, "m"):
        assert app.service.ingest_object(obj, "test").status == "applied"
    for obj in late_case("M-2", B, "n"):
        assert app.service.ingest_object(obj, "test").status == "applied"
    clock.set(NOW)
    old = {"Authorization": f"Bearer {old_leader}"}
    assert world.call(Role.leader, "GET", "/cases").json()["total"] == 1  # before the import: B's own
    assert world.client.get("/cases", headers=old).json()["total"] == 1
    run_import(app, write_csv(tmp_path / "h.csv", ROWS))
    listed = world.call(Role.leader, "GET", "/cases").json()
    assert sorted(c["case_id"] for c in listed["items"]) == ["M-1", "M-2"]
    assert world.call(Role.leader, "GET", "/cases/M-1").status_code == 200
    assert world.client.get("/cases", headers=old).json()["total"] == 0  # a closed code's user: rebind to B
    assert world.client.get("/cases/M-1", headers=old).status_code == 404
    report = world.call(Role.leader, "GET", "/reports/agency-codes", params={"from": "2026-03-01",
                                                                            "to": "2026-04-01"}).json()
    counts = [(r["agency"], r["agency_original"], r["received"], r["resolved"], r["open_overdue"])
              for r in report["rows"]]
    assert counts == [(B, B, 1, 0, 1), (B, A, 1, 0, 1)]  # received 2 March, due 9 March, open at the end
    assert [(r["agency"], r["agency_original"], r["received"]) for r in report["totals"]] == [(B, "*", 2)]
    text = world.call(Role.leader, "GET", "/reports/agency-codes",
                      params={"from": "2026-03-01", "to": "2026-04-01", "format": "csv"}).text
    assert text.splitlines()[0].startswith("Cơ quan,Mã cơ quan khi tiếp nhận,Tiếp nhận")
    assert text.splitlines()[-1].startswith(f"{B},Tổng cộng,2")
    assert world.client.get("/reports/agency-codes", headers=old,
                            params={"from": "2026-03-01", "to": "2026-04-01"}).json()["rows"] == []


def test_through_eiso_ingest_and_the_api_the_old_code_lands_on_the_successor(
        database_url: str, app: App, world: World, clock: ManualClock, tmp_path: Path) -> None:
    assert eiso(database_url, "agencies", "import", str(write_csv(tmp_path / "h.csv", ROWS))).exit_code == 0
    lines = tmp_path / "events.jsonl"
    lines.write_text(json.dumps(event("f-1", "case.received", "2026-03-05 08:00", "F-1", A)) + "\n", encoding="utf-8")
    done = eiso(database_url, "ingest", str(lines))
    assert done.exit_code == 0, done.stderr
    assert agencies_of(app, "F-1")[:2] == (B, A)
    clock.set(NOW)
    # a connector bound to the successor sends the predecessor's code: its own agency's event
    answer = world.call(Role.connector, "POST", "/events",
                        json=[event("h-1", "case.received", "2026-03-05 08:00", "H-1", A)])
    assert answer.status_code == 200, answer.text
    assert answer.json()["results"][0]["status"] == "applied"
    assert agencies_of(app, "H-1")[:2] == (B, A)
    shown = world.call(Role.leader, "GET", "/cases/H-1").json()
    assert (shown["agency"], shown["agency_original"]) == (B, A)
    listed = world.call(Role.leader, "GET", "/cases", params={"case_id": "H-1"}).json()["items"]
    assert [(c["agency"], c["agency_original"]) for c in listed] == [(B, A)]
    printed = json.loads(eiso(database_url, "cases", "show", "F-1", "--format", "json").stdout)
    assert (printed["agency"], printed["agency_original"]) == (B, A)


def test_a_batch_as_the_kafka_worker_applies_it(app: App, world: World, tmp_path: Path) -> None:
    run_import(app, write_csv(tmp_path / "h.csv", ROWS))
    received, first, late = late_case("K-1", A, "k")  # received before the closing, finished after it
    outcomes = app.service.ingest_batch([parse_event(obj) for obj in (received, first, late)])
    assert [o.status for o in outcomes] == ["applied"] * 3
    assert agencies_of(app, "K-1") == (B, A, {B}, {B})
    again = app.service.ingest_batch([parse_event(late)])
    assert again[0].status == "duplicate"
