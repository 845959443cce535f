"""The ``eiso`` command as a user runs it: real processes, real SQLite, the contract's JSON."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import BUNDLED, FIXTURES, ROOT
from tests.unit.engine_harness import at

NC_KEYS = ["type", "case_id", "agency", "procedure", "procedure_version", "step", "due_at", "actual_at",
           "delay_working_hours", "detected_at", "event_ids", "status"]
ADDED_NC_KEYS = ["procedure_scope"]  # keys added after the contract's (section 5: compatible), in this order
CASE_KEYS = {"case_id", "agency", "procedure", "procedure_version", "status", "started_at", "due_at", "resolved_at",
             "timeliness", "delay_working_hours", "steps"}
STEP_KEYS = {"step", "activated_at", "due_at", "completed_at", "timeliness", "delay_working_hours"}


def eiso(tmp_path: Path, *args: str, stdin: str | None = None) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "EISO_DATABASE_URL": f"sqlite:///{tmp_path / 'cli.db'}", "COLUMNS": "200"}
    env.pop("EISO_DEBUG", None)
    result = subprocess.run([sys.executable, "-m", "engine.cli.app", *args], check=False, input=stdin,
                            capture_output=True,
                            text=True, env=env, cwd=ROOT, timeout=300)
    assert "Traceback" not in result.stderr, result.stderr
    return result


def line(event_id: str, type_: str, when: str, step: str | None = None, **extra: Any) -> str:
    obj = {"event_id": event_id, "type": type_, "case_id": "1.000-260213-0001", "agency": "000.00.01.H10",
           "procedure": "9.000001", "occurred_at": at(when), **extra}
    if step:
        obj["step"] = step
    return json.dumps(obj)


TET_CASE = [
    line("t1", "case.received", "2026-02-13 15:30"),
    line("t2", "step.completed", "2026-02-23 11:00", "receive"),
    line("t3", "step.completed", "2026-02-26 10:00", "appraise"),
    line("t4", "step.completed", "2026-02-26 15:00", "review"),
    line("t5", "step.completed", "2026-03-02 09:00", "consult"),
    line("t6", "case.extended", "2026-03-02 10:00", due_at=at("2026-03-04 17:00")),
    line("t7", "step.completed", "2026-03-02 14:00", "approve"),
    line("t8", "case.result_ready", "2026-03-02 14:30"),
]


def test_ingest_twice_gives_exactly_the_contract_nonconformities(tmp_path: Path) -> None:
    assert eiso(tmp_path, "procedures", "deploy", str(FIXTURES / "test-procedure.bpmn")).returncode == 0
    stream = tmp_path / "events.jsonl"
    stream.write_text("\n".join(TET_CASE + TET_CASE) + "\n", encoding="utf-8")
    ingested = eiso(tmp_path, "ingest", str(stream))
    assert ingested.returncode == 0, ingested.stderr
    assert "duplicate" in ingested.stdout
    again = eiso(tmp_path, "ingest", "-", stdin="\n".join(TET_CASE) + "\n")
    assert again.returncode == 0
    ncs = json.loads(eiso(tmp_path, "nc", "list", "--format", "json").stdout)
    assert all(list(n) == NC_KEYS + ADDED_NC_KEYS for n in ncs)
    summary = sorted((n["type"], n["step"], n["delay_working_hours"]) for n in ncs)
    assert summary == [("case_late", None, 5.5), ("missing_apology", None, None),
                       ("step_late", "appraise", 7.0), ("step_late", "consult", 7.0)]
    late = next(n for n in ncs if n["type"] == "case_late")
    assert late["due_at"] == "2026-02-27T17:00:00+07:00"
    assert late["actual_at"] == "2026-03-02T14:30:00+07:00"
    assert late["event_ids"] == ["t1", "t5", "t8"]  # receipt, the event that found it overdue, resolution
    case = json.loads(eiso(tmp_path, "cases", "show", "1.000-260213-0001", "--format", "json").stdout)
    assert set(case) >= CASE_KEYS and all(set(s) >= STEP_KEYS for s in case["steps"])
    assert (case["started_at"], case["due_at"], case["timeliness"]) == (
        "2026-02-23T07:30:00+07:00", "2026-02-27T17:00:00+07:00", "late")
    assert case["extended_due_at"] == "2026-03-04T17:00:00+07:00"


def test_bad_events_are_named_kept_and_the_rest_applied(tmp_path: Path) -> None:
    eiso(tmp_path, "procedures", "deploy", str(FIXTURES / "test-procedure.bpmn"))
    lines = [
        TET_CASE[0],
        '{"event_id": "bad-1", "type": "case.teleported", "case_id": "X"}',
        "{not json",
        line("bad-3", "step.completed", "2026-02-23 11:00", "receive").replace('"2026-02-23T11:00:00+07:00"',
                                                                              '"23/02/2026 11:00"'),
        TET_CASE[1],
    ]
    result = eiso(tmp_path, "ingest", "-", stdin="\n".join(lines) + "\n")
    assert result.returncode == 1
    assert "stdin:2: refused event 'bad-1'" in result.stderr and "unknown type 'case.teleported'" in result.stderr
    assert "stdin:3: refused" in result.stderr and "not valid JSON" in result.stderr
    assert "stdin:4: refused event 'bad-3'" in result.stderr and "occurred_at" in result.stderr
    refused = json.loads(eiso(tmp_path, "events", "refused", "--format", "json").stdout)
    assert [r["event_id"] for r in refused] == ["bad-1", None, "bad-3"]
    case = json.loads(eiso(tmp_path, "cases", "show", "1.000-260213-0001", "--format", "json").stdout)
    assert case["steps"][0]["completed_at"] == "2026-02-23T11:00:00+07:00"


def test_validate_names_file_element_and_problem(tmp_path: Path) -> None:
    good = eiso(tmp_path, "procedures", "validate", *map(str, BUNDLED))
    assert good.returncode == 0, good.stdout
    broken = tmp_path / "broken.bpmn"
    broken.write_bytes((FIXTURES / "test-procedure.bpmn").read_bytes().replace(
        b'<camunda:property name="deadline" value="P2D"/>', b'<camunda:property name="deadline" value="P2X"/>'))
    bad = eiso(tmp_path, "procedures", "validate", str(broken), "/nonexistent.bpmn")
    assert bad.returncode == 1
    assert any(row.endswith("broken.bpmn: appraise: deadline: invalid working-time duration " + repr("P2X")
                            + ": expected P[nW][nD][T[nH][nM][nS]], e.g. P10D, P1DT4H, PT1H30M")
               for row in bad.stdout.splitlines()), bad.stdout
    assert "nonexistent.bpmn" in bad.stdout


def test_versions_are_listed_and_identical_deploys_change_nothing(tmp_path: Path) -> None:
    source = FIXTURES / "test-procedure.bpmn"
    first = json.loads(eiso(tmp_path, "procedures", "deploy", str(source), "--format", "json").stdout)
    same = json.loads(eiso(tmp_path, "procedures", "deploy", str(source), "--format", "json").stdout)
    changed = tmp_path / "test-procedure.bpmn"
    changed.write_bytes(source.read_bytes().replace(b'value="PT4H"/><camunda:property name="unit" value="Leader',
                                                    b'value="PT6H"/><camunda:property name="unit" value="Leader'))
    second = json.loads(eiso(tmp_path, "procedures", "deploy", str(changed), "--format", "json").stdout)
    assert [(r["version"], r["result"]) for r in first + same + second] == [
        (1, "new version"), (1, "unchanged"), (2, "new version")]
    listed = json.loads(eiso(tmp_path, "procedures", "list", "--format", "json").stdout)
    assert [(v["procedure"], v["version"]) for v in listed] == [("9.000001", 1), ("9.000001", 2)]


@pytest.mark.parametrize("fmt", ["json", "csv", "table"])
def test_simulate_is_reproducible_and_report_formats(tmp_path: Path, fmt: str) -> None:
    one = eiso(tmp_path, "simulate", "--cases", "30", "--seed", "5", "--month", "2026-10").stdout
    two = eiso(tmp_path, "simulate", "--cases", "30", "--seed", "5", "--month", "2026-10").stdout
    assert one == two and len(one.splitlines()) > 200
    eiso(tmp_path, "procedures", "deploy", *map(str, BUNDLED))
    assert eiso(tmp_path, "ingest", "-", stdin=one).returncode == 0
    report = eiso(tmp_path, "report", "--from", "2026-10-01", "--to", "2026-11-01", "--format", fmt, "--lang", "en")
    assert report.returncode == 0, report.stderr
    if fmt == "json":
        data = json.loads(report.stdout)
        assert data["totals"]["received"] == 30 and data["quality_objective"] == 0.95
        assert {"median_hours", "allowance_hours"} <= set(data["steps"][0])
    elif fmt == "csv":
        assert report.stdout.splitlines()[0].startswith("Agency,Procedure,Received")
    else:
        assert "On-time rate" in report.stdout
