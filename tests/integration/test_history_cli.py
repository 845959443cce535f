"""``eiso history import`` from the command line: suggest a map, import a CSV with JSON output, bad files."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tomllib
from pathlib import Path

from tests.conftest import ROOT

PROCEDURE = ROOT / "bpmn" / "1.001806-cap-phep-so-cao-bang.bpmn"
CSV = """MaHoSo;Buoc;ThoiDiem;MaDonVi;MaTTHC;NgayHenTra
000.00.12.H10-260302-0001;Tiếp nhận hồ sơ;02/03/2026 08:00;000.00.12.H10;1.001806;16/03/2026 08:00
000.00.12.H10-260302-0002;Tiếp nhận hồ sơ;02/03/2026 09:00;000.00.12.H10;1.001806;
000.00.12.H10-260302-0001;Phân công thụ lý;02/03/2026 10:00;000.00.12.H10;1.001806;
000.00.12.H10-260302-0002;Phân công thụ lý;02/03/2026 10:30;000.00.12.H10;1.001806;
000.00.12.H10-260302-0001;Photo;02/03/2026 10:40;000.00.12.H10;1.001806;
000.00.12.H10-260302-0003;Tiếp nhận hồ sơ;;000.00.12.H10;1.001806;
"""
COLUMNS = '[columns]\ncase_id = "MaHoSo"\nactivity = "Buoc"\ntimestamp = "ThoiDiem"\nagency = "MaDonVi"\n' \
          'procedure = "MaTTHC"\ndue = "NgayHenTra"\nlifecycle = ""\n'


def eiso(tmp_path: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "EISO_DATABASE_URL": f"sqlite:///{tmp_path / 'cli.db'}", "COLUMNS": "200"}
    env.pop("EISO_DEBUG", None)
    result = subprocess.run([sys.executable, "-m", "engine.cli.app", *args], check=False, capture_output=True,
                            text=True, env=env, cwd=tmp_path, timeout=300)
    assert "Traceback" not in result.stderr, result.stderr
    return result


def test_suggest_then_import_with_a_json_summary(tmp_path: Path) -> None:
    (tmp_path / "export.csv").write_text(CSV, encoding="utf-8-sig")
    (tmp_path / "columns.toml").write_text(COLUMNS, encoding="utf-8")
    assert eiso(tmp_path, "procedures", "deploy", str(PROCEDURE)).returncode == 0

    suggested = eiso(tmp_path, "history", "import", "export.csv", "--columns", "columns.toml", "--suggest")
    assert suggested.returncode == 0, suggested.stderr
    proposal = tomllib.loads((tmp_path / "export.activities.toml").read_text(encoding="utf-8"))
    assert proposal["procedure"] == "1.001806"
    assert proposal["activities"] == {"Tiếp nhận hồ sơ": "receive_dossier", "Phân công thụ lý": "assign",
                                      "Photo": "ignore"}
    again = eiso(tmp_path, "history", "import", "export.csv", "--columns", "columns.toml", "--suggest")
    assert again.returncode == 1 and "already exists" in again.stderr  # a map is never overwritten

    (tmp_path / "map.toml").write_text('[activities]\n"Tiếp nhận hồ sơ" = "receive_dossier"\n'
                                       '"Phân công thụ lý" = "assign"\n', encoding="utf-8")
    done = eiso(tmp_path, "history", "import", "export.csv", "--columns", "columns.toml", "--map", "map.toml",
                "--format", "json", "--actor", "kiem-toan")
    assert done.returncode == 1  # a case was refused
    summary = json.loads(done.stdout)
    assert (summary["cases"], summary["cases_replayed"], summary["cases_refused"], summary["rows"]) == (3, 2, 1, 6)
    assert summary["refused_reasons"] == {"missing ThoiDiem": 1}
    assert summary["refused_examples"]["missing ThoiDiem"] == ["line 7: missing ThoiDiem"]
    assert summary["unmapped_activities"] == {"Photo": 1}
    assert summary["events_by_outcome"] == {"applied": 6} and summary["source"].startswith("history:")
    shown = json.loads(eiso(tmp_path, "cases", "show", "000.00.12.H10-260302-0001", "--format", "json").stdout)
    assert shown["promised_at"] == "2026-03-16T08:00:00+07:00"  # NgayHenTra, naive, read in the calendar's zone
    assert [s["timeliness"] for s in shown["steps"][:2]] == ["on_time", "on_time"]
    listed = eiso(tmp_path, "nc", "list", "--source", "live", "--format", "json")
    assert json.loads(listed.stdout) == []
    bad = eiso(tmp_path, "nc", "list", "--source", "elsewhere")
    assert bad.returncode == 1 and "expected live, history" in bad.stderr


def test_bad_files_are_refused_with_one_line(tmp_path: Path) -> None:
    (tmp_path / "bomb.xes").write_text('<?xml version="1.0"?><!DOCTYPE log [<!ENTITY a "x">]><log>&a;</log>',
                                       encoding="utf-8")
    (tmp_path / "map.toml").write_text("[activities]\n", encoding="utf-8")
    bomb = eiso(tmp_path, "history", "import", "bomb.xes", "--map", "map.toml")
    assert bomb.returncode == 1 and "DOCTYPE declarations are not allowed" in bomb.stderr
    (tmp_path / "log.json").write_text("{}", encoding="utf-8")
    other = eiso(tmp_path, "history", "import", "log.json", "--map", "map.toml")
    assert other.returncode == 1 and "expected an XES log" in other.stderr
    missing = eiso(tmp_path, "history", "import", "log.json")
    assert missing.returncode == 1 and "--map is required" in missing.stderr
    zone = eiso(tmp_path, "history", "import", "log.json", "--map", "map.toml", "--timezone", "Mars/Olympus")
    assert zone.returncode == 1 and "unknown time zone" in zone.stderr
