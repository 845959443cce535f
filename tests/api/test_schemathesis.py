"""Schemathesis against the live OpenAPI document, in process: no server error, nothing outside the schema.

Each operation gets bounded examples of valid (positive) and invalid (negative) requests as
the admin, through the ASGI app, checked for server errors and for status codes, content types,
headers and bodies outside the schema. Schemathesis's own
pytest plugin (``from_fixture``) does not run under pytest 9, so the operations are
parametrized from the route table and each is driven through ``as_strategy``.
"""

from __future__ import annotations

import os
from typing import Any

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from schemathesis import GenerationMode
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from engine.api.app import api_routes
from engine.api.roles import Role
from tests.api.support import World

OPERATIONS = sorted((method, route.path_format) for route in api_routes() for method in route.methods or ())
EXAMPLES = int(os.environ.get("EISO_TEST_SCHEMATHESIS_EXAMPLES", "12"))  # more for a deeper run
# No server error, no response outside the schema. Not "positive data acceptance": business rules (a period of
# at most three years, an action due date not in the past) refuse some requests that the schema allows.
CHECKS = [not_a_server_error, status_code_conformance, content_type_conformance, response_headers_conformance,
          response_schema_conformance]


@pytest.fixture(scope="module")
def api_schema(shared_world: World) -> Any:
    return schemathesis.openapi.from_asgi("/openapi.json", shared_world.client.app)


@pytest.mark.parametrize("mode", [GenerationMode.POSITIVE, GenerationMode.NEGATIVE], ids=["valid", "invalid"])
@pytest.mark.parametrize(("method", "path"), OPERATIONS, ids=[f"{m} {p}" for m, p in OPERATIONS])
def test_operation_conforms_to_the_openapi_document(api_schema: Any, shared_world: World, method: str, path: str,
                                                    mode: GenerationMode) -> None:
    operation = api_schema[path][method]
    if mode is GenerationMode.NEGATIVE and not (operation.path_parameters or operation.query or operation.body):
        pytest.skip("no input to make invalid")
    headers = shared_world.headers(Role.admin)

    @given(case=operation.as_strategy(generation_mode=mode))
    @settings(max_examples=EXAMPLES, deadline=None, derandomize=not os.environ.get("EISO_TEST_SCHEMATHESIS_RANDOM"),
              database=None,
              suppress_health_check=list(HealthCheck))
    def run(case: Any) -> None:
        case.call_and_validate(headers=headers, checks=CHECKS)

    run()
