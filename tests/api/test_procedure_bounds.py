"""Issue 10, items 1 and 9 at the edges: a procedure past a bound is a 422 or exit 1, never a 500.

A step deadline or statutory limit of ``P99999999999999999999D`` used to deploy (then every
``case.received`` answered 500) or answer 500 itself; a 5 MB file of 40,000 gateway flows took
seconds of the API's time. Each is now refused with the problem line ``eiso procedures validate``
prints, and nothing is deployed.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from bench.validation import gateway_fan_out
from engine.api.roles import Role
from engine.procedures.loader import validate_source
from engine.procedures.xml import MAX_SOURCE_BYTES
from tests.api.support import PROCEDURE, World
from tests.api.test_cli_users import eiso

SOURCE = PROCEDURE.read_bytes()
HUGE = "P99999999999999999999D"
DEADLINE = b'<camunda:property name="deadline" value="P2D"/>'
LIMIT = b'<camunda:property name="statutoryLimit" value="P5D"/>'
BOUND = "longer than P1250D (10,000 working hours), the longest time limit or step allowance"


def with_deadline(value: str) -> bytes:
    assert SOURCE.count(DEADLINE) == 1
    return SOURCE.replace(DEADLINE, DEADLINE.replace(b"P2D", value.encode()))


def with_limit(value: str) -> bytes:
    assert SOURCE.count(LIMIT) == 1
    return SOURCE.replace(LIMIT, LIMIT.replace(b"P5D", value.encode()))


CASES = {
    "huge deadline": (with_deadline(HUGE), "appraise", f"deadline: invalid working-time duration {HUGE!r}: {BOUND}"),
    "slow deadline": (with_deadline("P2000000D"), "appraise",
                      f"deadline: invalid working-time duration 'P2000000D': {BOUND}"),
    "huge limit": (with_limit(HUGE), "test_procedure",
                   f"statutoryLimit: invalid working-time duration {HUGE!r}: {BOUND}"),
    "thousands of digits": (with_deadline("P" + "9" * 5000 + "D"), "appraise",
                            "deadline: invalid working-time duration 'P" + "9" * 39 + "...': 5,002 characters "
                            "long; a duration is at most 40 (e.g. P10D, P1DT4H)"),
}


def upload(world: World, source: bytes, name: str) -> Any:
    return world.call(Role.admin, "POST", "/procedures", files={"file": (name, source, "application/xml")})


@pytest.mark.parametrize("case", list(CASES))
def test_post_procedures_answers_422_with_the_problem_line(bare_world: World, case: str) -> None:
    source, element, message = CASES[case]
    response = upload(bare_world, source, "bounds.bpmn")
    assert response.status_code == 422, response.text
    problems = response.json()["problems"]
    assert {"file": "bounds.bpmn", "element_id": element, "message": message, "severity": "error"} in problems
    assert problems == [{"file": p.file, "element_id": p.element_id, "message": p.message, "severity": p.severity}
                        for p in validate_source(source, "bounds.bpmn")]
    assert bare_world.call(Role.admin, "GET", "/procedures").json() == []


def test_the_bound_itself_deploys(bare_world: World) -> None:
    response = upload(bare_world, with_limit("P1250D"), "bounds.bpmn")
    assert response.status_code == 201, response.text


def test_forty_thousand_gateway_flows_are_refused_with_one_line(bare_world: World) -> None:
    source = gateway_fan_out(40_000)
    assert len(source) <= MAX_SOURCE_BYTES
    response = upload(bare_world, source, "fan-out.bpmn")
    assert response.status_code == 422, response.text
    [problem] = response.json()["problems"]
    assert problem["element_id"] is None and problem["message"].startswith("the file has ")
    assert "XML nodes (elements, comments...); the limit is 20,000" in problem["message"]


@pytest.mark.parametrize("case", ["huge deadline", "huge limit"])
@pytest.mark.parametrize("command", ["validate", "deploy"])
def test_the_cli_exits_1_with_the_problem_line(database_url: str, tmp_path: Path, case: str, command: str) -> None:
    source, element, message = CASES[case]
    path = tmp_path / "bounds.bpmn"
    path.write_bytes(source)
    result = eiso(database_url, "procedures", command, str(path))
    assert result.exit_code == 1, result.output
    assert f"{path}: {element}: {message}" in result.output.splitlines()
    assert "Traceback" not in result.output
    listed = eiso(database_url, "procedures", "list", "--format", "json")
    assert listed.exit_code == 0 and listed.stdout.strip() in ("[]", "")
