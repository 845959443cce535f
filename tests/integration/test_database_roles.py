"""Two database roles on the real PostgreSQL: the owner migrates, the services' role cannot erase the audit log.

``eiso db upgrade`` runs as the owner (EISO_DATABASE_MIGRATION_URL) and grants the role of
EISO_DATABASE_URL what the services need. That role reads and writes, but UPDATE, DELETE and
TRUNCATE on ``audit_log`` fail; TRUNCATE fails for the owner too (migration 0008's trigger).
Services started as that role never migrate: behind, they stop with a clear message.
"""

from __future__ import annotations

import os
import subprocess
import sys
import uuid
from collections.abc import Iterator
from datetime import datetime

import pytest
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url
from sqlalchemy.exc import DBAPIError

from engine.api.roles import Role
from engine.bootstrap import build
from engine.core.clock import ManualClock
from engine.settings import DatabaseSettings, Settings
from engine.store.database import SchemaNotCurrent
from tests.api.support import OWN_CASE, make_world, nc_key
from tests.conftest import ROOT


@pytest.fixture
def roles(postgres_database: str) -> Iterator[tuple[str, str]]:
    """(owner URL, restricted role URL) on a fresh database; the role is dropped afterwards."""
    role = f"eiso_app_{uuid.uuid4().hex[:8]}"
    owner = create_engine(postgres_database, isolation_level="AUTOCOMMIT")
    with owner.connect() as conn:
        conn.execute(text(f"CREATE ROLE {role} LOGIN"))
    app_url = make_url(postgres_database).set(username=role).render_as_string(hide_password=False)
    try:
        yield postgres_database, app_url
    finally:
        with owner.connect() as conn:
            conn.execute(text(f"SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE usename = '{role}'"))
            conn.execute(text(f"DROP OWNED BY {role}"))
            conn.execute(text(f"DROP ROLE {role}"))
        owner.dispose()


def _cli(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    clean = {k: v for k, v in os.environ.items() if not k.startswith("EISO_")}
    done = subprocess.run([sys.executable, "-m", "engine.cli.app", *args], check=False, capture_output=True,
                          text=True, timeout=120, cwd=ROOT, env={**clean, **env})
    done.stderr = " ".join(done.stderr.split())  # the console wraps long lines
    return done


def test_services_as_the_restricted_role_never_migrate(roles: tuple[str, str]) -> None:
    owner_url, app_url = roles
    split = {"EISO_DATABASE_URL": app_url, "EISO_DATABASE_MIGRATION_URL": owner_url}
    with pytest.raises(SchemaNotCurrent, match=r"run `eiso db upgrade` \(it migrates as EISO_DATABASE_MIGRATION_URL"):
        build(Settings(database=DatabaseSettings(url=app_url, migration_url=owner_url)))
    listed = _cli(split, "procedures", "list")
    assert listed.returncode == 2 and "eiso db upgrade" in listed.stderr and "Traceback" not in listed.stderr
    alone = _cli({"EISO_DATABASE_URL": app_url}, "procedures", "list")  # no migration URL: tries, may not
    assert alone.returncode == 2 and "may not change it" in alone.stderr and "Traceback" not in alone.stderr
    upgraded = _cli(split, "db", "upgrade")
    assert upgraded.returncode == 0, upgraded.stderr
    assert _cli(split, "procedures", "list").returncode == 0


def test_the_restricted_role_cannot_erase_the_audit_log_and_the_api_works(roles: tuple[str, str]) -> None:
    owner_url, app_url = roles
    assert _cli({"EISO_DATABASE_URL": app_url, "EISO_DATABASE_MIGRATION_URL": owner_url}, "db", "upgrade"
                ).returncode == 0
    clock = ManualClock(datetime.fromisoformat("2026-03-01T08:00:00+07:00"))
    eiso = build(Settings(database=DatabaseSettings(url=app_url, migration_url=owner_url)), clock=clock)
    try:
        world = make_world(eiso, clock)
        with world.client:
            answer = world.call(Role.iso_secretary, "POST", f"/nonconformities/{nc_key(OWN_CASE)}/correction",
                                json={"correction": "Case handed to the deputy head"})
            assert answer.status_code == 200, answer.text
            assert world.call(Role.auditor, "GET", "/audit").json()["total"] >= 1
        with eiso.engine.connect() as conn:
            assert conn.execute(text("SELECT current_user")).scalar_one().startswith("eiso_app_")
        for statement in ("UPDATE audit_log SET actor = 'someone else'", "DELETE FROM audit_log",
                          "TRUNCATE audit_log", "ALTER TABLE audit_log DISABLE TRIGGER ALL",
                          "DROP TRIGGER audit_log_no_truncate ON audit_log"):
            with pytest.raises(DBAPIError, match=r"permission denied|must be owner"), eiso.engine.begin() as conn:
                conn.execute(text(statement))
    finally:
        eiso.engine.dispose()
    owner = create_engine(owner_url)
    try:
        with pytest.raises(DBAPIError, match="append-only"), owner.begin() as conn:
            conn.execute(text("TRUNCATE audit_log"))
        with owner.connect() as conn:
            assert conn.execute(text("SELECT count(*) FROM audit_log")).scalar_one() >= 1
    finally:
        owner.dispose()
