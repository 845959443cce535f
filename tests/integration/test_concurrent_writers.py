"""Several API processes on one PostgreSQL, writing to the same case at once (issue 10, 2.3).

Each process is an ``App`` with its own engine, case cache and HTTP app, as two ``eiso serve``
would be; they run in threads against one real database. Every event must be applied exactly
once, no answer may be a 500; when the retries run out the answer is 409 with ``Retry-After``
and the batch's other events are answered.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from datetime import datetime
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select

from engine.api import create_app
from engine.api.roles import Role
from engine.api.settings import ApiSettings
from engine.api.users import create_user
from engine.bootstrap import App, build
from engine.core.clock import ManualClock
from engine.service import APPLY_ATTEMPTS
from engine.settings import DatabaseSettings, Settings
from engine.store.cases import CASES
from engine.store.tables import JournalEntry
from tests.integration.test_service_store import PROCEDURE, ev

AGENCY = "000.00.01.H10"
PROCESSES = 3
EVENTS_EACH = 60


@pytest.fixture
def processes(postgres_database: str) -> Iterator[list[tuple[App, TestClient, str]]]:
    clock = ManualClock(datetime.fromisoformat("2026-03-01T08:00:00+07:00"))
    apps = [build(Settings(database=DatabaseSettings(url=postgres_database)), clock=clock) for _ in range(PROCESSES)]
    apps[0].catalog.deploy(PROCEDURE.read_bytes(), PROCEDURE.name, clock.now())
    made = []
    for n, app in enumerate(apps):
        token = create_user(app.engine, f"connector-{n}", Role.connector, [AGENCY], clock.now())
        made.append((app, TestClient(create_app(app, ApiSettings())), token))
    try:
        for _, client, _ in made:
            client.__enter__()
        yield made
    finally:
        for app, client, _ in made:
            client.__exit__(None, None, None)
            app.engine.dispose()


def post(client: TestClient, token: str, events: list[dict[str, Any]]) -> Any:
    return client.post("/events", json=events, headers={"Authorization": f"Bearer {token}"})


def counts(app: App) -> tuple[int, int]:
    with app.engine.connect() as conn:
        journal = conn.execute(select(func.count()).select_from(JournalEntry)).scalar_one()
        events = conn.execute(select(CASES.c.event_count).where(CASES.c.case_id == "C-1")).scalar_one()
    return int(journal), int(events)


def test_concurrent_posts_on_one_case_are_each_applied_once(processes: list[tuple[App, TestClient, str]]) -> None:
    first, client, token = processes[0]
    assert post(client, token, [ev("r", "case.received", "2026-03-02 08:00")]).json()["applied"] == 1
    answers: list[tuple[int, str]] = []
    lock = threading.Lock()
    start = threading.Barrier(len(processes))

    def hammer(n: int, client: TestClient, token: str) -> None:
        start.wait()
        for i in range(EVENTS_EACH):
            # a start of the active step: applied whatever the order (recorded once, noted after)
            event = ev(f"p{n}-{i}", "step.started", "2026-03-02 08:30", "receive")
            response = post(client, token, [event])
            status = response.json()["results"][0]["status"] if response.status_code == 200 else ""
            with lock:
                answers.append((response.status_code, status))

    threads = [threading.Thread(target=hammer, args=(n, c, t)) for n, (_, c, t) in enumerate(processes)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=600)
    assert len(answers) == PROCESSES * EVENTS_EACH
    assert sorted(set(answers)) == [(200, "applied")], sorted(set(answers))
    assert counts(first) == (1 + PROCESSES * EVENTS_EACH, 1 + PROCESSES * EVENTS_EACH)


def test_when_the_retries_run_out_the_answer_is_409_and_the_rest_is_answered(
        processes: list[tuple[App, TestClient, str]]) -> None:
    (first, client, token), (_, other, other_token) = processes[0], processes[1]
    assert post(client, token, [ev("r", "case.received", "2026-03-02 08:00")]).json()["applied"] == 1
    # the second process writes to the case that the first holds in memory: the first's copy is stale
    assert post(other, other_token, [ev("s1", "step.started", "2026-03-02 08:10", "receive")]).json()["applied"] == 1
    first.service.apply_attempts = 1  # no second reading: the stale copy cannot be applied to
    batch = [ev("c2", "step.completed", "2026-03-02 09:00", "receive"),
             ev("n1", "case.received", "2026-03-02 08:00", case_id="C-2"),
             ev("c3", "step.completed", "2026-03-03 09:00", "appraise")]
    busy = post(client, token, batch)
    assert busy.status_code == 409, busy.text
    assert busy.headers["Retry-After"] == "1"
    body = busy.json()
    assert body["not_applied"] == [0, 2] and "C-1" in body["detail"]
    assert [(r["index"], r["status"]) for r in body["results"]] == [(1, "applied")]
    assert counts(first) == (3, 2)  # nothing of C-1 was written by the busy attempt
    first.service.apply_attempts = APPLY_ATTEMPTS  # the stale copy was dropped: read again, applied
    again = post(client, token, batch).json()
    assert [r["status"] for r in again["results"]] == ["applied", "duplicate", "applied"]
