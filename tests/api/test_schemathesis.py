"""Schemathesis against the live OpenAPI document, in process, with every check (``--checks all``).

Each operation gets bounded examples of valid (positive) and invalid (negative) requests as
the admin, through the ASGI app, checked for server errors, for status codes, content types,
headers and bodies outside the schema, for valid requests refused and invalid ones accepted.
Schemathesis's own pytest plugin (``from_fixture``) does not run under pytest 9, so the
operations are parametrized from the route table and each is driven through ``as_strategy``;
its coverage phase (undeclared methods and ``Allow``) cannot be driven that way and is
tests/api/test_openapi_rules.py's.
"""

from __future__ import annotations

import os
from typing import Any

import pytest
import schemathesis
import schemathesis.specs.openapi.checks
from hypothesis import HealthCheck, given, settings
from schemathesis import GenerationMode
from schemathesis.checks import CHECKS
from schemathesis.generation.meta import TestPhase
from schemathesis.openapi.checks import RejectedPositiveData
from schemathesis.specs.openapi.checks import positive_data_acceptance

from engine.api.app import api_routes
from engine.api.roles import Role
from tests.api.support import World

OPERATIONS = sorted((method, route.path_format) for route in api_routes() for method in route.methods or ())
EXAMPLES = int(os.environ.get("EISO_TEST_SCHEMATHESIS_EXAMPLES", "12"))  # more for a deeper run
# Rules across parameters that JSON Schema cannot state (each in the operation's description): a valid
# request that breaks one is refused 422 with this reason, which "positive data acceptance" tolerates.
CROSS_FIELD_RULES = ("a report covers at most", "must be after its start", "is in the past", "section must be one of",
                     "nothing deployed")  # the last: a file's content is checked as BPMN, with every problem listed


def positive_data_acceptance_but_cross_field_rules(ctx: Any, response: Any, case: Any) -> bool | None:
    try:
        return positive_data_acceptance(ctx, response, case)
    except RejectedPositiveData:
        detail = response.json().get("detail", "") if response.status_code == 422 else ""
        if any(rule in detail for rule in CROSS_FIELD_RULES):
            return None
        raise


# Every check schemathesis has (`--checks all`): no server error, nothing outside the schema, valid data
# accepted (but for the rules above), invalid data refused.
ALL_CHECKS = [check for check in CHECKS.get_all() if check is not positive_data_acceptance] + [
    positive_data_acceptance_but_cross_field_rules]


@pytest.fixture(scope="module")
def api_schema(shared_world: World) -> Any:
    schema = schemathesis.openapi.from_asgi("/openapi.json", shared_world.client.app)
    # The admin's token as the configured credentials: negative cases then never count "no Authorization
    # header" as their invalid part while the call sends one.
    schema.config.update(headers=shared_world.headers(Role.admin))
    return schema


# The coverage phase (undeclared methods, missing headers) cannot be driven through ``as_strategy``;
# tests/api/test_openapi_rules.py sends every undeclared method to every operation instead.
PHASES = {"valid": (GenerationMode.POSITIVE, TestPhase.FUZZING),
          "invalid": (GenerationMode.NEGATIVE, TestPhase.FUZZING)}


@pytest.mark.parametrize("phase", list(PHASES))
@pytest.mark.parametrize(("method", "path"), OPERATIONS, ids=[f"{m} {p}" for m, p in OPERATIONS])
def test_operation_conforms_to_the_openapi_document(api_schema: Any, shared_world: World, method: str, path: str,
                                                    phase: str) -> None:
    mode, stage = PHASES[phase]
    operation = api_schema[path][method]
    if mode is GenerationMode.NEGATIVE and not (operation.path_parameters or operation.query or operation.body):
        pytest.skip("no input to make invalid")
    headers = shared_world.headers(Role.admin)

    @given(case=operation.as_strategy(generation_mode=mode, phase=stage))
    @settings(max_examples=EXAMPLES, deadline=None, derandomize=not os.environ.get("EISO_TEST_SCHEMATHESIS_RANDOM"),
              database=None,
              suppress_health_check=list(HealthCheck))
    def run(case: Any) -> None:
        case.call_and_validate(headers=headers, checks=ALL_CHECKS)

    run()
