"""A small world for the API tests: two procedures, a late case in the users' agency and one outside it.

Agencies: the users are bound to ``000.00.12.H10`` (a department); their case belongs to
``000.31.12.H10`` (a unit below it, so covered); the other case to ``000.00.13.H10``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from fastapi.testclient import TestClient

from engine.api import create_app
from engine.api.roles import Role
from engine.api.settings import ApiSettings
from engine.api.users import create_user
from engine.bootstrap import App
from engine.core.clock import ManualClock
from tests.conftest import FIXTURES

PROCEDURE = FIXTURES / "test-procedure.bpmn"
USER_AGENCY = "000.00.12.H10"
OWN_AGENCY = "000.31.12.H10"
OTHER_AGENCY = "000.00.13.H10"
OWN_CASE, OTHER_CASE = "OWN-260302-0001", "OTHER-260302-0001"
NOW = datetime.fromisoformat("2026-03-12T08:00:00+07:00")


def second_procedure() -> bytes:
    """The fixture procedure under another code, for tests that retire a version."""
    return PROCEDURE.read_bytes().replace(b'value="9.000001"', b'value="9.000002"')


def event(event_id: str, type_: str, when: str, case_id: str, agency: str, step: str | None = None,
          **extra: Any) -> dict[str, Any]:
    obj = {"event_id": event_id, "type": type_, "case_id": case_id, "agency": agency, "procedure": "9.000001",
           "occurred_at": datetime.fromisoformat(when + ":00+07:00").isoformat(), **extra}
    if step:
        obj["step"] = step
    return obj


def late_case(case_id: str, agency: str, prefix: str) -> list[dict[str, Any]]:
    """Received Monday 2 March 2026; 'appraise' (2 working days) handed over late on Friday."""
    return [
        event(f"{prefix}-1", "case.received", "2026-03-02 08:00", case_id, agency),
        event(f"{prefix}-2", "step.completed", "2026-03-02 09:00", case_id, agency, "receive"),
        event(f"{prefix}-3", "step.completed", "2026-03-06 14:00", case_id, agency, "appraise"),
    ]


def nc_key(case_id: str) -> str:
    return f"{case_id}:step_timeliness:1"


@dataclass
class World:
    eiso: App
    client: TestClient
    clock: ManualClock
    tokens: dict[Role, str] = field(default_factory=dict)

    def headers(self, role: Role | None) -> dict[str, str]:
        return {} if role is None else {"Authorization": f"Bearer {self.tokens[role]}"}

    def call(self, role: Role | None, method: str, url: str, **kwargs: Any) -> Any:
        return self.client.request(method, url, headers={**self.headers(role), **kwargs.pop("headers", {})},
                                   **kwargs)


def make_world(eiso: App, clock: ManualClock, settings: ApiSettings | None = None, seed: bool = True) -> World:
    """Users of every role bound to USER_AGENCY; with ``seed``, both procedures and both late cases."""
    clock.set(datetime.fromisoformat("2026-03-01T08:00:00+07:00"))
    world = World(eiso, TestClient(create_app(eiso, settings or ApiSettings())), clock)
    for role in Role:
        world.tokens[role] = create_user(eiso.engine, f"{role.value}-user", role, [USER_AGENCY], clock.now())
    if seed:
        eiso.catalog.deploy(PROCEDURE.read_bytes(), PROCEDURE.name, clock.now())
        eiso.catalog.deploy(second_procedure(), "second.bpmn", clock.now())
        for obj in [*late_case(OWN_CASE, OWN_AGENCY, "own"), *late_case(OTHER_CASE, OTHER_AGENCY, "other")]:
            assert eiso.service.ingest_object(obj, "test").status == "applied"
    clock.set(NOW)
    return world
