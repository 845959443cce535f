"""Fixtures of the API tests: a seeded world per test (``world``) and one per module (``shared_world``).

Both run on SQLite and on PostgreSQL; ``world`` through the ``app`` fixture of tests/conftest.py
(``database_url``), ``shared_world`` through the same helpers at module scope, for the
authorization matrix's hundreds of read-mostly requests.
"""

from __future__ import annotations

from collections.abc import Generator, Iterator
from datetime import datetime
from typing import cast

import pytest

from engine.bootstrap import App, build
from engine.core.clock import ManualClock
from engine.settings import DatabaseSettings, Settings
from tests.api.support import World, make_world
from tests.conftest import fresh_postgres_database


@pytest.fixture
def world(app: App, clock: ManualClock) -> Iterator[World]:
    made = make_world(app, clock)
    with made.client:
        yield made


@pytest.fixture
def bare_world(app: App, clock: ManualClock) -> Iterator[World]:
    """Users only: no procedure, no case."""
    made = make_world(app, clock, seed=False)
    with made.client:
        yield made


@pytest.fixture(scope="module", params=["sqlite", "postgres"])
def shared_world(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[World]:
    databases: Generator[str, None, None] | None = None
    if request.param == "sqlite":
        url = f"sqlite:///{tmp_path_factory.mktemp('api') / 'eiso.db'}"
    else:
        databases = cast(Generator[str, None, None], fresh_postgres_database())
        url = next(databases)
    clock = ManualClock(datetime.fromisoformat("2026-03-01T08:00:00+07:00"))
    eiso = build(Settings(database=DatabaseSettings(url=url)), clock=clock)
    try:
        made = make_world(eiso, clock)
        with made.client:
            yield made
    finally:
        eiso.engine.dispose()
        if databases is not None:
            databases.close()
