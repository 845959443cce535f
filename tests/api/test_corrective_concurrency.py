"""Two corrective-action steps at once on one nonconformity: one wins, the other answers 409.

Real concurrency on PostgreSQL: a third connection holds the record's row lock until both
requests (two threads, two sessions) have read it and wait on that lock, then lets them go.
Before the version check, both answered 200 and one root cause was silently lost.
"""

from __future__ import annotations

import threading
import time
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import text

from engine.api import create_app
from engine.api.roles import Role
from tests.api.support import OWN_CASE, World, nc_key

KEY = nc_key(OWN_CASE)
PO = Role.process_owner
CORRECTION = {"correction": "Case handed to the deputy head"}
CAUSES = [{"cause": "Section officer on leave", "category": "staff"},
          {"cause": "No deputy rule in the procedure", "category": "procedure"}]


def _to_cause_analysed(world: World) -> int:
    assert world.call(PO, "POST", f"/nonconformities/{KEY}/correction", json=CORRECTION).status_code == 200
    assert world.call(PO, "POST", f"/nonconformities/{KEY}/cause", json=CAUSES[0]).status_code == 200
    read = world.call(PO, "GET", f"/nonconformities/{KEY}")
    assert read.headers["ETag"] == f'"{read.json()["version"]}"'
    return int(read.json()["version"])


def _race(world: World, headers: dict[str, str]) -> list[Any]:
    """Both causes posted at once, released together once both wait on the record's lock."""
    answers: list[Any] = [None, None]
    clients = [TestClient(create_app(world.eiso)) for _ in CAUSES]

    def post(index: int) -> None:
        answers[index] = clients[index].post(f"/nonconformities/{KEY}/cause", json=CAUSES[index],
                                             headers={**world.headers(PO), **headers})

    with world.eiso.engine.connect() as blocker:
        blocker.execute(text("SELECT key FROM nonconformity WHERE key = :key FOR UPDATE"), {"key": KEY})
        threads = [threading.Thread(target=post, args=(i,)) for i in range(len(CAUSES))]
        for thread in threads:
            thread.start()
        deadline = time.monotonic() + 30
        with world.eiso.engine.connect() as probe:
            while probe.execute(text("SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() "
                                     "AND wait_event_type = 'Lock'")).scalar_one() < 2:
                assert time.monotonic() < deadline, "the two requests never both waited on the record"
                time.sleep(0.05)
                probe.rollback()
        blocker.rollback()
    for thread in threads:
        thread.join(30)
    return answers


@pytest.fixture
def on_postgres(world: World) -> World:
    if world.eiso.engine.dialect.name != "postgresql":
        pytest.skip("row locks: PostgreSQL (SQLite has one writer at a time)")
    return world


@pytest.mark.parametrize("send_version", [True, False], ids=["if-match", "no-version"])
def test_two_concurrent_causes_one_wins_one_409(on_postgres: World, send_version: bool) -> None:
    world = on_postgres
    version = _to_cause_analysed(world)
    answers = _race(world, {"If-Match": f'"{version}"'} if send_version else {})
    assert sorted(a.status_code for a in answers) == [200, 409], [a.text for a in answers]
    winner = next(i for i, a in enumerate(answers) if a.status_code == 200)
    loser = answers[1 - winner]
    assert "changed since it was read" in loser.json()["detail"]
    after = world.call(PO, "GET", f"/nonconformities/{KEY}")
    assert loser.headers["ETag"] == after.headers["ETag"] == answers[winner].headers["ETag"]
    assert after.json()["corrective_action"]["cause"] == CAUSES[winner]["cause"]
    log = world.call(Role.auditor, "GET", "/audit", params={"entity_key": KEY}).json()["items"]
    assert [e["action"] for e in log] == ["nonconformity.correction", "nonconformity.cause", "nonconformity.cause"]
    assert log[-1]["after"]["cause"] == CAUSES[winner]["cause"]


def test_a_stale_version_answers_409_and_the_current_one_passes(world: World) -> None:
    version = _to_cause_analysed(world)
    fresh = world.call(PO, "POST", f"/nonconformities/{KEY}/cause", json=CAUSES[1],
                       headers={"If-Match": f'"{version}"'})
    assert fresh.status_code == 200, fresh.text
    assert fresh.json()["version"] > version and fresh.headers["ETag"] == f'"{fresh.json()["version"]}"'
    stale = world.call(PO, "POST", f"/nonconformities/{KEY}/cause", json=CAUSES[0],
                       headers={"If-Match": f'"{version}"'})
    assert stale.status_code == 409 and stale.headers["ETag"] == fresh.headers["ETag"]
    assert world.call(PO, "GET", f"/nonconformities/{KEY}").json()["corrective_action"]["cause"] == CAUSES[1]["cause"]
    assert world.call(PO, "POST", f"/nonconformities/{KEY}/cause", json=CAUSES[0],
                      headers={"If-Match": "yesterday"}).status_code == 422
    listed = world.call(PO, "GET", "/nonconformities", params={"case_id": OWN_CASE}).json()["items"]
    assert [n["version"] for n in listed] == [fresh.json()["version"]]
