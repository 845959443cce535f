"""``eiso procedures deploy|retire|list`` as a user runs them: every change audited in its own
transaction (issue 10, item 13), deployments scoped to agencies (section 3), file names cleaned
(item 12). Real processes, on SQLite and PostgreSQL.
"""

from __future__ import annotations

import getpass
import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import create_engine, text

from engine.bootstrap import App
from tests.conftest import FIXTURES, ROOT

SOURCE = (FIXTURES / "test-procedure.bpmn").read_bytes()
UNIT = "000.31.12.H10"


def eiso(url: str, *args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "EISO_DATABASE_URL": url, "COLUMNS": "200"}
    env.pop("EISO_DEBUG", None)
    result = subprocess.run([sys.executable, "-m", "engine.cli.app", *args], check=False, capture_output=True,
                            text=True, env=env, cwd=ROOT, timeout=300)
    assert "Traceback" not in result.stderr, result.stderr
    return result


def audit_rows(url: str) -> list[tuple[str, str, str, str, str | None]]:
    engine = create_engine(url)
    try:
        with engine.connect() as conn:
            rows = conn.execute(text("SELECT actor, actor_role, action, entity_key, agency FROM audit_log "
                                     "WHERE entity = 'procedure' ORDER BY id")).all()
    finally:
        engine.dispose()
    return [tuple(row) for row in rows]


def test_cli_deploy_and_retire_are_audited_and_scoped(database_url: str, tmp_path: Path) -> None:
    url = database_url
    procedure = tmp_path / "test-procedure.bpmn"
    procedure.write_bytes(SOURCE)
    first = eiso(url, "procedures", "deploy", str(procedure), "--actor", "alice")
    assert first.returncode == 0, first.stderr
    assert eiso(url, "procedures", "deploy", str(procedure), "--actor", "alice").returncode == 0  # unchanged
    scoped = eiso(url, "procedures", "deploy", str(procedure), "--agency", UNIT, "--format", "json")
    assert scoped.returncode == 0, scoped.stderr
    assert [(r["scope"], r["version"], r["result"]) for r in json.loads(scoped.stdout)] == [(UNIT, 1, "new version")]
    retired = eiso(url, "procedures", "retire", "9.000001", "1", "--actor", "bob")
    assert retired.returncode == 0 and "retired" in retired.stderr
    again = eiso(url, "procedures", "retire", "9.000001", "1", "--actor", "bob")
    assert again.returncode == 0 and "already retired" in again.stderr
    assert eiso(url, "procedures", "retire", "9.000001", "1", "--agency", UNIT, "--actor", "bob").returncode == 0
    missing = eiso(url, "procedures", "retire", "9.000001", "2", "--agency", UNIT)
    assert missing.returncode == 1 and "not found" in missing.stderr

    assert audit_rows(url) == [
        ("alice", "cli", "procedure.deploy", "9.000001/1", None),
        (getpass.getuser(), "cli", "procedure.deploy", f"9.000001[{UNIT}]/1", UNIT),
        ("bob", "cli", "procedure.retire", "9.000001/1", None),
        ("bob", "cli", "procedure.retire", f"9.000001[{UNIT}]/1", UNIT),
    ]
    listed = json.loads(eiso(url, "procedures", "list", "--format", "json").stdout)
    assert [(v["procedure"], v["scope"], v["version"], v["retired_at"] is not None) for v in listed] == [
        ("9.000001", "*", 1, True), ("9.000001", UNIT, 1, True)]


def test_cli_refuses_bad_agencies_and_cleans_file_names(database_url: str, tmp_path: Path) -> None:
    url = database_url
    procedure = tmp_path / "test-procedure.bpmn"
    procedure.write_bytes(SOURCE)
    evil = tmp_path / 'evil\r\nX-Injected: "1".bpmn'
    evil.write_bytes(SOURCE)
    deployed = eiso(url, "procedures", "deploy", str(evil), "--format", "json")
    assert deployed.returncode == 0, deployed.stderr
    assert [r["file"] for r in json.loads(deployed.stdout)] == ["evil__X-Injected_ _1_.bpmn"]
    bad = eiso(url, "procedures", "deploy", str(procedure), "--agency", "a b")
    assert bad.returncode == 1 and "agency code" in bad.stderr
    listed: list[dict[str, Any]] = json.loads(eiso(url, "procedures", "list", "--format", "json").stdout)
    assert [(v["file"], v["scope"]) for v in listed] == [("evil__X-Injected_ _1_.bpmn", "*")]  # nothing more
    assert len(audit_rows(url)) == 1


def test_a_change_and_its_audit_entry_commit_together(app: App) -> None:
    """The audit entry is written in the change's transaction: when it fails, nothing is changed."""
    def failing(session: Any, change: Any) -> None:
        session.flush()
        raise RuntimeError("audit log unavailable")

    now = app.clock.now()
    with pytest.raises(RuntimeError):
        app.catalog.deploy(SOURCE, "test-procedure.bpmn", now, [UNIT], within=failing)
    assert app.catalog.versions() == []
    app.catalog.deploy(SOURCE, "test-procedure.bpmn", now, [UNIT])
    with pytest.raises(RuntimeError):
        app.catalog.retire("9.000001", 1, now, UNIT, within=failing)
    assert [v.retired_at for v in app.catalog.versions()] == [None]
    assert app.catalog.in_force("9.000001", now, UNIT) is not None
