"""Fixtures of the console tests: ``console``, the API tests' seeded world served with the console
(per test, on SQLite and on PostgreSQL through tests/conftest.py's ``app``)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from engine.bootstrap import App
from engine.core.clock import ManualClock
from tests.api.support import make_world
from tests.console.support import Console


@pytest.fixture
def console(app: App, clock: ManualClock) -> Iterator[Console]:
    world = make_world(app, clock)
    made = Console(world)
    with world.client:
        yield made
    for client in made.browsers.values():
        client.close()
