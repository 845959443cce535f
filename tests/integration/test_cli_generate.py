"""``eiso procedures generate``: a published step table (.xlsx, .csv) becomes a procedure that validates,
deploys and runs a case with the table's times as its steps' dues (issue 13, item 3). Real processes, SQLite."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

from openpyxl import Workbook

from engine.procedures.loader import validate_source
from tests.conftest import ROOT

AGENCY = "000.00.12.H10"
CASE = "000.00.12.H10-260302-0001"
HEADER = ["Bước", "Nội dung công việc", "Trách nhiệm", "Thời gian", "Kết quả"]
ROWS = [
    ["1", "Tiếp nhận, kiểm tra hồ sơ", "Bộ phận Một cửa", "0,5 ngày", "Phiếu hẹn trả"],
    ["2", "Thẩm định hồ sơ, dự thảo kết quả", "Chuyên viên thụ lý", "02 ngày làm việc", "Dự thảo"],
    ["3", "Xem xét, trình ký", "Lãnh đạo phòng", "04 giờ", "Tờ trình"],
    ["4", "Vào sổ, đóng dấu", "Văn thư", "04 giờ", "Kết quả"],
    ["5", "Trả kết quả", "Bộ phận Một cửa", "Không tính", ""],
]


def eiso(tmp_path: Path, *args: str, stdin: str | None = None) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "EISO_DATABASE_URL": f"sqlite:///{tmp_path / 'cli.db'}", "COLUMNS": "200"}
    env.pop("EISO_DEBUG", None)
    result = subprocess.run([sys.executable, "-m", "engine.cli.app", *args], check=False, input=stdin,
                            capture_output=True, text=True, env=env, cwd=ROOT, timeout=300)
    assert "Traceback" not in result.stderr, result.stderr
    return result


def write_xlsx(path: Path, rows: list[list[str]]) -> Path:
    book = Workbook()
    sheet = book.active
    assert sheet is not None
    sheet.append(["QUY TRÌNH NỘI BỘ", "", "", "", ""])
    sheet.merge_cells("A1:E1")
    sheet.append([])
    for row in rows:
        sheet.append(row)
    book.save(path)
    return path


def event(event_id: str, type_: str, when: str, procedure: str, step: str | None = None,
          **extra: Any) -> str:
    obj: dict[str, Any] = {"event_id": event_id, "type": type_, "case_id": CASE, "agency": AGENCY,
                           "procedure": procedure, "occurred_at": when + ":00+07:00", **extra}
    if step:
        obj["step"] = step
    return json.dumps(obj)


def test_generate_validate_deploy_and_run_a_case(tmp_path: Path) -> None:
    table = write_xlsx(tmp_path / "quy-trinh.xlsx",
                       [HEADER, *ROWS, ["", "Tổng thời gian", "", "3,5 ngày", ""]])
    out = tmp_path / "generated.bpmn"
    made = eiso(tmp_path, "procedures", "generate", str(table), "--code", "1.000101", "-o", str(out))
    assert made.returncode == 0, made.stderr
    assert "statutory limit P3.5D (from the table's total)" in made.stderr
    source = out.read_bytes()
    assert b'name="statutoryLimit" value="P3.5D"' in source
    assert validate_source(source, "generated.bpmn") == []
    validated = eiso(tmp_path, "procedures", "validate", str(out))
    assert validated.returncode == 0, validated.stdout + validated.stderr
    deployed = eiso(tmp_path, "procedures", "deploy", str(out), "--format", "json")
    assert deployed.returncode == 0, deployed.stderr
    assert [(r["procedure"], r["version"]) for r in json.loads(deployed.stdout)] == [("1.000101", 1)]

    # Received Monday 2 March 2026 08:00; working hours 07:30-11:30, 13:00-17:00.
    events = [
        event("g1", "case.received", "2026-03-02T08:00", "1.000101"),
        event("g2", "step.completed", "2026-03-02T09:00", "1.000101", "step_1"),
        event("g3", "step.completed", "2026-03-03T10:00", "1.000101", "step_2"),
        event("g4", "step.completed", "2026-03-03T14:00", "1.000101", "step_3"),
        event("g5", "step.completed", "2026-03-04T08:00", "1.000101", "step_4"),
        event("g6", "case.result_ready", "2026-03-04T08:00", "1.000101"),
        event("g7", "step.completed", "2026-03-04T09:00", "1.000101", "step_5"),
        event("g8", "case.returned", "2026-03-04T09:00", "1.000101"),
    ]
    ingested = eiso(tmp_path, "ingest", "-", stdin="\n".join(events) + "\n")
    assert ingested.returncode == 0, ingested.stdout + ingested.stderr
    shown = eiso(tmp_path, "cases", "show", CASE, "--format", "json")
    assert shown.returncode == 0, shown.stderr
    case = json.loads(shown.stdout)
    dues = {s["step"]: s["due_at"] for s in case["steps"]}
    assert dues == {
        "step_1": "2026-03-02T13:30:00+07:00",  # 0,5 ngày = 4 h from 08:00: 3.5 h to 11:30, 0.5 h after 13:00
        "step_2": "2026-03-04T09:00:00+07:00",  # 02 ngày = 16 h from Mon 09:00: 6.5 + 8 (Tue) + 1.5 (Wed)
        "step_3": "2026-03-03T15:30:00+07:00",  # 04 giờ from Tue 10:00: 1.5 h to 11:30, 2.5 h after 13:00
        "step_4": "2026-03-04T08:30:00+07:00",  # 04 giờ from Tue 14:00: 3 h to 17:00, 1 h on Wednesday
        "step_5": None,  # not counted
    }
    assert {s["step"]: s["timeliness"] for s in case["steps"]}["step_2"] == "early"
    # P3.5D = 28 h from Mon 08:00: 7.5 (Mon) + 8 (Tue) + 8 (Wed) + 4.5 (Thu) -> Thursday 13:30
    assert case["due_at"] == "2026-03-05T13:30:00+07:00"
    assert case["timeliness"] == "early"
    assert case["status"] == "returned"


BRANCH_HEADER = ["STT", "Nội dung công việc", "Đơn vị thực hiện", "Thời gian thực hiện", "Kết quả",
                 "Bước tiếp theo", "Điều kiện"]
BRANCH_ROWS = [
    ["1", "Tiếp nhận hồ sơ", "Bộ phận Một cửa", "04 giờ", "Phiếu hẹn", "", ""],
    ["2", "Thẩm định hồ sơ", "Chuyên viên thụ lý", "02 ngày làm việc", "Dự thảo", "3, 5", ""],
    ["3", "Trình ký", "Lãnh đạo phòng", "0,5 ngày", "Quyết định", "", "hop_le == true"],
    ["4", "Vào sổ, đóng dấu", "Văn thư", "04 giờ", "", "6", ""],
    ["5", "Dự thảo văn bản từ chối", "Chuyên viên thụ lý", "04 giờ", "Văn bản trả lời", "6", "khác"],
    ["6", "Trả kết quả", "Bộ phận Một cửa", "Không tính", "", "Kết thúc", ""],
]


def test_branch_table_runs_the_chosen_branch(tmp_path: Path) -> None:
    table = tmp_path / "nhanh.csv"
    table.write_text("\ufeff" + "\n".join(";".join(row) for row in [BRANCH_HEADER, *BRANCH_ROWS]) + "\n",
                     encoding="utf-8")
    out = tmp_path / "nhanh.bpmn"
    made = eiso(tmp_path, "procedures", "generate", str(table), "--code", "1.000102", "--limit", "P5D",
                "--name", "Thủ tục thử", "-o", str(out))
    assert made.returncode == 0, made.stderr
    assert b"<bpmn:exclusiveGateway" in out.read_bytes()
    assert eiso(tmp_path, "procedures", "validate", str(out)).returncode == 0
    assert eiso(tmp_path, "procedures", "deploy", str(out)).returncode == 0
    events = [
        event("b1", "case.received", "2026-03-02T08:00", "1.000102"),
        event("b2", "step.completed", "2026-03-02T09:00", "1.000102", "step_1"),
        event("b3", "step.completed", "2026-03-03T10:00", "1.000102", "step_2", data={"hop_le": False}),
        event("b4", "step.completed", "2026-03-03T14:00", "1.000102", "step_5"),
        event("b5", "case.result_ready", "2026-03-03T14:00", "1.000102"),
        event("b6", "step.completed", "2026-03-03T15:00", "1.000102", "step_6"),
    ]
    ingested = eiso(tmp_path, "ingest", "-", stdin="\n".join(events) + "\n")
    assert ingested.returncode == 0, ingested.stdout + ingested.stderr
    case = json.loads(eiso(tmp_path, "cases", "show", CASE, "--format", "json").stdout)
    steps = {s["step"]: s for s in case["steps"]}
    assert set(steps) == {"step_1", "step_2", "step_5", "step_6"}
    assert steps["step_5"]["due_at"] == "2026-03-03T15:30:00+07:00"  # 04 giờ from Tue 10:00
    assert all(s["completed_at"] for s in steps.values())
    nc = json.loads(eiso(tmp_path, "nc", "list", "--format", "json").stdout)
    assert nc == []


def test_bad_tables_write_nothing(tmp_path: Path) -> None:
    cases = {
        "no-time.csv": [HEADER, ["1", "Tiếp nhận", "Bộ phận Một cửa", "", ""]],
        "no-unit.csv": [HEADER, ["1", "Tiếp nhận", "", "04 giờ", ""]],
        "bad-time.csv": [HEADER, ["1", "Tiếp nhận", "Văn thư", "nửa ngày", ""]],
        "bad-next.csv": [BRANCH_HEADER, ["1", "Tiếp nhận", "Văn thư", "04 giờ", "", "9", ""]],
        "no-header.csv": [["a", "b"], ["1", "2"]],
        "empty.csv": [HEADER],
    }
    expected = {"no-time.csv": "row 2 (step 1): no time", "no-unit.csv": "row 2 (step 1): no responsible unit",
                "bad-time.csv": "row 2 (step 1): unreadable time", "bad-next.csv": "row 2: next step '9'",
                "no-header.csv": "no header row found", "empty.csv": "no steps below its header row"}
    for name, rows in cases.items():
        table = tmp_path / name
        table.write_text("\n".join(";".join(row) for row in rows) + "\n", encoding="utf-8")
        out = tmp_path / (name + ".bpmn")
        result = eiso(tmp_path, "procedures", "generate", str(table), "--code", "1.000103", "-o", str(out))
        assert result.returncode == 1, (name, result.stderr)
        assert expected[name] in " ".join(result.stderr.split()), (name, result.stderr)
        assert not out.exists()


def test_inconsistent_total_warns_and_limit_given_wins(tmp_path: Path) -> None:
    table = write_xlsx(tmp_path / "t.xlsx", [HEADER, *ROWS, ["", "Tổng cộng", "", "05 ngày", ""]])
    result = eiso(tmp_path, "procedures", "generate", str(table), "--code", "1.000104", "--limit",
                  "10 ngày làm việc")  # as the decision writes it
    assert result.returncode == 0, result.stderr
    assert "does not match the sum" in " ".join(result.stderr.split())
    written = tmp_path / "t.bpmn"
    assert b'name="statutoryLimit" value="P10D"' in written.read_bytes()
    assert eiso(tmp_path, "procedures", "validate", str(written)).returncode == 0


def test_unreadable_limit_writes_nothing(tmp_path: Path) -> None:
    table = write_xlsx(tmp_path / "t.xlsx", [HEADER, *ROWS])
    result = eiso(tmp_path, "procedures", "generate", str(table), "--code", "1.000105", "--limit", "10 tháng")
    assert result.returncode == 1
    assert "--limit: unreadable time '10 tháng'" in " ".join(result.stderr.split())
    assert not (tmp_path / "t.bpmn").exists()
