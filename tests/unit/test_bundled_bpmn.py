"""The bundled procedures in ``bpmn/``: diagram interchange, ISO properties, and a walk in SpiffWorkflow.

Every ``bpmn/*.bpmn`` file must open in Camunda Modeler, bpmn.io and SpiffArena (a shape for every
flow node, lane and pool, an edge for every sequence flow), carry the properties of contract
section 1, contain no code, and run from start to end in SpiffWorkflow with gateway conditions
evaluated by the small condition language below (never by ``eval``).
"""

from __future__ import annotations

import ast
import json
import re
from collections.abc import Iterator
from fractions import Fraction
from pathlib import Path
from typing import Any

import pytest
from lxml import etree
from SpiffWorkflow.bpmn import BpmnWorkflow
from SpiffWorkflow.bpmn.parser.BpmnParser import BpmnParser, BpmnValidator
from SpiffWorkflow.bpmn.script_engine import PythonScriptEngine
from SpiffWorkflow.camunda.parser.CamundaParser import CamundaParser
from SpiffWorkflow.spiff.parser.process import VALIDATOR as SPIFF_VALIDATOR
from SpiffWorkflow.spiff.parser.process import SpiffBpmnParser
from SpiffWorkflow.util.task import TaskState

BPMN_DIR = Path(__file__).resolve().parents[2] / "bpmn"
BPMN_FILES = sorted(BPMN_DIR.glob("*.bpmn"))
TEMPLATE_FILE = BPMN_DIR / "eiso-iso-step.element-template.json"

NS = {
    "bpmn": "http://www.omg.org/spec/BPMN/20100524/MODEL",
    "bpmndi": "http://www.omg.org/spec/BPMN/20100524/DI",
    "dc": "http://www.omg.org/spec/DD/20100524/DC",
    "di": "http://www.omg.org/spec/DD/20100524/DI",
    "camunda": "http://camunda.org/schema/1.0/bpmn",
    "spiffworkflow": "http://spiffworkflow.org/bpmn/schema/1.0/core",
}
TASK_TAGS = {
    "task",
    "userTask",
    "manualTask",
    "serviceTask",
    "sendTask",
    "receiveTask",
    "businessRuleTask",
    "scriptTask",
    "callActivity",
    "subProcess",
}
FLOW_NODE_TAGS = TASK_TAGS | {
    "startEvent",
    "endEvent",
    "intermediateCatchEvent",
    "intermediateThrowEvent",
    "boundaryEvent",
    "exclusiveGateway",
    "parallelGateway",
    "inclusiveGateway",
    "eventBasedGateway",
    "complexGateway",
}
FORBIDDEN_TAGS = {
    "scriptTask",
    "script",
    "timerEventDefinition",
    "messageEventDefinition",
    "signalEventDefinition",
    "executionListener",
    "taskListener",
}
CODE_RE = re.compile(r"^\d\.\d{6}$")
ID_RE = re.compile(r"^[a-z][a-z0-9]*(_[a-z0-9]+)*$")
DURATION_RE = re.compile(
    r"^P(?!$)(?:(?P<d>\d+(?:\.\d+)?)D)?"
    r"(?:T(?=\d)(?:(?P<h>\d+(?:\.\d+)?)H)?(?:(?P<m>\d+(?:\.\d+)?)M)?(?:(?P<s>\d+(?:\.\d+)?)S)?)?$"
)
HOURS_PER_DAY = 8


# --------------------------------------------------------------------------- the condition language


class ConditionError(ValueError):
    """An expression outside the procedure condition language, or a name missing from the case data."""


_COMPARE = {
    ast.Eq: lambda a, b: a == b,
    ast.NotEq: lambda a, b: a != b,
    ast.Lt: lambda a, b: a < b,
    ast.LtE: lambda a, b: a <= b,
    ast.Gt: lambda a, b: a > b,
    ast.GtE: lambda a, b: a >= b,
    ast.In: lambda a, b: a in b,
}
_BOOL_NAMES = {"true": True, "false": False}


def parse_condition(expression: str) -> ast.expr:
    """Parse ``expression`` and check that it only uses the condition language; return its body."""
    try:
        tree = ast.parse(expression.strip(), mode="eval")
    except SyntaxError as exc:
        raise ConditionError(f"not an expression: {expression!r}") from exc
    _check(tree.body)
    return tree.body


def _check(node: ast.AST) -> None:
    if isinstance(node, ast.BoolOp) and isinstance(node.op, ast.And | ast.Or):
        for value in node.values:
            _check(value)
    elif isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.Not):
        _check(node.operand)
    elif isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.USub):
        if not (isinstance(node.operand, ast.Constant) and type(node.operand.value) in (int, float)):
            raise ConditionError("unary minus only applies to a number")
    elif isinstance(node, ast.Compare):
        if not all(type(op) in _COMPARE for op in node.ops):
            raise ConditionError("only == != < <= > >= and in are allowed")
        for operand in (node.left, *node.comparators):
            _check(operand)
    elif isinstance(node, ast.List | ast.Tuple):
        for element in node.elts:
            if not isinstance(element, ast.Constant | ast.UnaryOp):
                raise ConditionError("a list holds literals only")
            _check(element)
    elif isinstance(node, ast.Constant):
        if type(node.value) not in (str, int, float, bool):
            raise ConditionError(f"literal not allowed: {node.value!r}")
    elif not isinstance(node, ast.Name):
        raise ConditionError(f"not allowed in a condition: {type(node).__name__}")


def _eval(node: ast.AST, data: dict[str, Any]) -> Any:
    if isinstance(node, ast.BoolOp):
        if isinstance(node.op, ast.And):
            return all(_eval(value, data) for value in node.values)
        return any(_eval(value, data) for value in node.values)
    if isinstance(node, ast.UnaryOp):
        operand = _eval(node.operand, data)
        return (not operand) if isinstance(node.op, ast.Not) else -operand
    if isinstance(node, ast.Compare):
        left = _eval(node.left, data)
        for op, comparator in zip(node.ops, node.comparators, strict=True):
            right = _eval(comparator, data)
            if not _COMPARE[type(op)](left, right):
                return False
            left = right
        return True
    if isinstance(node, ast.List | ast.Tuple):
        return [_eval(element, data) for element in node.elts]
    if isinstance(node, ast.Constant):
        return node.value
    assert isinstance(node, ast.Name)
    if node.id in data:
        return data[node.id]
    if node.id in _BOOL_NAMES:
        return _BOOL_NAMES[node.id]
    raise ConditionError(f"case data has no {node.id!r}")


def evaluate_condition(expression: str, data: dict[str, Any]) -> Any:
    """Evaluate a gateway condition over case data, safely (no ``eval``)."""
    return _eval(parse_condition(expression), data)


class ConditionEngine(PythonScriptEngine):
    """A script engine that evaluates only the condition language and refuses to run scripts."""

    def evaluate(self, task: Any, expression: str, external_context: Any = None) -> Any:
        return evaluate_condition(expression, dict(task.data))

    def execute(self, task: Any, script: str, external_context: Any = None) -> Any:
        raise AssertionError(f"procedures hold no scripts; {task.task_spec.name} has one")


@pytest.mark.parametrize(
    ("expression", "data", "expected"),
    [
        ("area_m2 > 500", {"area_m2": 650}, True),
        ("area_m2 > 500", {"area_m2": 500}, False),
        ("needs_site_inspection == true", {"needs_site_inspection": True}, True),
        ("needs_site_inspection == True", {"needs_site_inspection": False}, False),
        ("not eligible", {"eligible": False}, True),
        ("kind in ['new', 'renewal'] and fee >= 0", {"kind": "renewal", "fee": 0}, True),
        ('kind in ["new"] or 1 < x <= 3', {"kind": "change", "x": 3}, True),
        ("delta > -1", {"delta": 0}, True),
        ("eligible == false or min_room_area_m2 < 20", {"eligible": True, "min_room_area_m2": 25}, False),
    ],
)
def test_condition_language_evaluates(expression: str, data: dict[str, Any], expected: bool) -> None:
    assert evaluate_condition(expression, data) is expected


@pytest.mark.parametrize(
    "expression",
    [
        "__import__('os').system('true')",
        "data.keys()",
        "x[0] == 1",
        "x + 1 > 2",
        "lambda: 1",
        "[i for i in x]",
        "x is None",
        "x not in [1]",
        "a = 1",
    ],
)
def test_condition_language_refuses(expression: str) -> None:
    with pytest.raises(ConditionError):
        parse_condition(expression)


def test_condition_language_missing_name() -> None:
    with pytest.raises(ConditionError, match="area_m2"):
        evaluate_condition("area_m2 > 500", {})


# --------------------------------------------------------------------------- reading a procedure file


def working_hours(duration: str) -> Fraction:
    """An ISO 8601 duration in working time, as working hours (one day is eight hours)."""
    match = DURATION_RE.match(duration)
    if match is None:
        raise ValueError(f"not a working-time duration: {duration!r}")
    parts = {key: Fraction(value) if value else Fraction(0) for key, value in match.groupdict().items()}
    return parts["d"] * HOURS_PER_DAY + parts["h"] + parts["m"] / 60 + parts["s"] / 3600


def local(el: etree._Element) -> str:
    return etree.QName(el).localname


def properties(el: etree._Element) -> dict[str, str]:
    """``camunda:properties`` or ``spiffworkflow:properties`` of an element, as a dict."""
    found: dict[str, str] = {}
    for prefix in ("camunda", "spiffworkflow"):
        for prop in el.xpath(f"bpmn:extensionElements/{prefix}:properties/{prefix}:property", namespaces=NS):
            found[prop.get("name")] = prop.get("value")
    return found


class Procedure:
    """One bundled BPMN file, read with lxml."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.doc = etree.parse(str(path))
        self.root = self.doc.getroot()
        processes = self.root.findall("bpmn:process", NS)
        assert len(processes) == 1, f"{path.name}: exactly one bpmn:process expected"
        self.process = processes[0]
        self.process_id = self.process.get("id")
        self.props = properties(self.process)
        self.nodes = {el.get("id"): el for el in self.process if local(el) in FLOW_NODE_TAGS}
        self.tasks = {node_id: el for node_id, el in self.nodes.items() if local(el) in TASK_TAGS}
        self.flows = {el.get("id"): el for el in self.process.findall("bpmn:sequenceFlow", NS)}
        self.lanes = {el.get("id"): el for el in self.process.iterfind(".//bpmn:lane", NS)}
        self.successors: dict[str, list[str]] = {node_id: [] for node_id in self.nodes}
        self.predecessors: dict[str, list[str]] = {node_id: [] for node_id in self.nodes}
        for flow in self.flows.values():
            self.successors[flow.get("sourceRef")].append(flow.get("targetRef"))
            self.predecessors[flow.get("targetRef")].append(flow.get("sourceRef"))
        self.shapes = {
            shape.get("bpmnElement"): shape for shape in self.root.iterfind(".//bpmndi:BPMNShape", NS)
        }
        self.edges = {edge.get("bpmnElement"): edge for edge in self.root.iterfind(".//bpmndi:BPMNEdge", NS)}

    @property
    def uses_spiff(self) -> bool:
        return bool(self.root.xpath("//spiffworkflow:properties", namespaces=NS))

    def of_kind(self, *tags: str) -> list[str]:
        return [node_id for node_id, el in self.nodes.items() if local(el) in tags]

    def bounds(self, element_id: str) -> tuple[float, float, float, float]:
        b = self.shapes[element_id].find("dc:Bounds", NS)
        return tuple(float(b.get(key)) for key in ("x", "y", "width", "height"))  # type: ignore[return-value]

    def allowance(self, node_id: str) -> Fraction:
        """Counted allowance of a flow node in working hours (zero for events, gateways, uncounted steps)."""
        if node_id not in self.tasks:
            return Fraction(0)
        props = properties(self.tasks[node_id])
        if props.get("counted") == "false":
            return Fraction(0)
        return working_hours(props["deadline"])

    def paths(self) -> Iterator[list[str]]:
        """Every simple path from a start event to an end event."""
        stack = [[start] for start in self.of_kind("startEvent")]
        while stack:
            path = stack.pop()
            if not self.successors[path[-1]]:
                yield path
            for nxt in self.successors[path[-1]]:
                if nxt not in path:
                    stack.append([*path, nxt])

    def reachable(self, starts: list[str], graph: dict[str, list[str]]) -> set[str]:
        seen, todo = set(starts), list(starts)
        while todo:
            for nxt in graph[todo.pop()]:
                if nxt not in seen:
                    seen.add(nxt)
                    todo.append(nxt)
        return seen


@pytest.fixture(params=BPMN_FILES, ids=lambda path: path.name)
def procedure(request: pytest.FixtureRequest) -> Procedure:
    return Procedure(request.param)


def test_bundled_files_exist() -> None:
    assert len(BPMN_FILES) >= 4


# --------------------------------------------------------------------------- diagram interchange


def test_every_element_has_a_shape_or_edge(procedure: Procedure) -> None:
    participants = procedure.root.findall("bpmn:collaboration/bpmn:participant", NS)
    assert [p.get("processRef") for p in participants] == [procedure.process_id]
    plane = procedure.root.find("bpmndi:BPMNDiagram/bpmndi:BPMNPlane", NS)
    assert plane.get("bpmnElement") == procedure.root.find("bpmn:collaboration", NS).get("id")
    for element_id in [participants[0].get("id"), *procedure.lanes]:
        assert element_id in procedure.shapes, f"no BPMNShape for {element_id}"
        assert procedure.shapes[element_id].get("isHorizontal") == "true"
    for node_id in procedure.nodes:
        assert node_id in procedure.shapes, f"no BPMNShape for {node_id}"
    for flow_id in procedure.flows:
        assert flow_id in procedure.edges, f"no BPMNEdge for {flow_id}"
        assert len(procedure.edges[flow_id].findall("di:waypoint", NS)) >= 2


def _inside(inner: tuple[float, ...], outer: tuple[float, ...]) -> bool:
    x, y, w, h = inner
    ox, oy, ow, oh = outer
    return ox <= x and oy <= y and x + w <= ox + ow and y + h <= oy + oh


def _touches(point: tuple[float, float], box: tuple[float, ...], slack: float = 1) -> bool:
    x, y, w, h = box
    return x - slack <= point[0] <= x + w + slack and y - slack <= point[1] <= y + h + slack


def test_layout_is_coherent(procedure: Procedure) -> None:
    pool = procedure.root.find("bpmn:collaboration/bpmn:participant", NS).get("id")
    lane_of = {}
    for lane_id, lane in procedure.lanes.items():
        assert _inside(procedure.bounds(lane_id), procedure.bounds(pool)), lane_id
        for ref in lane.findall("bpmn:flowNodeRef", NS):
            assert ref.text not in lane_of, f"{ref.text} is in two lanes"
            lane_of[ref.text] = lane_id
    assert set(lane_of) == set(procedure.nodes), "every flow node belongs to exactly one lane"
    for node_id, lane_id in lane_of.items():
        assert _inside(procedure.bounds(node_id), procedure.bounds(lane_id)), f"{node_id} outside {lane_id}"
    boxes = sorted((procedure.bounds(node_id), node_id) for node_id in procedure.nodes)
    for i, (a, a_id) in enumerate(boxes):
        for b, b_id in boxes[i + 1 :]:
            overlap = a[0] < b[0] + b[2] and b[0] < a[0] + a[2] and a[1] < b[1] + b[3] and b[1] < a[1] + a[3]
            assert not overlap, f"{a_id} overlaps {b_id}"
    for flow_id, flow in procedure.flows.items():
        points = [
            (float(wp.get("x")), float(wp.get("y")))
            for wp in procedure.edges[flow_id].findall("di:waypoint", NS)
        ]
        source, target = procedure.bounds(flow.get("sourceRef")), procedure.bounds(flow.get("targetRef"))
        assert _touches(points[0], source) and _touches(points[-1], target), f"{flow_id} is detached"
        assert target[0] > source[0], f"{flow_id} runs right to left"


# --------------------------------------------------------------------------- contract section 1


def test_process_is_executable_with_code_and_limit(procedure: Procedure) -> None:
    assert procedure.process.get("isExecutable") == "true"
    assert procedure.process.get("name")
    code = procedure.props.get("procedureCode", "")
    assert CODE_RE.match(code), f"procedureCode {code!r}"
    assert procedure.path.name.startswith(f"{code}-"), "file names start with the procedure code"
    assert working_hours(procedure.props["statutoryLimit"]) > 0


def test_every_task_has_deadline_and_unit(procedure: Procedure) -> None:
    assert procedure.tasks
    for task_id, task in procedure.tasks.items():
        assert ID_RE.match(task_id), f"{task_id} is not ASCII snake_case"
        assert task.get("name"), f"{task_id} has no name"
        props = properties(task)
        assert props.get("counted", "true") in ("true", "false"), f"{task_id}: counted={props['counted']!r}"
        if props.get("counted") != "false":
            assert "deadline" in props, f"{task_id} has no deadline"
        if "deadline" in props:
            assert working_hours(props["deadline"]) > 0, f"{task_id}: deadline {props['deadline']!r}"
        assert props.get("unit"), f"{task_id} has no unit"
    for lane_id, lane in procedure.lanes.items():
        assert ID_RE.match(lane_id) and lane.get("name"), lane_id


def test_result_is_returned_outside_the_limit(procedure: Procedure) -> None:
    uncounted = [t for t, el in procedure.tasks.items() if properties(el).get("counted") == "false"]
    assert uncounted, "returning the result is a step outside the time limit"
    for task_id in uncounted:
        assert all(local(procedure.nodes[n]) == "endEvent" for n in procedure.successors[task_id])


def test_no_code_in_procedures(procedure: Procedure) -> None:
    for el in procedure.root.iter():
        if isinstance(el.tag, str):
            assert local(el) not in FORBIDDEN_TAGS, f"{local(el)} {el.get('id')!r} is not allowed"


def test_gateways_have_defaults_and_valid_conditions(procedure: Procedure) -> None:
    for flow_id, flow in procedure.flows.items():
        condition = flow.find("bpmn:conditionExpression", NS)
        source = procedure.nodes[flow.get("sourceRef")]
        if condition is not None:
            assert local(source) == "exclusiveGateway", f"{flow_id}: conditions only after exclusive gateways"
            parse_condition(condition.text or "")
    for gateway_id in procedure.of_kind("exclusiveGateway", "inclusiveGateway"):
        gateway = procedure.nodes[gateway_id]
        outgoing = [f for f in procedure.flows.values() if f.get("sourceRef") == gateway_id]
        if len(outgoing) < 2:
            continue
        default = gateway.get("default")
        assert default in {f.get("id") for f in outgoing}, f"{gateway_id} needs a default flow"
        for flow in outgoing:
            has_condition = flow.find("bpmn:conditionExpression", NS) is not None
            assert has_condition != (flow.get("id") == default), f"{flow.get('id')}: condition xor default"


def test_every_task_lies_between_start_and_end(procedure: Procedure) -> None:
    starts = procedure.of_kind("startEvent")
    ends = procedure.of_kind("endEvent")
    assert len(starts) == 1 and ends
    from_start = procedure.reachable(starts, procedure.successors)
    to_end = procedure.reachable(ends, procedure.predecessors)
    for node_id in procedure.nodes:
        assert node_id in from_start, f"{node_id} is unreachable from the start"
        assert node_id in to_end, f"{node_id} never reaches an end"


def test_allowances_fit_the_statutory_limit(procedure: Procedure) -> None:
    limit = working_hours(procedure.props["statutoryLimit"])
    sums = [sum((procedure.allowance(n) for n in path), Fraction(0)) for path in procedure.paths()]
    assert sums
    assert max(sums) <= limit, f"a path needs {max(sums)} h, the limit is {limit} h"
    assert max(sums) >= limit * Fraction(9, 10), f"the longest path uses only {max(sums)} of {limit} h"


def test_properties_read_by_spiffworkflow(procedure: Procedure) -> None:
    """SpiffWorkflow's own dialect parser sees the same properties.

    The Camunda parser puts ``camunda:property`` pairs straight into ``extensions``; the Spiff parser
    puts ``spiffworkflow:property`` pairs under ``extensions["properties"]``.
    """
    parser = _dialect_parser(procedure)
    parser.add_bpmn_file(str(procedure.path))
    spec = parser.get_spec(procedure.process_id)
    for task_id, task in procedure.tasks.items():
        extensions = spec.task_specs[task_id].extensions
        seen = extensions.get("properties") if procedure.uses_spiff else extensions
        assert seen == properties(task), task_id


def test_cao_bang_procedure_matches_the_decision() -> None:
    procedure = Procedure(next(BPMN_DIR.glob("1.001806-*.bpmn")))
    assert procedure.props["statutoryLimit"] == "P10D"
    steps = {task_id: properties(el) for task_id, el in procedure.tasks.items()}
    assert {t: p.get("deadline") for t, p in steps.items()} == {
        "receive_dossier": "P0.5D",
        "assign": "P0.5D",
        "appraise": "P7D",
        "review": "P0.5D",
        "approve": "P1D",
        "register_result": "P0.5D",
        "return_result": None,
    }
    assert steps["return_result"]["counted"] == "false"


def test_bundle_covers_the_required_shapes() -> None:
    procedures = [Procedure(path) for path in BPMN_FILES]
    assert any(p.uses_spiff for p in procedures), "one file uses spiffworkflow:properties"
    assert any(not p.uses_spiff for p in procedures), "one file uses camunda:properties"
    assert any(p.of_kind("exclusiveGateway") for p in procedures)
    assert any(len(p.of_kind("parallelGateway")) >= 2 for p in procedures)
    assert any(
        any(
            DURATION_RE.match(properties(t).get("deadline", "")) and "H" in properties(t).get("deadline", "")
            for t in p.tasks.values()
        )
        for p in procedures
    ), "one procedure counts in working hours"


# --------------------------------------------------------------------------- SpiffWorkflow


def _dialect_parser(procedure: Procedure) -> BpmnParser:
    if procedure.uses_spiff:
        return SpiffBpmnParser(validator=SPIFF_VALIDATOR)
    return CamundaParser(validator=BpmnValidator())


@pytest.mark.parametrize("parser_kind", ["generic", "dialect"])
def test_spiffworkflow_parses(procedure: Procedure, parser_kind: str) -> None:
    parser = BpmnParser() if parser_kind == "generic" else _dialect_parser(procedure)
    parser.add_bpmn_file(str(procedure.path))
    assert parser.get_process_ids() == [procedure.process_id]
    spec = parser.get_spec(procedure.process_id)
    assert set(procedure.tasks) <= set(spec.task_specs)
    for task_id in procedure.tasks:
        assert spec.task_specs[task_id].lane, f"{task_id} has no lane in the spec"


# Case data for each procedure, one scenario per route: (data, steps that must run, steps that must not).
SCENARIOS: dict[str, list[tuple[dict[str, Any], set[str], set[str]]]] = {
    "1.001029": [
        (
            {"eligible": True, "min_room_area_m2": 24.5},
            {"review", "approve", "register_result"},
            {"sign_refusal"},
        ),
        (
            {"eligible": True, "min_room_area_m2": 18},
            {"sign_refusal", "register_result"},
            {"review", "approve"},
        ),
        ({"eligible": False, "min_room_area_m2": 30}, {"sign_refusal"}, {"review", "approve"}),
    ],
    "1.009972": [
        (
            {"needs_site_inspection": False, "total_floor_area_m2": 420},
            {"appraise", "consult_police", "draft_permit", "approve"},
            {"inspect_site"},
        ),
        (
            {"needs_site_inspection": True, "total_floor_area_m2": 420},
            {"inspect_site", "consult_police"},
            set(),
        ),
        ({"needs_site_inspection": False, "total_floor_area_m2": 1800}, {"inspect_site"}, set()),
    ],
}


def walk(procedure: Procedure, data: dict[str, Any]) -> list[str]:
    """Run the procedure in SpiffWorkflow, completing every ready task with ``data``; return the steps run."""
    parser = _dialect_parser(procedure)
    parser.add_bpmn_file(str(procedure.path))
    spec = parser.get_spec(procedure.process_id)
    subprocesses = parser.get_subprocess_specs(procedure.process_id)
    workflow = BpmnWorkflow(spec, subprocesses, script_engine=ConditionEngine())
    workflow.do_engine_steps()
    done: list[str] = []
    for _ in range(10 * len(procedure.nodes)):
        if workflow.is_completed():
            break
        ready = workflow.get_tasks(state=TaskState.READY)
        assert ready, f"stuck after {done}"
        for task in ready:
            task.data.update(data)
            task.run()
            done.append(task.task_spec.name)
        workflow.do_engine_steps()
    assert workflow.is_completed(), f"not completed after {done}"
    return done


def test_walk_through_spiffworkflow(procedure: Procedure) -> None:
    code = procedure.props["procedureCode"]
    scenarios = SCENARIOS.get(code, [({}, set(procedure.tasks), set())])
    for data, must_run, must_not_run in scenarios:
        done = walk(procedure, data)
        assert len(done) == len(set(done)), f"a step ran twice: {done}"
        assert must_run <= set(done), f"{data}: missing {must_run - set(done)}"
        assert not must_not_run & set(done), f"{data}: ran {must_not_run & set(done)}"
        assert properties(procedure.tasks[done[-1]]).get("counted") == "false", "ends by returning the result"
        if procedure.of_kind("exclusiveGateway"):
            assert code in SCENARIOS, f"{code} has gateways: add its scenarios to SCENARIOS"


# --------------------------------------------------------------------------- the element template


def test_element_template() -> None:
    templates = {t["name"]: t for t in json.loads(TEMPLATE_FILE.read_text(encoding="utf-8"))}
    assert set(templates) == {"ISO step", "ISO procedure"}
    for template in templates.values():
        assert template["$schema"].endswith("/element-templates-json-schema/resources/schema.json")
        assert template["id"] and all(":" in t for t in template["appliesTo"])
        for prop in template["properties"]:
            assert prop["binding"]["type"] == "camunda:property"
            assert prop["type"] in ("String", "Hidden", "Dropdown")
    step = {p["binding"]["name"]: p for p in templates["ISO step"]["properties"]}
    assert set(step) == {"deadline", "unit", "counted"}
    assert {"bpmn:Task", "bpmn:UserTask", "bpmn:ManualTask"} <= set(templates["ISO step"]["appliesTo"])
    assert {c["value"] for c in step["counted"]["choices"]} == {"true", "false"}
    assert step["deadline"]["constraints"]["notEmpty"] is True
    procedure = {p["binding"]["name"]: p for p in templates["ISO procedure"]["properties"]}
    assert set(procedure) == {"procedureCode", "statutoryLimit"}
    assert templates["ISO procedure"]["appliesTo"] == ["bpmn:Process"]

    # The modeller checks input with the same patterns (JavaScript syntax, compatible here).
    duration = re.compile(step["deadline"]["constraints"]["pattern"]["value"])
    code = re.compile(procedure["procedureCode"]["constraints"]["pattern"]["value"])
    for good in ("P0.5D", "P7D", "PT4H", "PT20H", "P1DT4H", "P0.25D", "PT30M"):
        assert duration.match(good), good
    for bad in ("P", "PT", "P1.5", "10D", "7 ngày", "P1W", "P1DT", "0.5D"):
        assert not duration.match(bad), bad
    for path in BPMN_FILES:
        proc = Procedure(path)
        assert code.match(proc.props["procedureCode"])
        assert duration.match(proc.props["statutoryLimit"])
        for task in proc.tasks.values():
            if "deadline" in properties(task):
                assert duration.match(properties(task)["deadline"]), path.name
