"""Bad input at the command line: a file that is not JSON Lines is refused after a handful of lines without a
refused row per line; refused rows the user chooses to drop are purged, with an audit entry."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from sqlalchemy import create_engine, text

from tests.conftest import ROOT


def _eiso(url: str, cwd: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "EISO_DATABASE_URL": url, "COLUMNS": "200"}
    env.pop("EISO_DEBUG", None)
    result = subprocess.run([sys.executable, "-m", "engine.cli.app", *args], capture_output=True, text=True,
                            env=env, cwd=cwd, timeout=300, check=False)
    assert "Traceback" not in result.stderr, result.stderr
    return result


def _refused(url: str) -> list[str]:
    engine = create_engine(url)
    try:
        with engine.connect() as conn:
            return list(conn.execute(text("SELECT source FROM refused_event ORDER BY id")).scalars())
    finally:
        engine.dispose()


def test_a_file_that_is_not_json_lines_is_refused_whole(database_url: str, tmp_path: Path) -> None:
    ingested = _eiso(database_url, tmp_path, "ingest", str(ROOT / "README.md"))
    assert ingested.returncode == 1
    assert "README.md: not JSON Lines" in ingested.stderr and "nothing applied" in ingested.stderr
    assert _refused(database_url) == []


def test_a_few_bad_lines_in_an_event_file_are_refused_as_usual(database_url: str, tmp_path: Path) -> None:
    events = tmp_path / "events.jsonl"
    good = json.dumps({"event_id": "x1", "type": "case.nonsense", "case_id": "C-1"})
    events.write_text("oops\n{broken\n" + good + "\nagain not json\n", encoding="utf-8")
    ingested = _eiso(database_url, tmp_path, "ingest", str(events))
    assert ingested.returncode == 1
    assert sorted(_refused(database_url)) == ["events.jsonl:1", "events.jsonl:2", "events.jsonl:3",
                                              "events.jsonl:4"]


def test_purge_drops_the_chosen_refused_rows_with_an_audit_entry(database_url: str, tmp_path: Path) -> None:
    for name in ("a.jsonl", "b.jsonl"):
        (tmp_path / name).write_text("{}\n[]\n", encoding="utf-8")  # JSON, but not case events
        assert _eiso(database_url, tmp_path, "ingest", str(tmp_path / name)).returncode == 1
    assert len(_refused(database_url)) == 4
    lone = _eiso(database_url, tmp_path, "events", "refused", "--source", "a.jsonl")
    assert lone.returncode == 2 and "--purge" in lone.stderr
    purged = _eiso(database_url, tmp_path, "events", "refused", "--purge", "--source", "a.jsonl",
                   "--actor", "clerk")
    assert purged.returncode == 0, purged.stderr
    assert "2 refused event(s) deleted" in purged.stdout
    assert sorted(_refused(database_url)) == ["b.jsonl:1", "b.jsonl:2"]
    none = _eiso(database_url, tmp_path, "events", "refused", "--purge", "--before", "2000-01-01")
    assert none.returncode == 0 and "0 refused event(s) deleted" in none.stdout
    assert _eiso(database_url, tmp_path, "events", "refused", "--purge").returncode == 0
    assert _refused(database_url) == []
    engine = create_engine(database_url)
    try:
        with engine.connect() as conn:
            entries = conn.execute(text("SELECT actor, action, entity, entity_key FROM audit_log "
                                        "WHERE entity = 'refused_event' ORDER BY id")).all()
    finally:
        engine.dispose()
    assert (entries[0].actor, entries[0].action, entries[0].entity_key) == (
        "clerk", "refused_event.purge", "before=* source=a.jsonl")
    assert len(entries) == 2  # a purge that deleted nothing writes no entry
