"""``eiso history import``: a small XES log (in UTC, against the Asia/Ho_Chi_Minh calendar) replayed through
the real engine on SQLite and PostgreSQL, with hand-computed timeliness per step and case.

Procedure 1.001806 (Cao Bằng): receive 0.5 d, assign 0.5 d, appraise 7 d, review 0.5 d, approve 1 d,
register 0.5 d, return not counted; limit 10 working days. Working hours 07:30-11:30, 13:00-17:00.
Every case is received Monday 2 March 2026 at 08:00 local (01:00Z): case due Monday 16 March 08:00
(7.5 h on the 2nd, 8 h on each of 9 working days, 0.5 h on the 16th).
"""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from typing import Any

import pytest
from sqlmodel import Session, col, func, select

from engine.application.history.importing import HistoryImport, HistoryRequest, ImportSummary
from engine.application.history.log import HistoryLogError
from engine.application.history.mapping import ActivityMap
from engine.bootstrap import App
from engine.core.clock import ManualClock
from engine.reports import Period, build_report
from engine.store.database import make_engine, upgrade
from engine.store.history import HistoryImportRow, copy_procedures
from engine.store.queries import Presenter, case_detail, nonconformity_list
from engine.store.tables import JournalEntry, NonconformityRow, OutboxMessage
from engine.store.tables_api import AuditEntry
from tests.conftest import ROOT

PROCEDURE = ROOT / "bpmn" / "1.001806-cap-phep-so-cao-bang.bpmn"
AGENCY = "000.00.12.H10"
NOW = datetime.fromisoformat("2026-04-01T08:00:00+07:00")
ACTIVITIES = ActivityMap({
    "Tiếp nhận hồ sơ": "receive_dossier", "Phân công": "assign", "Thẩm định": "appraise", "Xem xét": "review",
    "Phê duyệt": "approve", "Vào sổ": "register_result", "Trả kết quả": "case.returned",
})


def _event(activity: str, utc: str, lifecycle: str = "complete") -> str:
    return (f'<event><string key="concept:name" value="{activity}"/><date key="time:timestamp" value="{utc}"/>'
            f'<string key="lifecycle:transition" value="{lifecycle}"/><string key="org:group" value="U"/></event>')


def _trace(case_id: str, events: list[str], procedure: str = "1.001806", **attributes: str) -> str:
    extra = "".join(f'<date key="{k}" value="{v}"/>' for k, v in attributes.items())
    return (f'<trace><string key="concept:name" value="{case_id}"/><string key="agency" value="{AGENCY}"/>'
            f'<string key="procedure" value="{procedure}"/>{extra}{"".join(events)}</trace>')


LOG = "<?xml version='1.0' encoding='UTF-8'?>\n<log xes.version='1.0'>" + "\n".join([
    _trace("H-ONTIME", [
        _event("Tiếp nhận hồ sơ", "2026-03-02T01:00:00Z"), _event("Phân công", "2026-03-02T03:00:00Z"),
        _event("Thẩm định", "2026-03-03T01:00:00Z", "start"), _event("Thẩm định", "2026-03-10T03:00:00Z"),
        _event("Gọi điện xác minh", "2026-03-10T04:00:00Z"),
        _event("Xem xét", "2026-03-10T07:00:00Z"), _event("Phê duyệt", "2026-03-11T03:00:00Z"),
        _event("Vào sổ", "2026-03-11T07:00:00Z"), _event("Trả kết quả", "2026-03-12T02:00:00Z"),
    ], deadline="2026-03-16T17:00:00+07:00"),
    _trace("H-REWORK", [
        _event("Tiếp nhận hồ sơ", "2026-03-02T01:00:00Z"), _event("Phân công", "2026-03-02T03:00:00Z"),
        _event("Thẩm định", "2026-03-04T03:00:00Z"), _event("Xem xét", "2026-03-05T02:00:00Z"),
        _event("Thẩm định", "2026-03-09T03:00:00Z"), _event("Xem xét", "2026-03-10T02:00:00Z"),
        _event("Phê duyệt", "2026-03-11T03:00:00Z"),
    ], enddate="2026-03-13T10:00:00+07:00"),
    _trace("H-SKIP", [_event("Tiếp nhận hồ sơ", "2026-03-02T01:00:00Z"), _event("Thẩm định", "2026-03-04T03:00:00Z")]),
    _trace("H-NOTIME", [_event("Tiếp nhận hồ sơ", "")]),
    _trace("H-OTHER", [_event("Tiếp nhận hồ sơ", "2026-03-02T01:00:00Z")], procedure="9.999999"),
]) + "</log>\n"


def _replay(app: App, clock: ManualClock, path: Path, engine: Any = None) -> ImportSummary:
    clock.set(NOW)
    target = engine or app.engine
    return HistoryImport(target, app.catalog, app.calendar, clock, "test").run(
        HistoryRequest(path, activities=ACTIVITIES, actor="auditor"), audit_engines=[target])


def _log(tmp_path: Path) -> Path:
    path = tmp_path / "dossiers.xes"
    path.write_text(LOG, encoding="utf-8")
    return path


def _steps(app: App, case_id: str) -> list[tuple[str, str | None, float | None]]:
    detail = case_detail(app.engine, case_id, Presenter(app.calendar))
    assert detail is not None
    return [(s["step"], s["timeliness"], s["delay_working_hours"]) for s in detail["steps"]]


def test_replayed_cases_have_hand_computed_timeliness(app: App, clock: ManualClock, tmp_path: Path) -> None:
    app.catalog.deploy(PROCEDURE.read_bytes(), PROCEDURE.name, clock.now())
    summary = _replay(app, clock, _log(tmp_path))
    assert (summary.cases, summary.cases_replayed, summary.cases_refused) == (5, 3, 2)
    assert dict(summary.refused) == {"missing time:timestamp": 1, "procedure not deployed": 1}
    assert summary.examples["procedure not deployed"] == [
        "trace at line 6: case H-OTHER: procedure 9.999999 is not deployed for agency 000.00.12.H10"]
    assert dict(summary.unmapped) == {"Gọi điện xác minh": 1}
    # receipts 3; ONTIME 8 (appraise started and completed; the unmapped call not sent); REWORK 7 + the result
    # (case:enddate); SKIP 2. Rows: 9 + 7 + 2 + 1 + 1 = 20
    assert summary.events == 3 + 8 + 8 + 2 and dict(summary.outcomes) == {"applied": 21} and summary.rows == 20

    ontime = case_detail(app.engine, "H-ONTIME", Presenter(app.calendar))
    assert ontime is not None
    assert (ontime["status"], ontime["due_at"], ontime["resolved_at"], ontime["timeliness"]) == (
        "returned", "2026-03-16T08:00:00+07:00", "2026-03-12T09:00:00+07:00", "early")
    assert ontime["promised_at"] == "2026-03-16T17:00:00+07:00"  # case:deadline, the appointment on the receipt
    appraise = next(s for s in ontime["steps"] if s["step"] == "appraise")
    # activated at assign's handover (Mon 10:00); 7 d = 56 h: due Wed 11 March 10:00; started Tue 3rd 08:00 (start)
    assert (appraise["started_at"], appraise["due_at"], appraise["completed_at"]) == (
        "2026-03-03T08:00:00+07:00", "2026-03-11T10:00:00+07:00", "2026-03-10T10:00:00+07:00")
    assert _steps(app, "H-ONTIME")[:6] == [
        ("receive_dossier", "on_time", 0.0), ("assign", "on_time", 0.0), ("appraise", "early", 0.0),
        ("review", "on_time", 0.0), ("approve", "on_time", 0.0), ("register_result", "on_time", 0.0)]

    # review due Wed 4th 15:30, done Thu 5th 09:00: 1.5 + 1.5 = 3 h late; approve due Fri 6th 09:00, done Wed 11th
    # 10:00: 6.5 + 8 + 8 + 2.5 = 25 h late; the repeated appraise and review (rework) are journaled, not re-timed
    assert _steps(app, "H-REWORK")[:5] == [
        ("receive_dossier", "on_time", 0.0), ("assign", "on_time", 0.0), ("appraise", "early", 0.0),
        ("review", "late", 3.0), ("approve", "late", 25.0)]
    rework = case_detail(app.engine, "H-REWORK", Presenter(app.calendar))
    assert rework is not None and (rework["resolved_at"], rework["timeliness"]) == (
        "2026-03-13T10:00:00+07:00", "early")
    with Session(app.engine) as session:
        notes = session.exec(select(JournalEntry.notes).where(JournalEntry.case_id == "H-REWORK",
                                                              col(JournalEntry.notes).is_not(None))).all()
    assert len(notes) == 2 and all("is not active" in (n or "") for n in notes)

    records = {(r["type"], r["case_id"], r["step"]): r for r in nonconformity_list(app.engine, Presenter(app.calendar))}
    assert set(records) == {
        ("appointment_beyond_limit", "H-ONTIME", None),
        ("step_late", "H-REWORK", "review"), ("step_late", "H-REWORK", "approve"),
        ("step_overdue", "H-REWORK", "register_result"),  # due Wed 11th 15:30, still open at the result (Fri 13th)
        ("step_skipped", "H-SKIP", "assign"), ("step_overdue", "H-SKIP", "assign"),
        # still open at the end of the log: one watcher pass as of now raises what is overdue, as the replay's
        ("step_overdue", "H-SKIP", "review"), ("case_overdue", "H-SKIP", None), ("missing_apology", "H-SKIP", None),
    }
    assert records[("step_overdue", "H-REWORK", "register_result")]["delay_working_hours"] == 12.0
    assert records[("step_overdue", "H-SKIP", "assign")]["delay_working_hours"] == 14.0


def test_findings_carry_the_import_as_source_and_nothing_goes_out(app: App, clock: ManualClock,
                                                                   tmp_path: Path) -> None:
    app.catalog.deploy(PROCEDURE.read_bytes(), PROCEDURE.name, clock.now())
    summary = _replay(app, clock, _log(tmp_path))
    with Session(app.engine) as session:
        sources = set(session.exec(select(NonconformityRow.source)).all())
        assert session.exec(select(func.count()).select_from(OutboxMessage)).one() == 0
    assert sources == {f"history:{summary.import_id}"}
    presenter = Presenter(app.calendar)
    assert nonconformity_list(app.engine, presenter, source="live") == []
    assert len(nonconformity_list(app.engine, presenter, source="history")) == 9
    assert len(nonconformity_list(app.engine, presenter, source=f"history:{summary.import_id}")) == 9
    period = Period(datetime.fromisoformat("2026-03-01T00:00:00+07:00"),
                    datetime.fromisoformat("2026-04-02T00:00:00+07:00"))  # the watcher pass's findings are of NOW
    live = build_report(app.engine, app.catalog, app.calendar, period, 0.95, source="live")
    replayed = build_report(app.engine, app.catalog, app.calendar, period, 0.95, source="history")
    assert sum(row["count"] for row in live["nonconformities"]) == 0
    assert sum(row["count"] for row in replayed["nonconformities"]) == 9


def test_the_import_is_recorded_and_audited_and_a_reimport_changes_nothing(app: App, clock: ManualClock,
                                                                           tmp_path: Path) -> None:
    app.catalog.deploy(PROCEDURE.read_bytes(), PROCEDURE.name, clock.now())
    path = _log(tmp_path)
    first = _replay(app, clock, path)
    again = _replay(app, clock, path)
    assert again.import_id == first.import_id + "-2"  # the same file in the same second: an id of its own
    assert dict(again.outcomes) == {"duplicate": 21} and not again.nonconformities
    with Session(app.engine) as session:
        assert session.exec(select(func.count()).select_from(NonconformityRow)).one() == 9
        record = session.get(HistoryImportRow, first.import_id)
        entries = session.exec(select(AuditEntry).where(AuditEntry.action == "history.import")
                               .order_by(col(AuditEntry.id))).all()
    assert record is not None and record.finished_at is not None
    assert (record.file_name, record.sha256, record.rows, record.cases, record.events, record.cases_refused,
            record.actor) == ("dossiers.xes", first.sha256, 20, 5, 21, 2, "auditor")
    assert record.mapping["activities"]["Thẩm định"] == "appraise"
    assert [e.entity_key for e in entries] == [first.import_id, again.import_id]
    after = entries[0].after
    assert after is not None and entries[0].actor == "auditor"
    assert (after["file"], after["sha256"], after["rows"], after["target_database"]) == (
        "dossiers.xes", first.sha256, 20, "test")
    assert after["mapping"]["columns"]["timestamp"] == "time:timestamp"


def test_an_audit_run_database_keeps_the_normal_store_untouched(app: App, clock: ManualClock,
                                                                tmp_path: Path) -> None:
    app.catalog.deploy(PROCEDURE.read_bytes(), PROCEDURE.name, clock.now())
    audit = make_engine(f"sqlite:///{tmp_path / 'audit-run.db'}")
    upgrade(audit)
    assert copy_procedures(app.engine, audit) == 1 and copy_procedures(app.engine, audit) == 0
    from engine.store.catalog import ProcedureCatalog

    clock.set(NOW)
    summary = HistoryImport(audit, ProcedureCatalog(audit), app.calendar, clock, "audit run").run(
        HistoryRequest(_log(tmp_path), activities=ACTIVITIES), audit_engines=[app.engine, audit])
    assert summary.cases_replayed == 3
    assert case_detail(app.engine, "H-ONTIME", Presenter(app.calendar)) is None
    assert case_detail(audit, "H-ONTIME", Presenter(app.calendar)) is not None
    with Session(app.engine) as session:
        assert session.exec(select(func.count()).select_from(AuditEntry)
                            .where(AuditEntry.action == "history.import")).one() == 1
    audit.dispose()


def test_repeated_foreign_and_cut_logs(app: App, clock: ManualClock, tmp_path: Path) -> None:
    app.catalog.deploy(PROCEDURE.read_bytes(), PROCEDURE.name, clock.now())
    once = _trace("H-TWICE", [_event("Tiếp nhận hồ sơ", "2026-03-02T01:00:00Z")])
    twice = tmp_path / "twice.xes"
    twice.write_text(f"<log>\n{once}\n{once}\n</log>", encoding="utf-8")
    summary = _replay(app, clock, twice)
    assert (summary.cases, summary.cases_replayed, dict(summary.refused)) == (2, 1, {"case id repeated": 1})
    assert summary.examples["case id repeated"] == [
        "trace at line 3: case H-TWICE was already in this log: not replayed twice"]

    # another file naming the same case (other event ids), then cut off: the case is not mixed into the
    # stored one, the cut is reported, and the import's record is finished with what was read
    cut = tmp_path / "cut.xes"
    cut.write_text(f"<log>\n{once}\n<trace>", encoding="utf-8")
    later = _replay(app, clock, cut)
    assert dict(later.refused) == {"case already in the store": 1} and later.cases_replayed == 0
    assert later.file_problem is not None and "cut.xes: not well-formed XML at line 3" in later.file_problem

    unreadable = tmp_path / "unreadable.xes"
    unreadable.write_text("<definitions/>", encoding="utf-8")
    with pytest.raises(HistoryLogError, match="not an XES log"):
        _replay(app, clock, unreadable)
    with Session(app.engine) as session:  # two records, both finished: the unreadable file left none
        records = session.exec(select(HistoryImportRow)).all()
    assert len(records) == 2 and all(r.finished_at is not None for r in records)
