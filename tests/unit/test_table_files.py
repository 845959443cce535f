"""The table-file reading shared by the catalogue and agency history imports (engine/application/table_files.py):
the same rows from CSV, XLSX and JSON, and each import's refusals in its own words and error class."""

from __future__ import annotations

import json
from datetime import UTC
from pathlib import Path

import pytest
from openpyxl import Workbook

from engine.application.agencies import AgencyFileError, read_codes
from engine.application.catalogue import CatalogueFileError, read_rows

# A title and a blank row above the heading (rows 1-2), the heading in row 3, a blank row 5, an extra column.
TABLE: list[list[str | None]] = [
    ["Danh mục thủ tục", None, None], [None, None, None], ["STT", "Mã  thủ tục", "Tên\u00a0thủ tục"],
    ["1", "1.001806", "Cấp phép"], ["", "", ""], ["2", "2.000123", "Đăng ký"]]
ROWS = [(4, {"code": "1.001806", "name": "Cấp phép"}), (6, {"code": "2.000123", "name": "Đăng ký"})]


def test_csv_and_xlsx_rows_are_numbered_as_the_spreadsheet_below_a_title(tmp_path: Path) -> None:
    csv_file = tmp_path / "danh-muc.csv"
    csv_file.write_text("\n".join(",".join(v or "" for v in row) for row in TABLE) + "\n", encoding="utf-8-sig")
    assert read_rows(csv_file) == ROWS
    csv_file.write_text("STT;Mã thủ tục;Tên thủ tục\n1;1.001806;Cấp phép\n;;\n2;2.000123;Đăng ký\n",
                        encoding="utf-8")  # ';' is the heading row's delimiter
    assert read_rows(csv_file) == [(2, ROWS[0][1]), (4, ROWS[1][1])]
    book = Workbook()
    for row in TABLE:
        book.active.append(row)
    xlsx_file = tmp_path / "danh-muc.xlsx"
    book.save(xlsx_file)
    assert read_rows(xlsx_file) == ROWS


def test_json_rows_are_keyed_by_field_under_the_imports_own_key(tmp_path: Path) -> None:
    file = tmp_path / "procedures.json"
    file.write_text(json.dumps({"procedures": [{"Mã thủ tục": "1.001806", "other": 1}, "x"]}), encoding="utf-8")
    assert read_rows(file) == [(1, {"code": "1.001806"}), (2, {"_problem": "not a JSON object"})]
    file = tmp_path / "codes.json"
    file.write_text(json.dumps({"agencies": [{"Mã định danh": "000.00.12.H10", "name": "Sở"}]}), encoding="utf-8")
    count, codes, problems = read_codes(file, UTC)
    assert (count, [(c.code, c.name, c.row) for c in codes], problems) == (1, [("000.00.12.H10", "Sở", 1)], [])


@pytest.mark.parametrize(("name", "content", "catalogue", "agencies"), [
    ("a.txt", b"STT,Ten\n1,x\n",
     "no heading row naming the code in the first 10 rows (expected headings such as Mã thủ tục, Tên thủ tục, "
     "Thời hạn giải quyết, Ngày hiệu lực)",
     "no heading row naming the code in the first 10 rows (expected headings code, name, valid_from, valid_to, "
     "successor)"),
    ("a.csv", b"code\n\xff\xfe\n", "a.csv: not UTF-8 text", "a.csv: not UTF-8 text"),
    ("a.xlsx", b"not a workbook", "a.xlsx: not a readable XLSX workbook (BadZipFile)",
     "a.xlsx: not a readable XLSX workbook (BadZipFile)"),
    ("a.json", b'{"code": 1}', "a.json: expected a JSON array of procedures",
     "a.json: expected a JSON array of agency codes"),
    ("a.pdf", b"%PDF", "a.pdf: expected a .csv, .xlsx or .json file", "a.pdf: expected a .csv, .xlsx or .json file"),
])
def test_each_import_refuses_a_file_in_its_own_words(tmp_path: Path, name: str, content: bytes, catalogue: str,
                                                     agencies: str) -> None:
    file = tmp_path / name
    file.write_bytes(content)
    with pytest.raises(CatalogueFileError) as refused:
        read_rows(file)
    assert str(refused.value) == catalogue
    with pytest.raises(AgencyFileError) as refused_too:
        read_codes(file, UTC)
    assert str(refused_too.value) == agencies
