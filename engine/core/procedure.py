"""The procedure as the engine sees it: steps with allowances, inside a statutory limit.

Built from a BPMN file by ``engine.procedures``; pure data, no XML and no I/O here.
All durations are working seconds (one working day = 8 working hours).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from engine.core.agency import EVERY_AGENCY


@dataclass(frozen=True)
class StepDefinition:
    """One BPMN task of a procedure: a unit's part of the work."""

    step_id: str
    name: str
    unit: str | None
    allowance_seconds: int | None
    counted: bool = True
    lane: str | None = None


@dataclass(frozen=True)
class ProcedureDefinition:
    """An executable procedure: its national code, its statutory limit and its steps.

    ``graph`` maps every flow node id (tasks, gateways, events) to the ids it leads to,
    so the engine can tell which steps lie on the path to another.
    """

    code: str
    process_id: str
    name: str
    statutory_limit_seconds: int
    steps: dict[str, StepDefinition]
    graph: dict[str, tuple[str, ...]] = field(default_factory=dict)
    # The BPMN kind of every flow node (``task``, ``exclusiveGateway``, ``startEvent``...), for the
    # conformance model (engine.core.conformance_net); empty for a definition built by hand.
    kinds: dict[str, str] = field(default_factory=dict)

    def step(self, step_id: str) -> StepDefinition | None:
        return self.steps.get(step_id)


@dataclass(frozen=True)
class LoadedProcedure:
    """A parsed, validated procedure file: the definition plus SpiffWorkflow's spec.

    ``spec`` is a ``BpmnProcessSpec`` and ``subprocess_specs`` a dict of them; typed as
    ``Any`` so that this module stays free of the engine library.
    """

    definition: ProcedureDefinition
    spec: Any
    subprocess_specs: dict[str, Any]
    checksum: str
    source: bytes
    scope: str = EVERY_AGENCY  # the agencies of the deployment it came from (engine.core.agency.scope_key)
