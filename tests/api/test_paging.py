"""Every list the API answers comes a bounded page at a time; a case's timeline by journal ``seq``."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import insert

from engine.api import create_app
from engine.api.app import api_routes
from engine.api.roles import Role
from engine.store.tables import JournalEntry
from tests.api.support import OWN_CASE, World

LEAD = Role.leader


def _journal(world: World, case_id: str, count: int) -> None:
    at = datetime.fromisoformat("2026-03-02T10:00:00+07:00")
    rows = [{"event_id": f"bulk-{i}", "case_id": case_id, "type": "step.started", "occurred_at": at + timedelta(
        seconds=i), "recorded_at": at, "payload": {"step": "appraise"}, "notes": None} for i in range(count)]
    with world.eiso.engine.begin() as conn:
        conn.execute(insert(JournalEntry), rows)


def test_a_long_timeline_comes_a_bounded_page_at_a_time(world: World) -> None:
    _journal(world, OWN_CASE, 1234)
    first = world.call(LEAD, "GET", f"/cases/{OWN_CASE}/events")
    assert first.status_code == 200, first.text
    assert len(first.json()) == 500
    seen: list[dict[str, Any]] = list(first.json())
    cursor = first.headers["X-Next-After"]
    assert first.headers["Link"] == f'<?after={cursor}&limit=500>; rel="next"'
    while cursor:
        page = world.call(LEAD, "GET", f"/cases/{OWN_CASE}/events", params={"after": cursor, "limit": 400})
        assert page.status_code == 200 and len(page.json()) <= 400
        seen += page.json()
        cursor = page.headers.get("X-Next-After", "")
    assert len(seen) == 3 + 1234
    assert [e["seq"] for e in seen] == sorted({e["seq"] for e in seen})
    assert seen[0]["type"] == "case.received" and seen[-1]["event_id"] == "bulk-1233"


def test_the_last_page_names_no_next_page(world: World) -> None:
    page = world.call(LEAD, "GET", f"/cases/{OWN_CASE}/events", params={"limit": 3})
    assert len(page.json()) == 3 and "X-Next-After" not in page.headers and "Link" not in page.headers
    short = world.call(LEAD, "GET", f"/cases/{OWN_CASE}/events", params={"limit": 2})
    assert len(short.json()) == 2 and short.headers["X-Next-After"] == str(short.json()[1]["seq"])


def test_a_page_larger_than_the_maximum_is_refused(world: World) -> None:
    for limit in (0, 1001):
        answer = world.call(LEAD, "GET", f"/cases/{OWN_CASE}/events", params={"limit": limit})
        assert answer.status_code == 422, answer.text


def _lists(schema: dict[str, Any], ref: dict[str, Any]) -> bool:
    """Whether a response is a list that grows with the data: an array, a page (``items``) or a report whose
    rows are one per dossier (``dossiers``)."""
    if "$ref" in ref:
        ref = schema["components"]["schemas"][ref["$ref"].rsplit("/", 1)[-1]]
    properties = ref.get("properties", {})
    return ref.get("type") == "array" or "items" in properties or "dossiers" in properties


def test_every_list_route_has_a_bounded_page(world: World) -> None:
    schema = create_app(world.eiso).openapi()
    unbounded = []
    for route in api_routes():
        if "GET" not in (route.methods or ()):
            continue
        operation = schema["paths"][route.path_format]["get"]
        body = operation["responses"]["200"].get("content", {}).get("application/json", {}).get("schema", {})
        if not _lists(schema, body):
            continue
        limits = [p for p in operation.get("parameters", []) if p["name"] == "limit"]
        maximum = limits[0]["schema"].get("maximum") if limits else None
        if maximum is None or maximum > 10_000:
            unbounded.append(route.path_format)
    assert unbounded == [], unbounded
