"""A history trace as contract events: receipt, lifecycle, mapping, time zones, due dates, refusals, ids."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from engine.application.history.log import HistoryLogError, LogEvent, Trace, TraceProblem
from engine.application.history.mapping import ActivityMap, ColumnMapping
from engine.application.history.replay import ReplayOptions, event_id, replay_trace
from engine.application.history.suggest import fold, propose, render_toml
from engine.core.procedure import ProcedureDefinition, StepDefinition

HCM = ZoneInfo("Asia/Ho_Chi_Minh")
AGENCY = "000.00.12.H10"
MAP = ActivityMap({"Tiếp nhận": "receive_dossier", "Thẩm định": "appraise", "Trả kết quả": "case.returned",
                   "Gọi điện": "ignore"}, procedure="1.001806", agency=AGENCY)


def options(**changes: Any) -> ReplayOptions:
    values: dict[str, Any] = {"columns": ColumnMapping(), "activities": MAP, "zone": HCM, "file_sha256": "ab" * 32}
    values.update(changes)
    return ReplayOptions(**values)


def row(activity: str, when: str, lifecycle: str | None = None, line: int = 2, **extra: str) -> LogEvent:
    values = {"concept:name": activity, "time:timestamp": when, **extra}
    if lifecycle:
        values["lifecycle:transition"] = lifecycle
    return LogEvent(values, f"line {line}")


def shape(case: Any) -> list[tuple[str, str | None, str]]:
    return [(e.type, e.step, e.occurred_at.astimezone(HCM).strftime("%m-%d %H:%M")) for e in case.events]


def test_start_and_complete_pairs_become_step_started_and_completed_in_time_order() -> None:
    trace = Trace("C-1", "line 2", events=[
        row("Thẩm định", "2026-03-05 10:00", "complete", 4),
        row("Tiếp nhận", "2026-03-02 08:00", "complete", 2),
        row("Thẩm định", "2026-03-03 08:00", "start", 3),  # out of order in the file: sorted by time
        row("Trả kết quả", "2026-03-06 09:00", None, 5),
    ])
    case = replay_trace(trace, options())
    assert shape(case) == [
        ("case.received", None, "03-02 08:00"),
        ("step.completed", "receive_dossier", "03-02 08:00"),
        ("step.started", "appraise", "03-03 08:00"),
        ("step.completed", "appraise", "03-05 10:00"),
        ("case.returned", None, "03-06 09:00"),
    ]
    assert (case.agency, case.procedure) == (AGENCY, "1.001806")


def test_unmapped_ignored_duplicate_and_other_lifecycle_rows_are_counted_not_sent() -> None:
    trace = Trace("C-2", "line 2", events=[
        row("Tiếp nhận", "2026-03-02 08:00"),
        row("Tiếp nhận", "2026-03-02 08:00"),  # the same row twice in the export
        row("Gọi điện", "2026-03-02 09:00"),
        row("Photo hồ sơ", "2026-03-02 09:30"),
        row("Thẩm định", "2026-03-02 10:00", "schedule"),
    ])
    case = replay_trace(trace, options())
    assert [(e.type, e.step) for e in case.events] == [("case.received", None), ("step.completed", "receive_dossier")]
    assert dict(case.counts) == {"duplicate": 1, "ignored": 1, "unmapped": 1, "lifecycle_other": 1}
    assert dict(case.unmapped) == {"Photo hồ sơ": 1}


def test_offsets_in_the_log_are_kept_and_naive_times_read_in_the_given_zone() -> None:
    utc_log = Trace("C-3", "line 2", events=[row("Tiếp nhận", "2026-03-02T01:00:00Z")])
    assert replay_trace(utc_log, options()).received_at == datetime(2026, 3, 2, 8, 0, tzinfo=HCM)
    naive = Trace("C-4", "line 2", events=[row("Tiếp nhận", "2026-03-02 01:00:00")])
    assert replay_trace(naive, options(zone=ZoneInfo("UTC"))).received_at == datetime(2026, 3, 2, 8, 0, tzinfo=HCM)
    assert replay_trace(naive, options()).received_at == datetime(2026, 3, 2, 1, 0, tzinfo=HCM)


def test_case_deadline_is_the_receipts_due_at_and_enddate_the_result() -> None:
    trace = Trace("C-5", "trace at line 4", attributes={"case:deadline": "2026-03-16T17:00:00+07:00",
                                                        "case:enddate": "2026-03-12T09:00:00+07:00"},
                  events=[row("Tiếp nhận", "2026-03-02 08:00")])
    case = replay_trace(trace, options())
    assert case.events[0].due_at == datetime(2026, 3, 16, 17, 0, tzinfo=HCM)
    assert shape(case)[-1] == ("case.result_ready", None, "03-12 09:00")


def test_a_receipt_attribute_later_than_an_event_refuses_the_case_naming_the_line() -> None:
    trace = Trace("C-6", "line 2", events=[row("Tiếp nhận", "2026-03-02 08:00", line=7,
                                               **{"case:receipt": "2026-03-03 08:00"})])
    with pytest.raises(TraceProblem) as raised:
        replay_trace(trace, options())
    assert raised.value.kind == "event before receipt" and str(raised.value).startswith("line 7: case C-6")


@pytest.mark.parametrize(("event", "kind", "text"), [
    (row("Tiếp nhận", "", line=9), "missing time:timestamp", "line 9: missing time:timestamp"),
    (row("Tiếp nhận", "32/13/2026 08:00", line=9), "unreadable time:timestamp", "line 9: time:timestamp '32/13"),
    (LogEvent({"time:timestamp": "2026-03-02 08:00"}, "line 9"), "missing activity", "line 9: case C-7: missing"),
])
def test_a_case_that_cannot_be_read_is_refused_with_its_reason(event: LogEvent, kind: str, text: str) -> None:
    with pytest.raises(TraceProblem) as raised:
        replay_trace(Trace("C-7", "line 9", events=[event]), options())
    assert raised.value.kind == kind and str(raised.value).startswith(text)


def test_no_agency_anywhere_and_a_bad_agency_code_are_refused() -> None:
    trace = Trace("C-8", "line 2", events=[row("Tiếp nhận", "2026-03-02 08:00")])
    with pytest.raises(TraceProblem, match="no agency"):
        replay_trace(trace, options(activities=ActivityMap(MAP.targets, procedure="1.001806")))
    with pytest.raises(TraceProblem) as raised:
        replay_trace(trace, options(activities=ActivityMap(MAP.targets, procedure="1.001806"), agency="H10"))
    assert raised.value.kind == "invalid event" and "agency" in str(raised.value)


def test_event_ids_derive_from_file_case_and_index() -> None:
    trace = Trace("C-9", "line 2", events=[row("Tiếp nhận", "2026-03-02 08:00")])
    first, again = replay_trace(trace, options()), replay_trace(trace, options())
    assert [e.event_id for e in first.events] == [e.event_id for e in again.events]
    assert first.events[1].event_id == event_id("ab" * 32, "C-9", 1)
    other_file = replay_trace(trace, options(file_sha256="cd" * 32))
    assert other_file.events[0].event_id != first.events[0].event_id


def test_an_activity_map_file_and_a_columns_file(tmp_path: Path) -> None:
    maps = tmp_path / "activities.toml"
    maps.write_text('procedure = "1.001806"\n[activities]\n"  Thẩm   định " = "appraise"\n"X" = "ignore"\n',
                    encoding="utf-8")
    loaded = ActivityMap.from_toml(maps)
    assert loaded.target("Thẩm định") == ("appraise",) and loaded.target("X") == ("ignore",)
    assert loaded.target("Y") is None
    columns = tmp_path / "columns.toml"
    columns.write_text('[columns]\ncase_id = "MaHoSo"\ndue = "NgayHenTra"\nlifecycle = ""\n', encoding="utf-8")
    mapping = ColumnMapping.from_toml(columns)
    assert (mapping.case_id, mapping.due, mapping.lifecycle, mapping.activity) == (
        "MaHoSo", ("NgayHenTra",), None, "concept:name")


def test_suggestion_by_folded_name_similarity_with_frequencies() -> None:
    assert fold("Thẩm định hồ sơ, dự thảo") == "tham dinh ho so du thao"
    procedure = ProcedureDefinition(code="1.001806", process_id="p", name="Cấp phép", statutory_limit_seconds=288000,
                                    steps={"receive_dossier": StepDefinition("receive_dossier", "Tiếp nhận hồ sơ",
                                                                             None, 14400),
                                           "appraise": StepDefinition("appraise", "Thẩm định hồ sơ", None, 201600)})
    from collections import Counter

    proposals = propose(Counter({"THAM DINH": 40, "tiếp nhận": 50, "Gọi điện cho dân": 3}), procedure)
    assert [(p.activity, p.events, p.target) for p in proposals] == [
        ("tiếp nhận", 50, "receive_dossier"), ("THAM DINH", 40, "appraise"), ("Gọi điện cho dân", 3, "ignore")]
    text = render_toml(proposals, procedure, 2, "log.csv")
    import tomllib

    assert tomllib.loads(text)["activities"] == {"tiếp nhận": "receive_dossier", "THAM DINH": "appraise",
                                                 "Gọi điện cho dân": "ignore"}
    assert "# 50 events; step 'Tiếp nhận hồ sơ'" in text


def test_an_activity_mapped_to_a_step_and_an_event_completes_the_step_then_returns_the_case(tmp_path: Path) -> None:
    path = tmp_path / "map.toml"
    path.write_text('procedure = "1.001806"\nagency = "000.00.12.H10"\n[activities]\n"Tiếp nhận" = "receive_dossier"\n'
                    '"Trả kết quả" = ["return_result", "case.returned"]\n', encoding="utf-8")
    trace = Trace("C-9", "line 2", events=[row("Tiếp nhận", "2026-03-02 08:00"),
                                           row("Trả kết quả", "2026-03-06 09:00")])
    case = replay_trace(trace, options(activities=ActivityMap.from_toml(path)))
    assert shape(case) == [
        ("case.received", None, "03-02 08:00"),
        ("step.completed", "receive_dossier", "03-02 08:00"),
        ("step.completed", "return_result", "03-06 09:00"),
        ("case.returned", None, "03-06 09:00"),
    ]


@pytest.mark.parametrize("target", ['["ignore", "approve"]', "[]", '[""]', "3"])
def test_a_bad_list_target_is_refused_naming_the_activity(tmp_path: Path, target: str) -> None:
    path = tmp_path / "map.toml"
    path.write_text(f'[activities]\n"Trả kết quả" = {target}\n', encoding="utf-8")
    with pytest.raises(HistoryLogError, match="activity 'Trả kết quả'"):
        ActivityMap.from_toml(path)
