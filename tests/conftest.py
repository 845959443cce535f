"""Fixtures: the wired application on SQLite and on a real PostgreSQL, with a manual clock."""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path

import pytest
from sqlalchemy import create_engine, text

from engine.bootstrap import App, build
from engine.core.clock import ManualClock
from engine.settings import DatabaseSettings, Settings

ROOT = Path(__file__).resolve().parents[1]
BUNDLED = sorted((ROOT / "bpmn").glob("*.bpmn"))
FIXTURES = ROOT / "tests" / "fixtures"


def postgres_url() -> str | None:
    url = os.environ.get("EISO_TEST_POSTGRES_URL")
    if not url and os.environ.get("CI"):
        raise RuntimeError("CI must provide EISO_TEST_POSTGRES_URL (scripts/test starts PostgreSQL)")
    return url


@pytest.fixture(params=["sqlite", "postgres"])
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'eiso.db'}"
        return
    yield from fresh_postgres_database()


@pytest.fixture
def postgres_database() -> Iterator[str]:
    """A fresh, empty PostgreSQL database (dropped afterwards)."""
    yield from fresh_postgres_database()


def fresh_postgres_database() -> Iterator[str]:
    base = postgres_url()
    if base is None:
        pytest.skip("no PostgreSQL: run through scripts/test (EISO_TEST_POSTGRES_URL)")
    name = f"eiso_test_{uuid.uuid4().hex[:10]}"
    admin = create_engine(base, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    url = base.rsplit("/", 1)[0] + "/" + name
    try:
        yield url
    finally:
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock(datetime.fromisoformat("2026-03-01T08:00:00+07:00"))


@pytest.fixture
def app(database_url: str, clock: ManualClock) -> Iterator[App]:
    eiso = build(Settings(database=DatabaseSettings(url=database_url)), clock=clock)
    try:
        yield eiso
    finally:
        eiso.engine.dispose()
