"""Read a process's procedure properties and steps into a ``ProcedureDefinition``."""

from __future__ import annotations

import re

from lxml import etree

from engine.core.durations import DurationError, parse_working_duration
from engine.core.procedure import ProcedureDefinition, StepDefinition
from engine.procedures.model import STEP_KINDS, local_name
from engine.procedures.problems import Report
from engine.procedures.properties import lane_names, read_properties
from engine.procedures.structure import ProcessShape

__all__ = ["PROCEDURE_CODE", "build_definition"]

#: The national procedure code of the public-services database, e.g. ``1.001806``.
PROCEDURE_CODE = re.compile(r"\d\.\d{6}")


def build_definition(
    process: etree._Element, shape: ProcessShape, report: Report
) -> ProcedureDefinition | None:
    """The definition, or None when a property it cannot do without is missing or malformed."""
    properties = read_properties(process, report)
    code = properties.get("procedureCode", "")
    if not code:
        report.add(process, "missing procedureCode property (the national procedure code, e.g. 1.001806)")
    elif not PROCEDURE_CODE.fullmatch(code):
        report.add(process, f"procedureCode {code!r} does not look like a national procedure code "
                   "(e.g. 1.001806)", "warning")
    limit = _duration(process, properties, "statutoryLimit", report)
    if "statutoryLimit" not in properties:
        report.add(process, "missing statutoryLimit property (the time limit in working time, e.g. P10D)")
    lanes = lane_names(process)
    steps: dict[str, StepDefinition] = {}
    for node_id, element in shape.nodes.items():
        if local_name(element) in STEP_KINDS:
            steps[node_id] = _step(node_id, element, lanes.get(node_id), report)
    if not steps:
        report.add(process, "the process has no steps (tasks)")
    if not code or limit is None:
        return None
    return ProcedureDefinition(
        code=code,
        process_id=str(process.get("id")),
        name=" ".join((process.get("name") or str(process.get("id"))).split()),
        statutory_limit_seconds=limit,
        steps=steps,
        graph=dict(shape.graph),
        kinds={node_id: local_name(element) for node_id, element in shape.nodes.items()},
    )


def _step(node_id: str, element: etree._Element, lane: str | None, report: Report) -> StepDefinition:
    properties = read_properties(element, report)
    counted = True
    if "counted" in properties:
        flag = properties["counted"].lower()
        if flag in ("true", "false"):
            counted = flag == "true"
        else:
            report.add(element, f"counted must be \"true\" or \"false\", not {properties['counted']!r}")
    allowance = _duration(element, properties, "deadline", report)
    if "deadline" not in properties and counted:
        report.add(element, "step has no deadline property (its allowance in working time, e.g. P0.5D "
                   "or PT4H); set counted=false if the step is outside the time limit")
    return StepDefinition(
        step_id=node_id,
        name=" ".join((element.get("name") or node_id).split()),
        unit=properties.get("unit") or lane,
        allowance_seconds=allowance,
        counted=counted,
        lane=lane,
    )


def _duration(element: etree._Element, properties: dict[str, str], name: str, report: Report) -> int | None:
    if name not in properties:
        return None
    try:
        return parse_working_duration(properties[name])
    except DurationError as err:
        found = _beyond_bound(properties[name])
        if found is None:
            report.add(element, f"{name}: {err}")
            return None
        # Only the length is wrong: a version deployed before the bound still loads (the calendar
        # refuses to count past it), a new one is refused.
        report.exceeds(element, f"{name}: {err}")
        return found if report.deployed else None


def _beyond_bound(text: str) -> int | None:
    """The working seconds of ``text`` when it is a well-formed duration, only too long."""
    try:
        return parse_working_duration(text, maximum=None)
    except DurationError:
        return None
