"""GET /reports/conformance: the conformance of the cases closed in the period, scoped to the user's agencies.

The test procedure: receive, appraise, then consult and review in parallel, approve (or approve the fee
exemption), return the result.
"""

from __future__ import annotations

from typing import Any

from engine.api.roles import Role
from tests.api.support import OTHER_AGENCY, OWN_AGENCY, World, event

MARCH = {"from": "2026-03-01", "to": "2026-04-01"}
WHOLE = ["receive", "appraise", "review", "consult", "approve", "return_result"]


def _case(case_id: str, agency: str, steps: list[str]) -> list[dict[str, Any]]:
    out = [event(f"{case_id}-r", "case.received", "2026-03-02 08:00", case_id, agency)]
    out += [event(f"{case_id}-{i}", "step.completed", f"2026-03-03 {8 + i:02d}:00", case_id, agency, step)
            for i, step in enumerate(steps)]
    return [*out, event(f"{case_id}-x", "case.returned", "2026-03-04 09:00", case_id, agency)]


def test_conformance_per_procedure_scoped_to_the_agency(world: World) -> None:
    events = (_case("OWN-A", OWN_AGENCY, WHOLE) + _case("OWN-B", OWN_AGENCY, [s for s in WHOLE if s != "consult"])
              + _case("OTHER-A", OTHER_AGENCY, WHOLE))
    for obj in events:
        assert world.eiso.service.ingest_object(obj, "test").status == "applied"
    body = world.call(Role.admin, "GET", "/reports/conformance", params=MARCH).json()
    [procedure] = body["procedures"]
    assert (procedure["procedure"], procedure["cases"], procedure["conforming"]) == ("9.000001", 3, 2)
    assert procedure["deviations"] == [{"kind": "step_skipped", "step": "consult", "cases": 1}]
    scoped = world.call(Role.leader, "GET", "/reports/conformance", params=MARCH).json()
    [own] = scoped["procedures"]
    assert (own["cases"], own["conforming"], own["conformance_rate"]) == (2, 1, 0.5)
    assert {tuple(v["path"]): v["cases"] for v in own["variants"]} == {
        tuple(WHOLE): 1, tuple(s for s in WHOLE if s != "consult"): 1}
    csv = world.call(Role.leader, "GET", "/reports/conformance", params={**MARCH, "format": "csv"})
    assert csv.status_code == 200 and "9.000001" in csv.text


def test_each_case_with_its_fitness_and_deviations(world: World) -> None:
    skipping = [s for s in WHOLE if s != "consult"]
    for obj in _case("OWN-A", OWN_AGENCY, WHOLE) + _case("OWN-B", OWN_AGENCY, skipping) + _case(
            "OTHER-A", OTHER_AGENCY, WHOLE):
        assert world.eiso.service.ingest_object(obj, "test").status == "applied"
    body = world.call(Role.leader, "GET", "/reports/conformance/cases", params=MARCH).json()
    assert [c["case_id"] for c in body["cases"]] == ["OWN-A", "OWN-B"]  # the other agency's case is not shown
    whole, skipped = body["cases"]
    assert (whole["fitness"], whole["conforming"], whole["deviations"]) == (1.0, True, [])
    assert skipped["steps"] == skipping
    # approve (position 3) came while the parallel branch of consult had not been done
    assert skipped["deviations"] == [{"kind": "step_skipped", "step": "consult", "position": 3}]
    assert skipped["conforming"] is False and skipped["fitness"] < 1
    paged = world.call(Role.admin, "GET", "/reports/conformance/cases", params={**MARCH, "limit": 1, "offset": 2})
    assert [c["case_id"] for c in paged.json()["cases"]] == ["OWN-B"]
