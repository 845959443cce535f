"""Text no database can keep is refused by one rule, whichever way the event comes in (issue 11).

The API checks an event before it keeps its raw form, the parser checks every event: both ask
``engine.core.events.unstorable``, so the reason (and the nesting limit) is the same.
"""

from __future__ import annotations

import json
from typing import Any

import pytest

from engine.api.roles import Role
from tests.api.support import OWN_AGENCY, World, event


def _nested(depth: int) -> dict[str, Any]:
    value: dict[str, Any] = {"leaf": 1}
    for _ in range(depth):
        value = {"inner": value}
    return value


@pytest.mark.parametrize(("name", "extra"), [
    ("nul", {"data": {"note": "a\u0000b"}}),
    ("surrogate", {"reason": "x\ud800y"}),
    ("deep", {"data": _nested(40)}),
    ("deeper", {"data": _nested(70)}),
])
def test_http_and_the_parser_refuse_with_the_same_reason(world: World, name: str, extra: dict[str, Any]) -> None:
    bad = {**event(f"bad-{name}", "case.received", "2026-03-10 08:00", f"BAD-{name}", OWN_AGENCY), **extra}
    # as a sender writes it: JSON text with \u escapes (a lone surrogate cannot be UTF-8 encoded otherwise)
    answer = world.call(Role.connector, "POST", "/events", content=json.dumps([bad]).encode(),
                        headers={"Content-Type": "application/json"})
    assert answer.status_code == 200, answer.text
    [result] = answer.json()["results"]
    direct = world.eiso.service.ingest_object(bad, "test")
    assert (result["status"], direct.status) == ("refused", "refused")
    assert result["reason"] == direct.reason
    assert result["event_id"] == direct.event_id == f"bad-{name}"
