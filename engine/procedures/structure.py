"""The shape of one process: which elements the engine can drive, and whether every path ends.

The engine moves a case only on the one-stop-shop's events (a step completed, a supplement
requested...).  Elements that wait for anything else (timers, messages, signals, errors, called
processes) could never be driven, so they are refused rather than left to hang a case.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Iterable
from dataclasses import dataclass, field

from lxml import etree

from engine.procedures.model import (
    CONDITIONAL_GATEWAYS,
    FLOW_NODE_KINDS,
    STEP_KINDS,
    children,
    event_kinds,
    local_name,
)
from engine.procedures.problems import Report

__all__ = ["MAX_FLOW_NODES", "MAX_SEQUENCE_FLOWS", "ProcessShape", "check_structure"]

#: An ISO procedure has a few dozen elements; SpiffWorkflow's parser recurses along each path.
MAX_FLOW_NODES = 200
#: Two flows a node on average: a few dozen steps with their gateways need far fewer.
MAX_SEQUENCE_FLOWS = 2 * MAX_FLOW_NODES

_ONLY_EVENTS = "not supported in an ISO procedure: the engine follows the one-stop-shop's events only"
_FLATTEN = "not supported in an ISO procedure: draw their steps in the main process"
_LOOPS = ("standardLoopCharacteristics", "multiInstanceLoopCharacteristics")
_CONTAINERS = {
    "subProcess": f"sub-processes are {_FLATTEN}",
    "transaction": f"transactions are {_FLATTEN}",
    "adHocSubProcess": f"ad-hoc sub-processes are {_FLATTEN}",
    "callActivity": f"call activities are {_FLATTEN}",
    "complexGateway": "complex gateways are not supported in an ISO procedure: "
    "use exclusive, inclusive or parallel gateways",
    "eventBasedGateway": f"event-based gateways are {_ONLY_EVENTS}",
}


@dataclass
class ProcessShape:
    """Flow nodes (document order) and where each one leads."""

    nodes: dict[str, etree._Element] = field(default_factory=dict)
    graph: dict[str, tuple[str, ...]] = field(default_factory=dict)
    side_edges: dict[str, list[str]] = field(default_factory=dict)  # task -> its boundary events
    detached: set[str] = field(default_factory=set)  # boundary events, event sub-processes...

    def kind(self, node_id: str) -> str:
        return local_name(self.nodes[node_id])


def check_structure(process: etree._Element, report: Report) -> ProcessShape:
    shape = ProcessShape()
    for element in process:
        if local_name(element) in FLOW_NODE_KINDS:
            if element.get("id"):
                shape.nodes[element.get("id")] = element
            else:
                report.add(element, f"{local_name(element)} without an id")
    if len(shape.nodes) > MAX_FLOW_NODES:
        report.exceeds(process, f"the process has {len(shape.nodes)} flow nodes; the limit is {MAX_FLOW_NODES} "
                       "(an ISO procedure is a few dozen steps)")
    outgoing = _read_flows(process, shape, report)
    for node_id, element in shape.nodes.items():
        shape.graph[node_id] = tuple(str(flow.get("targetRef")) for flow in outgoing.get(node_id, []))
        _check_node(element, outgoing.get(node_id, []), shape, report)
    _check_events_present(process, shape, report)
    _check_paths(shape, report)
    return shape


def _read_flows(
    process: etree._Element, shape: ProcessShape, report: Report
) -> dict[str, list[etree._Element]]:
    """Each node's outgoing flows, read once: every later check looks flows up here."""
    outgoing: dict[str, list[etree._Element]] = {}
    flows = children(process, "sequenceFlow")
    if len(flows) > MAX_SEQUENCE_FLOWS:
        report.exceeds(process, f"the process has {len(flows)} sequence flows; the limit is {MAX_SEQUENCE_FLOWS} "
                       "(an ISO procedure is a few dozen steps)")
    for flow in flows:
        source, target = flow.get("sourceRef"), flow.get("targetRef")
        broken = False
        for role, ref in (("sourceRef", source), ("targetRef", target)):
            if not ref:
                report.add(flow, f"sequence flow without a {role}")
                broken = True
            elif ref not in shape.nodes:
                report.add(flow, f"sequence flow {role} {ref!r} is not a flow node of this process")
                broken = True
        if broken:
            continue
        outgoing.setdefault(str(source), []).append(flow)
        conditional = bool(children(flow, "conditionExpression"))
        if conditional and local_name(shape.nodes[str(source)]) not in CONDITIONAL_GATEWAYS:
            report.add(flow, "conditions are only allowed on flows leaving an exclusive or inclusive gateway")
    return outgoing


def _check_node(
    element: etree._Element, outgoing: list[etree._Element], shape: ProcessShape, report: Report
) -> None:
    kind = local_name(element)
    node_id = str(element.get("id"))
    if (kind in STEP_KINDS or kind == "scriptTask") and len(outgoing) > 1:
        report.add(element, f"{len(outgoing)} outgoing sequence flows from one step: "
                   "split the path with a parallel or exclusive gateway")
    if kind in _CONTAINERS:
        message = _CONTAINERS[kind]
        if element.get("triggeredByEvent") == "true":
            message = f"event sub-processes are {_ONLY_EVENTS}"
            shape.detached.add(node_id)
        report.add(element, message)
    if element.get("isForCompensation") == "true":
        report.add(element, f"compensation activities are {_ONLY_EVENTS}")
        shape.detached.add(node_id)
    if any(children(element, loop) for loop in _LOOPS):
        report.add(element, "loops and multi-instance activities are not supported in an ISO procedure: "
                   "each step is done once per pass of the case")
    if kind.endswith("Event"):
        _check_event(element, kind, outgoing, shape, report)
    if kind in CONDITIONAL_GATEWAYS:
        _check_gateway(element, kind, outgoing, report)


def _check_event(
    element: etree._Element, kind: str, outgoing: list[etree._Element], shape: ProcessShape, report: Report
) -> None:
    definitions = event_kinds(element)
    label = "/".join(definitions)
    place = {"startEvent": "start", "intermediateThrowEvent": "intermediate throw"}.get(kind, "")
    if kind == "boundaryEvent":
        shape.detached.add(str(element.get("id")))
        attached = element.get("attachedToRef")
        if attached:
            shape.side_edges.setdefault(attached, []).append(str(element.get("id")))
        report.add(element, f"{label or 'untyped'} boundary events are {_ONLY_EVENTS}")
    elif kind == "intermediateCatchEvent":
        report.add(element, f"{label or 'untyped'} intermediate catch events are {_ONLY_EVENTS}")
    elif kind == "endEvent" and [d for d in definitions if d != "terminate"]:
        report.add(element, f"{label} end events are {_ONLY_EVENTS}")
    elif definitions and kind in ("startEvent", "intermediateThrowEvent"):
        report.add(element, f"{label} {place} events are {_ONLY_EVENTS}")
    if kind == "endEvent" and outgoing:
        report.add(element, "an end event cannot have outgoing sequence flows")


def _check_gateway(
    element: etree._Element, kind: str, outgoing: list[etree._Element], report: Report
) -> None:
    # One pass over the gateway's own flows: nothing here may scan them once per flow (issue 10).
    default = element.get("default")
    if default and not any(flow.get("id") == default for flow in outgoing):
        report.add(element, f"default flow {default!r} is not an outgoing flow of this gateway")
    conditional = False
    for flow in outgoing:
        if children(flow, "conditionExpression"):
            conditional = True
        elif len(outgoing) > 1 and flow.get("id") != default:
            report.add(flow, f"flow leaves {kind} {element.get('id')!r} without a condition "
                       "and is not its default flow")
    if conditional and not default:
        report.add(element, "no default flow: a case whose data matches none of the conditions "
                   "would stop at this gateway", "warning")


def _check_events_present(process: etree._Element, shape: ProcessShape, report: Report) -> None:
    kinds = [shape.kind(node_id) for node_id in shape.nodes]
    if "startEvent" not in kinds:
        report.add(process, "no start event: a procedure starts when the dossier is received")
    if "endEvent" not in kinds:
        report.add(process, "no end event: every path of a procedure must end")


def _check_paths(shape: ProcessShape, report: Report) -> None:
    forward: dict[str, list[str]] = {n: [*shape.graph[n], *shape.side_edges.get(n, [])] for n in shape.nodes}
    starts = [n for n in shape.nodes if shape.kind(n) == "startEvent"]
    reached = _closure(starts, forward)
    dead_ends = {
        n for n in shape.nodes
        if not forward[n] and shape.kind(n) != "endEvent" and n not in shape.detached
    }
    backward: dict[str, list[str]] = {n: [] for n in shape.nodes}
    for source, targets in forward.items():
        for target in targets:
            backward.setdefault(target, []).append(source)
    ends = [n for n in shape.nodes if shape.kind(n) == "endEvent"]
    finishing = _closure([*ends, *dead_ends], backward)
    for node_id, element in shape.nodes.items():
        if node_id in shape.detached:
            continue
        if starts and node_id not in reached:
            report.add(element, "not reachable from a start event")
        if node_id in dead_ends:
            report.add(element, "dead end: no outgoing sequence flow (only an end event may end a path)")
        elif ends and node_id not in finishing:
            report.add(element, "no end event can be reached from here: the path loops forever")


def _closure(seeds: Iterable[str], edges: dict[str, list[str]]) -> set[str]:
    seen: set[str] = set()
    queue = deque(seeds)
    while queue:
        node = queue.popleft()
        if node in seen:
            continue
        seen.add(node)
        queue.extend(edges.get(node, ()))
    return seen
