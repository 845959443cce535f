"""Text from outside printed by the ``eiso`` command: never Rich markup, never a spreadsheet formula.

Real processes on real SQLite, as a user (or docker-compose's watcher) runs them.
"""

from __future__ import annotations

import csv
import io
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

from sqlalchemy import create_engine, text

from tests.conftest import FIXTURES, ROOT
from tests.integration.test_cli import eiso, line

MARKUP_ID = "W-[/x]"
EMOJI_ID = "E-[bold]:100:"


def _case(event_id: str, case_id: str, **extra: str) -> str:
    event = json.loads(line(event_id, "case.received", "2026-02-13 10:00"))
    return json.dumps({**event, "case_id": case_id, **extra})


def _deploy_and_ingest(tmp_path: Path, *events: str, name: str = "events.jsonl") -> subprocess.CompletedProcess[str]:
    assert eiso(tmp_path, "procedures", "deploy", str(FIXTURES / "test-procedure.bpmn")).returncode == 0
    stream = tmp_path / name
    stream.write_text("\n".join(events) + "\n", encoding="utf-8")
    return eiso(tmp_path, "ingest", str(stream))


def test_markup_and_emoji_codes_in_user_text_print_as_themselves(tmp_path: Path) -> None:
    ingested = _deploy_and_ingest(tmp_path, _case("m1", MARKUP_ID), _case("m2", EMOJI_ID), name="a:100:.jsonl")
    assert ingested.returncode == 0, ingested.stderr
    assert "a:100:.jsonl" in ingested.stdout and "\U0001f4af" not in ingested.stdout
    watched = eiso(tmp_path, "watch", "--once", "--at", "2026-04-01T10:00:00+07:00")
    assert watched.returncode == 0, watched.stderr
    assert MARKUP_ID in watched.stdout and EMOJI_ID in watched.stdout
    listed = eiso(tmp_path, "nc", "list")
    assert listed.returncode == 0, listed.stderr
    assert MARKUP_ID in listed.stdout and EMOJI_ID in listed.stdout and "\U0001f4af" not in listed.stdout
    for case_id in (MARKUP_ID, EMOJI_ID):
        shown = eiso(tmp_path, "cases", "show", case_id)
        assert shown.returncode == 0, shown.stderr
        assert f"Case {case_id}" in shown.stdout
    missing = eiso(tmp_path, "cases", "show", "[/nope]")
    assert missing.returncode == 1 and "no case '[/nope]'" in missing.stderr


def test_csv_outputs_neutralise_formulas_in_text_and_keep_numbers(tmp_path: Path) -> None:
    formulas = ["=1+2", "+1", "-2+3", "@SUM(A1)"]  # tab and CR: ids with surrounding blanks are refused
    events = [_case(f"f{n}", case_id) for n, case_id in enumerate(formulas)]
    assert _deploy_and_ingest(tmp_path, *events).returncode == 0
    watched = eiso(tmp_path, "watch", "--once", "--at", "2026-04-01T10:00:00+07:00", "--format", "csv")
    assert watched.returncode == 0, watched.stderr
    listed = eiso(tmp_path, "nc", "list", "--format", "csv")
    assert listed.returncode == 0, listed.stderr
    for output in (watched.stdout, listed.stdout):
        rows = list(csv.DictReader(io.StringIO(output, newline="")))
        assert {r["case_id"] for r in rows} == {"'" + f for f in formulas}
        delays = [r["delay_working_hours"] for r in rows if r["delay_working_hours"]]
        assert delays and all(float(d) > 0 for d in delays)


def test_cli_csv_cells_follow_the_apis_rule(capsys: object) -> None:
    """One rule for the API's and the command line's CSV: text neutralised, numbers (negative too) kept."""
    from engine.api.reporting.common import Language
    from engine.api.reporting.export import Table, to_csv
    from engine.cli.output import print_csv

    rows = [{"agency": "=1+2", "procedure": "-1", "step": "\tx", "unit": "\rx", "delay": -1.5, "count": -3,
             "ok": True, "none": None}]
    columns = ["agency", "procedure", "step", "unit", "delay", "count", "ok", "none"]
    print_csv(rows, columns)
    cli = list(csv.reader(io.StringIO(capsys.readouterr().out)))  # type: ignore[attr-defined]
    api = list(csv.reader(io.StringIO(to_csv(Table("t", columns, rows), Language.en).decode())))
    assert cli[1] == ["'=1+2", "'-1", "'\tx", "'\rx", "-1.50", "-3", "yes", ""]
    assert api[1] == ["'=1+2", "'-1", "'\tx", "'\rx", "-1.5", "-3", "True", ""]


def _corrupt_snapshot(database: Path, case_id: str) -> None:
    engine = create_engine(f"sqlite:///{database}")
    with engine.begin() as conn:
        conn.execute(text("DELETE FROM case_snapshot WHERE case_id = :c"), {"c": case_id})
        conn.execute(text("INSERT INTO case_snapshot (case_id, journal_seq, serializer_version, state, taken_at) "
                          "VALUES (:c, 0, '1', '{}', '2026-02-13 03:00:00')"), {"c": case_id})
    engine.dispose()


def test_the_watch_daemon_outlives_hostile_text_and_a_broken_case(tmp_path: Path) -> None:
    assert _deploy_and_ingest(tmp_path, _case("d1", MARKUP_ID), _case("d2", "BROKEN-1")).returncode == 0
    _corrupt_snapshot(tmp_path / "cli.db", "BROKEN-1")
    env = {**os.environ, "EISO_DATABASE_URL": f"sqlite:///{tmp_path / 'cli.db'}", "COLUMNS": "200"}
    env.pop("EISO_DEBUG", None)
    out, err = tmp_path / "watch.out", tmp_path / "watch.err"
    with out.open("w") as stdout, err.open("w") as stderr:
        daemon = subprocess.Popen([sys.executable, "-m", "engine.cli.app", "watch", "--interval", "0.3"],
                                  stdout=stdout, stderr=stderr, env=env, cwd=ROOT, start_new_session=True)
        try:
            deadline = time.monotonic() + 90
            while time.monotonic() < deadline and daemon.poll() is None:
                if MARKUP_ID in out.read_text() and err.read_text().count("'BROKEN-1' skipped") >= 3:
                    break  # the broken case is tried again at every pass, the others are done
                time.sleep(0.2)
            assert daemon.poll() is None, f"the watcher exited: {err.read_text()}"
        finally:
            daemon.send_signal(signal.SIGTERM)
            daemon.wait(timeout=30)
    errors = err.read_text()
    assert "Traceback" not in errors and "MarkupError" not in errors, errors
    assert MARKUP_ID in out.read_text()
    assert errors.count("'BROKEN-1' skipped") >= 3, errors
