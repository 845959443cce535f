"""``eiso procedures migrate`` as a user runs it (real processes, SQLite and PostgreSQL): the dry run first,
the exit status (0 all moved, 1 some stayed, 2 bad input), the map file, and the table's words.

Cases A and B (agency 000.00.01.H10) are at appraise since Mon 9 Mar 2026 08:00 (P2D: due Wed 11 Mar 08:00);
version 2 makes appraise P3D (due Thu 12 Mar 08:00); version 3 renames appraise to assess.
"""

from __future__ import annotations

import json
from pathlib import Path

from sqlalchemy import create_engine, func, select

from engine.bootstrap import App
from engine.store.cases import JOURNAL
from tests.integration.test_cli_procedures import eiso
from tests.integration.test_migration_store import LONGER, RENAMED, SOURCE, at_appraise


def journal_rows(url: str) -> int:
    engine = create_engine(url)
    try:
        with engine.connect() as conn:
            return int(conn.execute(select(func.count()).select_from(JOURNAL)).scalar_one())
    finally:
        engine.dispose()


def test_cli_migrate_dry_run_then_for_real_with_exit_statuses(app: App, database_url: str, tmp_path: Path) -> None:
    url = database_url
    app.catalog.deploy(SOURCE, "test-procedure.bpmn", app.clock.now())
    at_appraise(app, "A")
    at_appraise(app, "B")
    app.catalog.deploy(LONGER, "test-procedure.bpmn", app.clock.now())
    app.catalog.deploy(RENAMED, "test-procedure.bpmn", app.clock.now())
    before = journal_rows(url)

    dry = eiso(url, "procedures", "migrate", "9.000001", "--to", "2", "--dry-run", "--format", "json")
    assert dry.returncode == 0, dry.stderr
    answer = json.loads(dry.stdout)
    assert (answer["dry_run"], answer["moved"], answer["stayed"]) == (True, 2, 0)
    assert [s["due_after"] for c in answer["cases"] for s in c["steps"]] == ["2026-03-12T08:00:00+07:00"] * 2
    assert journal_rows(url) == before

    stayed = eiso(url, "procedures", "migrate", "9.000001", "--to", "3", "--lang", "en")
    assert stayed.returncode == 1, stayed.stderr
    assert "Why it stays" in stayed.stdout and "does not name it" in stayed.stdout
    assert "exit status 1: some cases stayed" in stayed.stderr
    assert journal_rows(url) == before

    bad = tmp_path / "bad.toml"
    bad.write_text('[steps]\napraise = "assess"\n', encoding="utf-8")
    refused = eiso(url, "procedures", "migrate", "9.000001", "--to", "3", "--map", str(bad))
    assert refused.returncode == 2 and "'apraise'" in refused.stderr and "nothing migrated" in refused.stderr
    broken = tmp_path / "broken.toml"
    broken.write_text("[steps\n", encoding="utf-8")
    assert eiso(url, "procedures", "migrate", "9.000001", "--to", "3", "--map", str(broken)).returncode == 2
    unknown = eiso(url, "procedures", "migrate", "9.000001", "--to", "9")
    assert unknown.returncode == 2 and "no version 9" in unknown.stderr
    assert journal_rows(url) == before

    good = tmp_path / "steps.toml"
    good.write_text('[steps]\nappraise = "assess"\n', encoding="utf-8")
    moved = eiso(url, "procedures", "migrate", "9.000001", "--to", "3", "--map", str(good), "--actor", "alice")
    assert moved.returncode == 0, moved.stderr
    assert "Kết quả" in moved.stdout and "appraise → assess" in moved.stdout
    assert journal_rows(url) == before + 2
    again = eiso(url, "procedures", "migrate", "9.000001", "--to", "3", "--format", "json")
    assert again.returncode == 0 and json.loads(again.stdout)["cases"] == []  # already there: nothing to move
