"""``eiso catalogue import``: CSV, XLSX and JSON, all rows or none, re-import by code and effective date."""

from __future__ import annotations

import csv
import json
from datetime import date, datetime
from pathlib import Path
from typing import Any

from openpyxl import Workbook
from sqlmodel import Session, select
from typer.testing import CliRunner

from engine.application.catalogue import import_catalogue, review
from engine.bootstrap import App
from engine.cli.app import app as cli
from engine.cli.context import get_app
from engine.store.catalogue import CatalogueEntry, catalogue_entries

ROOT = Path(__file__).resolve().parents[2]
SAMPLE = ROOT / "config" / "catalogue-sample.csv"
HEADINGS = ["STT", "Mã thủ tục", "Tên thủ tục", "Cấp thực hiện", "Lĩnh vực", "Thời hạn giải quyết", "Trạng thái",
            "Ngày hiệu lực"]
ROWS = [
    ["1", "1.001806", "Cấp phép", "Cấp tỉnh", "Văn hóa", "10 ngày làm việc kể từ ngày nhận đủ hồ sơ hợp lệ",
     "Còn hiệu lực", "15/03/2022"],
    ["2", "1.001193", "Đăng ký khai sinh", "Cấp xã", "Hộ tịch", "Trong ngày làm việc", "Còn hiệu lực", "01/07/2025"],
    ["3", "1.003001", "Thủ tục cấp huyện", "Cấp huyện", "Nội vụ", "Tối đa 0,5 ngày làm việc", "Đã bãi bỏ",
     "01/07/2025"],
]
AT = datetime.fromisoformat("2026-12-01T09:00:00+07:00")


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


def write_csv(path: Path, rows: list[list[str]], delimiter: str = ",") -> Path:
    with path.open("w", newline="", encoding="utf-8-sig") as stream:
        csv.writer(stream, delimiter=delimiter).writerows([HEADINGS, *rows])
    return path


def snapshot(app: App) -> list[tuple[Any, ...]]:
    return [(e.code, e.effective_date, e.limit_duration, e.limit_seconds, e.limit_note, e.abolished, e.name,
             e.status) for e in catalogue_entries(app.engine)]


EXPECTED = [
    ("1.001193", date(2025, 7, 1), "P1D", 28_800, "same working day", False, "Đăng ký khai sinh", "Còn hiệu lực"),
    ("1.001806", date(2022, 3, 15), "P10D", 288_000, None, False, "Cấp phép", "Còn hiệu lực"),
    ("1.003001", date(2025, 7, 1), "PT4H", 14_400, None, True, "Thủ tục cấp huyện", "Đã bãi bỏ"),
]


def test_csv_then_reimport_is_idempotent(app: App, tmp_path: Path) -> None:
    path = write_csv(tmp_path / "tthc.csv", ROWS)
    first = import_catalogue(app.engine, path, AT)
    assert first.problems == [] and first.written is not None
    assert (first.written.inserted, first.written.updated, first.written.unchanged) == (3, 0, 0)
    assert snapshot(app) == EXPECTED
    again = import_catalogue(app.engine, path, AT)
    assert again.written is not None and (again.written.inserted, again.written.updated) == (0, 0)
    assert again.written.unchanged == 3
    assert snapshot(app) == EXPECTED


def test_reimport_updates_by_code_and_effective_date(app: App, tmp_path: Path) -> None:
    import_catalogue(app.engine, write_csv(tmp_path / "a.csv", ROWS), AT)
    changed = [row[:] for row in ROWS]
    changed[0][5] = "15 ngày làm việc"  # same code and date: updated
    later = ["4", "1.001806", "Cấp phép", "Cấp tỉnh", "Văn hóa", "07 ngày làm việc", "Còn hiệu lực", "2025-07-01"]
    result = import_catalogue(app.engine, write_csv(tmp_path / "b.csv", [*changed, later], delimiter=";"), AT)
    assert result.written is not None
    assert (result.written.inserted, result.written.updated, result.written.unchanged) == (1, 1, 2)
    rows = [(e.effective_date, e.limit_duration) for e in catalogue_entries(app.engine, "1.001806")]
    assert rows == [(date(2022, 3, 15), "P15D"), (date(2025, 7, 1), "P7D")]


def test_xlsx(app: App, tmp_path: Path) -> None:
    book = Workbook()
    sheet = book.active
    assert sheet is not None
    sheet.append(["Danh sách thủ tục hành chính"])  # a title line above the headings
    sheet.append(HEADINGS)
    for row in ROWS:
        sheet.append([*row[:7], datetime.strptime(row[7], "%d/%m/%Y")])  # a real spreadsheet date
    path = tmp_path / "tthc.xlsx"
    book.save(path)
    result = import_catalogue(app.engine, path, AT)
    assert result.problems == [] and result.written is not None and result.written.inserted == 3
    assert snapshot(app) == EXPECTED


def test_json(app: App, tmp_path: Path) -> None:
    keys = ["code", "name", "level", "sector", "time_limit", "status", "effective_date"]
    items = [dict(zip(keys, row[1:], strict=True)) for row in ROWS]
    items[0]["effective_date"] = "2022-03-15"
    path = tmp_path / "tthc.json"
    path.write_text(json.dumps(items, ensure_ascii=False), encoding="utf-8")
    result = import_catalogue(app.engine, path, AT)
    assert result.problems == [] and result.written is not None and result.written.inserted == 3
    assert snapshot(app) == EXPECTED


def test_a_bad_row_refuses_the_whole_file(app: App, tmp_path: Path) -> None:
    bad = [*ROWS,
           ["4", "1.000001", "Theo lịch", "Cấp tỉnh", "Tư pháp", "30 ngày kể từ ngày nhận đủ hồ sơ", "", "01/07/2025"],
           ["5", "", "Không mã", "Cấp tỉnh", "Tư pháp", "05 ngày làm việc", "", "01/07/2025"]]
    result = import_catalogue(app.engine, write_csv(tmp_path / "bad.csv", bad), AT)
    assert result.written is None
    assert [(p.row, p.problem.split(":")[0]) for p in result.problems] == [
        (5, "1.000001"), (6, "no procedure code (Mã thủ tục)")]
    assert "calendar days" in result.problems[0].problem
    with Session(app.engine) as session:
        assert session.exec(select(CatalogueEntry)).all() == []


def test_allow_unreadable_stores_the_limit_unknown(app: App, tmp_path: Path) -> None:
    rows = [*ROWS, ["4", "1.000001", "Theo tháng", "Cấp tỉnh", "Tư pháp", "01 tháng", "", "01/07/2025"]]
    result = import_catalogue(app.engine, write_csv(tmp_path / "t.csv", rows), AT, allow_unreadable=True)
    assert result.written is not None and result.written.inserted == 4
    assert [p.row for p in result.unreadable] == [5]
    (entry,) = catalogue_entries(app.engine, "1.000001")
    assert entry.limit_duration is None and entry.limit_seconds is None
    assert entry.limit_problem is not None and "months" in entry.limit_problem


def test_cli_imports_the_sample(database_url: str, app: App, tmp_path: Path) -> None:
    done = eiso(database_url, "catalogue", "import", str(SAMPLE))
    assert done.exit_code == 0, done.stderr
    assert "7 row(s): 7 added" in done.stderr
    listed = json.loads(eiso(database_url, "catalogue", "list", "--format", "json").stdout)
    bundled = {row["code"]: row["limit"] for row in listed if row["effective_date"] != "2025-07-01"
               or row["code"] in ("1.001029", "1.001193")}
    assert bundled == {"1.001029": "P5D", "1.001193": "P1D", "1.001806": "P10D", "1.009972": "P20D"}
    assert [row["code"] for row in listed if row["abolished"]] == ["1.003001"]
    reviewed = eiso(database_url, "procedures", "review", "--at", "2026-01-05", "--format", "json")
    assert reviewed.exit_code == 0, reviewed.stderr
    assert {(row["kind"], row["code"]) for row in json.loads(reviewed.stdout)} == {
        ("not_deployed", code) for code in ("1.001029", "1.001193", "1.001806", "1.004227", "1.009972")}
    again = eiso(database_url, "catalogue", "import", str(SAMPLE))
    assert again.exit_code == 0 and "7 unchanged" in again.stderr
    bad = write_csv(tmp_path / "bad.csv", [["1", "1.000001", "x", "", "", "01 tháng", "", "01/07/2025"]])
    refused = eiso(database_url, "catalogue", "import", str(bad))
    assert refused.exit_code == 1 and "row 2: 1.000001" in refused.stderr and "nothing imported" in refused.stderr


def test_review_against_the_deployed_procedures(app: App, tmp_path: Path) -> None:
    deployed_at = datetime.fromisoformat("2025-06-02T09:00:00+07:00")
    for path in sorted((ROOT / "bpmn").glob("*.bpmn")):
        app.catalog.deploy(path.read_bytes(), path.name, deployed_at)
    import_catalogue(app.engine, SAMPLE, AT)
    extra = [["1", "1.001806", "Cấp phép", "Cấp tỉnh", "Văn hóa", "10 ngày làm việc", "Đã bãi bỏ", "01/10/2026"],
             ["2", "1.001029", "Karaoke", "Cấp xã", "Văn hóa", "15 ngày", "Còn hiệu lực", "01/11/2026"]]
    import_catalogue(app.engine, write_csv(tmp_path / "changes.csv", extra), AT, allow_unreadable=True)
    found = {(f.kind, f.code, f.changed_on, f.deployed_limit, f.catalogue_limit)
             for f in review(app.catalog.versions(), catalogue_entries(app.engine), AT)}
    assert found == {
        ("limit_differs", "1.009972", date(2025, 7, 1), "P20D", "P15D"),
        ("abolished_in_force", "1.001806", date(2026, 10, 1), "P10D", "P10D"),
        ("limit_unknown", "1.001029", date(2026, 11, 1), "P5D", None),
        ("not_deployed", "1.004227", date(2025, 7, 1), None, "PT4H"),
    }
    before = {(f.kind, f.code) for f in review(app.catalog.versions(), catalogue_entries(app.engine),
                                               datetime.fromisoformat("2025-06-30T12:00:00+07:00"))}
    # before 1 July 2025 only 1.001806 and 1.009972 (P20D, as deployed) were in the catalogue
    assert before == {("not_in_catalogue", "1.001029"), ("not_in_catalogue", "1.001193")}
