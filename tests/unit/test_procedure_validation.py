"""Reading BPMN files into procedures: every kind of problem, one line each, naming the element."""

from __future__ import annotations

import importlib
import itertools
import re
import time
from pathlib import Path
from typing import Any

import pytest
from SpiffWorkflow.bpmn import BpmnWorkflow
from SpiffWorkflow.bpmn.exceptions import WorkflowTaskException
from SpiffWorkflow.util.task import TaskState

from engine.procedures.loader import (
    Problem,
    ProcedureInvalid,
    load_procedure,
    validate_paths,
    validate_source,
)
from engine.procedures.script_engine import SafeScriptEngine

REPO = Path(__file__).resolve().parents[2]
BUNDLED = sorted((REPO / "bpmn").glob("*.bpmn"))
CORPUS = REPO.parent / "shared" / "corpus" / "bpmn"
CORPUS_FILES = sorted(CORPUS.glob("*.bpmn")) if CORPUS.is_dir() else []

NS = {
    "camunda": "http://camunda.org/schema/1.0/bpmn",
    "spiffworkflow": "http://spiffworkflow.org/bpmn/schema/1.0/core",
}


# --------------------------------------------------------------------------- building small files


def props(ns: str = "camunda", **values: str | None) -> str:
    items = "".join(f'<{ns}:property name="{k}" value="{v}"/>' for k, v in values.items())
    return f"<bpmn:extensionElements><{ns}:properties>{items}</{ns}:properties></bpmn:extensionElements>"


def step(
    step_id: str, kind: str = "userTask", ns: str = "camunda", inner: str = "", **values: str | None
) -> str:
    values.setdefault("deadline", "P1D")
    values = {k: v for k, v in values.items() if v is not None}
    return f'<bpmn:{kind} id="{step_id}" name="Step {step_id}">{props(ns, **values)}{inner}</bpmn:{kind}>'


def flow(source: str, target: str, condition: str | None = None, flow_id: str | None = None,
         language: str | None = None) -> str:
    flow_id = flow_id or f"f_{source}_{target}"
    body = ""
    if condition is not None:
        lang = f' language="{language}"' if language else ""
        body = (f'<bpmn:conditionExpression xsi:type="bpmn:tFormalExpression"{lang}>'
                f"{condition}</bpmn:conditionExpression>")
    return (f'<bpmn:sequenceFlow id="{flow_id}" sourceRef="{source}" targetRef="{target}">'
            f"{body}</bpmn:sequenceFlow>")


def chain(*ids: str) -> str:
    """start -> ids... -> end, with default user tasks for ids that are not drawn elsewhere."""
    nodes = ["start", *ids, "end"]
    return ("".join(flow(a, b) for a, b in itertools.pairwise(nodes))
            + '<bpmn:startEvent id="start"/><bpmn:endEvent id="end"/>')


def process(body: str, pid: str = "proc", executable: str | None = "true", ns: str = "camunda",
            name: str = "Test procedure", **values: str | None) -> str:
    values.setdefault("procedureCode", "1.001806")
    values.setdefault("statutoryLimit", "P2D")
    values = {k: v for k, v in values.items() if v is not None}
    flag = f' isExecutable="{executable}"' if executable is not None else ""
    return f'<bpmn:process id="{pid}" name="{name}"{flag}>{props(ns, **values)}{body}</bpmn:process>'


def document(*parts: str) -> bytes:
    return (
        '<?xml version="1.0" encoding="UTF-8"?>\n'
        '<bpmn:definitions xmlns:bpmn="http://www.omg.org/spec/BPMN/20100524/MODEL" '
        'xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance" '
        f'xmlns:camunda="{NS["camunda"]}" xmlns:spiffworkflow="{NS["spiffworkflow"]}" '
        'id="defs" targetNamespace="https://eiso.example/test">' + "".join(parts) + "</bpmn:definitions>"
    ).encode()


def simple(**values: Any) -> bytes:
    return document(process(step("a") + step("b") + chain("a", "b"), **values))


def problems_of(source: bytes) -> list[Problem]:
    return validate_source(source, "t.bpmn")


def errors_of(source: bytes) -> list[tuple[str | None, str]]:
    return [(p.element_id, p.message) for p in problems_of(source) if p.severity == "error"]


def assert_error(source: bytes, element_id: str | None, fragment: str) -> None:
    found = errors_of(source)
    assert any(eid == element_id and fragment in message for eid, message in found), found
    with pytest.raises(ProcedureInvalid):
        load_procedure(source, "t.bpmn")


# --------------------------------------------------------------------------- a valid procedure


def test_a_valid_procedure_loads() -> None:
    source = simple()
    assert problems_of(source) == []
    loaded = load_procedure(source, "t.bpmn")
    definition = loaded.definition
    assert definition.code == "1.001806"
    assert definition.process_id == "proc"
    assert definition.name == "Test procedure"
    assert definition.statutory_limit_seconds == 2 * 8 * 3600
    assert list(definition.steps) == ["a", "b"]
    assert definition.steps["a"].allowance_seconds == 8 * 3600
    assert definition.steps["a"].name == "Step a"
    assert definition.steps["a"].counted is True
    assert definition.graph == {"a": ("b",), "b": ("end",), "start": ("a",), "end": ()}
    assert re.fullmatch(r"[0-9a-f]{64}", loaded.checksum)
    assert loaded.source == source
    assert loaded.subprocess_specs == {}


def test_the_workflow_runs_with_the_safe_engine_and_waits_on_every_step() -> None:
    source = document(process(
        step("a", kind="serviceTask") + step("b", kind="sendTask") + step("c", kind="receiveTask")
        + step("d", kind="businessRuleTask") + step("e", kind="task") + step("f", kind="manualTask")
        + chain("a", "b", "c", "d", "e", "f")
    ))
    loaded = load_procedure(source, "t.bpmn")
    workflow = BpmnWorkflow(loaded.spec, loaded.subprocess_specs, script_engine=SafeScriptEngine())
    done = []
    workflow.do_engine_steps()
    while not workflow.is_completed():
        ready = workflow.get_tasks(state=TaskState.READY)
        assert len(ready) == 1, "every step waits for the one-stop-shop"
        done.append(ready[0].task_spec.name)
        ready[0].run()
        workflow.do_engine_steps()
    assert done == ["a", "b", "c", "d", "e", "f"]


def gateway_procedure(default: bool = True, condition: str = "area_m2 &gt; 500") -> bytes:
    default_attr = ' default="f_gw_small"' if default else ""
    body = (
        step("a") + step("big") + step("small")
        + f'<bpmn:exclusiveGateway id="gw"{default_attr}/><bpmn:exclusiveGateway id="merge"/>'
        + '<bpmn:startEvent id="start"/><bpmn:endEvent id="end"/>'
        + flow("start", "a") + flow("a", "gw") + flow("gw", "big", condition) + flow("gw", "small")
        + flow("big", "merge") + flow("small", "merge") + flow("merge", "end")
    )
    return document(process(body))


@pytest.mark.parametrize(
    ("data", "path"), [({"area_m2": 650}, "big"), ({"area_m2": 100}, "small"), ({}, "small")]
)
def test_gateway_conditions_use_the_safe_language(data: dict[str, int], path: str) -> None:
    loaded = load_procedure(gateway_procedure(), "t.bpmn")
    assert loaded.definition.graph["gw"] == ("big", "small")
    workflow = BpmnWorkflow(loaded.spec, loaded.subprocess_specs, script_engine=SafeScriptEngine())
    workflow.do_engine_steps()
    [first] = workflow.get_tasks(state=TaskState.READY)
    first.data.update(data)
    first.run()
    workflow.do_engine_steps()
    assert [t.task_spec.name for t in workflow.get_tasks(state=TaskState.READY)] == [path]


def test_camunda_style_condition_is_accepted() -> None:
    assert errors_of(gateway_procedure(condition="${area_m2 &gt; 500 &amp;&amp; !exempt}")) == []


def test_the_safe_engine_never_executes() -> None:
    engine = SafeScriptEngine()
    loaded = load_procedure(simple(), "t.bpmn")
    workflow = BpmnWorkflow(loaded.spec, loaded.subprocess_specs, script_engine=engine)
    task = workflow.get_tasks()[0]
    with pytest.raises(WorkflowTaskException, match="never executed"):
        engine.execute(task, "import os")
    with pytest.raises(WorkflowTaskException, match="never executed"):
        engine.call_service(task, operation_name="x")
    with pytest.raises(WorkflowTaskException, match="function calls are not allowed"):
        engine.evaluate(task, "__import__('os').system('id')")
    with pytest.raises(ValueError, match="function calls"):
        engine.validate("open('/etc/passwd')")
    with pytest.raises(RuntimeError, match="never executed"):
        engine.environment.execute("x = 1", {})
    task.data["x"] = 3
    assert engine.evaluate(task, "x > 2") is True
    assert engine.environment.evaluate("y == 1", {"y": 1}) is True


# --------------------------------------------------------------------------- properties


def test_spiffworkflow_properties_are_read() -> None:
    body = (step("a", ns="spiffworkflow", deadline="PT4H", unit="One-stop unit")
            + step("b", ns="spiffworkflow"))
    source = document(process(body + chain("a", "b"), ns="spiffworkflow", statutoryLimit="P1D"))
    loaded = load_procedure(source, "t.bpmn")
    assert loaded.definition.statutory_limit_seconds == 8 * 3600
    assert loaded.definition.steps["a"].allowance_seconds == 4 * 3600
    assert loaded.definition.steps["a"].unit == "One-stop unit"


def test_unit_falls_back_to_the_lane() -> None:
    lanes = ('<bpmn:laneSet id="ls"><bpmn:lane id="lane1" name="Bộ phận  Một cửa">'
             "<bpmn:flowNodeRef>start</bpmn:flowNodeRef><bpmn:flowNodeRef>a</bpmn:flowNodeRef></bpmn:lane>"
             '<bpmn:lane id="lane2" name="Lãnh đạo"><bpmn:flowNodeRef>b</bpmn:flowNodeRef></bpmn:lane>'
             "</bpmn:laneSet>")
    body = lanes + step("a") + step("b", unit="Văn phòng") + step("c") + chain("a", "b", "c")
    steps = load_procedure(document(process(body)), "t.bpmn").definition.steps
    assert (steps["a"].unit, steps["a"].lane) == ("Bộ phận Một cửa", "Bộ phận Một cửa")
    assert (steps["b"].unit, steps["b"].lane) == ("Văn phòng", "Lãnh đạo")
    assert (steps["c"].unit, steps["c"].lane) == (None, None)


def test_counted_false_needs_no_deadline() -> None:
    body = step("a") + step("return", deadline=None, counted="false") + chain("a", "return")
    steps = load_procedure(document(process(body)), "t.bpmn").definition.steps
    assert steps["return"].counted is False
    assert steps["return"].allowance_seconds is None


def test_counted_must_be_true_or_false() -> None:
    source = document(process(step("a", counted="no") + chain("a")))
    assert_error(source, "a", 'counted must be "true" or "false", not \'no\'')


def test_step_without_deadline() -> None:
    source = document(process(step("a", deadline=None) + chain("a")))
    assert_error(source, "a", "step has no deadline property")


def test_malformed_deadline_gives_the_duration_message() -> None:
    source = document(process(step("a", deadline="P1M") + chain("a")))
    assert_error(source, "a",
                 "deadline: invalid working-time duration 'P1M': months and years are not working time")


def test_missing_procedure_code() -> None:
    assert_error(simple(procedureCode=None), "proc", "missing procedureCode property")


def test_odd_procedure_code_is_only_a_warning() -> None:
    problems = problems_of(simple(procedureCode="TTHC-42"))
    assert [(p.element_id, p.severity) for p in problems] == [("proc", "warning")]
    assert "does not look like a national procedure code" in problems[0].message
    assert str(problems[0]).startswith("t.bpmn: proc: warning: procedureCode 'TTHC-42'")
    assert load_procedure(simple(procedureCode="TTHC-42"), "t.bpmn").definition.code == "TTHC-42"


def test_missing_statutory_limit() -> None:
    assert_error(simple(statutoryLimit=None), "proc", "missing statutoryLimit property")


def test_malformed_statutory_limit() -> None:
    assert_error(simple(statutoryLimit="10 days"), "proc",
                 "statutoryLimit: invalid working-time duration '10 days'")


def test_property_given_twice_with_different_values() -> None:
    inner = '<bpmn:extensionElements><camunda:properties><camunda:property name="deadline" value="P2D"/>' \
            "</camunda:properties></bpmn:extensionElements>"
    task = step("a").replace("</bpmn:userTask>", "") + inner + "</bpmn:userTask>"
    source = document(process(task + chain("a")))
    assert_error(source, "a", "property 'deadline' is given twice")


# --------------------------------------------------------------------------- processes


def test_not_executable() -> None:
    source = document(process(step("a") + chain("a"), executable="false"))
    assert_error(source, "proc", "no executable process: process 'proc' has isExecutable=false")


def test_is_executable_missing() -> None:
    source = document(process(step("a") + chain("a"), executable=None))
    assert_error(source, "proc", "no executable process: process 'proc' has no isExecutable attribute")


def test_non_executable_processes_are_still_checked() -> None:
    source = document(process(step("a", deadline="P1Y") + chain("a"), executable="false"))
    assert ("a", "deadline: invalid working-time duration 'P1Y': months and years are not working time; "
            "use days (P22D) or weeks (P4W)") in errors_of(source)


def test_two_executable_processes() -> None:
    source = document(process(step("a") + chain("a")),
                      process(step("b") + chain("b").replace('"start"', '"start2"').replace('"end"', '"end2"')
                              .replace("f_start_", "f_start2_").replace("_end", "_end2"), pid="other"))
    assert_error(source, "other", "more than one executable process: 'other' as well as 'proc'")


def test_other_non_executable_pool_is_a_warning() -> None:
    pool = '<bpmn:process id="applicant" isExecutable="false"/>'
    source = document(pool, process(step("a") + chain("a")))
    problems = problems_of(source)
    assert [(p.element_id, p.severity) for p in problems] == [("applicant", "warning")]
    assert load_procedure(source, "t.bpmn").definition.process_id == "proc"


def test_no_process_at_all() -> None:
    assert_error(document(), "defs", "no process in the file")


def test_duplicate_ids() -> None:
    source = document(process(step("a") + step("a", deadline="P2D") + chain("a")))
    assert_error(source, "a", "duplicate id 'a': also used by bpmn:userTask on line")


def test_duplicate_ids_anywhere_in_the_document() -> None:
    di = ('<bpmndi:BPMNDiagram xmlns:bpmndi="http://www.omg.org/spec/BPMN/20100524/DI" id="a">'
          '<bpmndi:BPMNPlane id="plane" bpmnElement="proc"/></bpmndi:BPMNDiagram>')
    source = document(process(step("a") + chain("a")), di)
    assert_error(source, "a", "duplicate id 'a'")


# --------------------------------------------------------------------------- code is refused


CODE_CASES = [
    ('<bpmn:scriptTask id="s" scriptFormat="python"><bpmn:script>import os</bpmn:script></bpmn:scriptTask>',
     "s", "script tasks are not allowed: procedures are data, never code"),
    ('<bpmn:userTask id="s"><bpmn:extensionElements><camunda:inputOutput><camunda:inputParameter name="x">'
     '<camunda:script scriptFormat="groovy">1</camunda:script></camunda:inputParameter></camunda:inputOutput>'
     "</bpmn:extensionElements></bpmn:userTask>", "s", "camunda:script is not allowed"),
    ('<bpmn:userTask id="s"><bpmn:extensionElements><camunda:executionListener event="start">'
     '<camunda:script scriptFormat="javascript">x</camunda:script></camunda:executionListener>'
     "</bpmn:extensionElements></bpmn:userTask>", "s",
     "camunda:executionListener is not allowed: listeners run code"),
    ('<bpmn:userTask id="s"><bpmn:extensionElements><camunda:taskListener event="create" class="a.B"/>'
     "</bpmn:extensionElements></bpmn:userTask>", "s", "camunda:taskListener is not allowed"),
    ('<bpmn:serviceTask id="s" camunda:class="org.example.Delegate"/>', "s",
     "camunda:class on bpmn:serviceTask is not allowed: service implementations are code"),
    ('<bpmn:serviceTask id="s" camunda:expression="${bean.run()}"/>', "s",
     "camunda:expression on bpmn:serviceTask"),
    ('<bpmn:serviceTask id="s" camunda:delegateExpression="${bean}"/>', "s", "camunda:delegateExpression on"),
    ('<bpmn:userTask id="s"><bpmn:extensionElements>'
     "<spiffworkflow:preScript>import os</spiffworkflow:preScript>"
     "</bpmn:extensionElements></bpmn:userTask>", "s", "spiffworkflow:preScript is not allowed"),
    ('<bpmn:userTask id="s"><bpmn:extensionElements><spiffworkflow:postScript>x=1</spiffworkflow:postScript>'
     "</bpmn:extensionElements></bpmn:userTask>", "s", "spiffworkflow:postScript is not allowed"),
    ('<bpmn:globalScriptTask id="s"><bpmn:script>x</bpmn:script></bpmn:globalScriptTask>', "s",
     "script tasks are not allowed"),
]


@pytest.mark.parametrize(("element", "element_id", "fragment"), CODE_CASES)
def test_code_is_refused(element: str, element_id: str, fragment: str) -> None:
    if element.startswith("<bpmn:globalScriptTask"):
        source = document(element, process(step("a") + chain("a")))
    else:
        source = document(process(element + step("a") + chain("a", "s")))
    assert_error(source, element_id, fragment)


def test_script_task_is_refused_once() -> None:
    source = document(process(
        '<bpmn:scriptTask id="s"><bpmn:script>import os</bpmn:script></bpmn:scriptTask>' + chain("s")))
    assert [m for eid, m in errors_of(source) if eid == "s"] == [
        "script tasks are not allowed: procedures are data, never code"
    ]


def test_code_in_a_non_executable_process_is_refused_too() -> None:
    source = document(
        '<bpmn:process id="other" isExecutable="false"><bpmn:scriptTask id="s"/></bpmn:process>',
        process(step("a") + chain("a")),
    )
    assert_error(source, "s", "script tasks are not allowed")


def test_activiti_namespace_code_is_refused() -> None:
    source = document(process(
        '<bpmn:serviceTask xmlns:activiti="http://activiti.org/bpmn" id="s" activiti:class="x.Y"/>'
        + chain("s")))
    assert_error(source, "s", "activiti:class on bpmn:serviceTask is not allowed")


# --------------------------------------------------------------------------- conditions


@pytest.mark.parametrize(
    ("condition", "fragment"),
    [
        ("__import__('os').system('id')", "function calls are not allowed: __import__('os').system('id')"),
        ("x.__class__", "names starting with '__' are not allowed"),
        ("[x for x in y]", "comprehensions are not allowed"),
        ("x = 1", "invalid condition syntax"),
        ("", "empty conditionExpression"),
    ],
)
def test_condition_outside_the_language(condition: str, fragment: str) -> None:
    source = gateway_procedure(condition=condition)
    assert_error(source, "f_gw_big", fragment)


def test_condition_in_another_language() -> None:
    body = (step("a") + step("big") + step("small") + '<bpmn:exclusiveGateway id="gw" default="f_gw_small"/>'
            + '<bpmn:startEvent id="start"/><bpmn:endEvent id="end"/>' + flow("start", "a") + flow("a", "gw")
            + flow("gw", "big", "x &gt; 1", language="javascript") + flow("gw", "small")
            + flow("big", "end") + flow("small", "end", flow_id="f_small_end"))
    assert_error(document(process(body)), "f_gw_big", "condition language 'javascript' is not supported")


def test_python_language_attribute_is_accepted() -> None:
    body = (step("a") + step("big") + step("small") + '<bpmn:exclusiveGateway id="gw" default="f_gw_small"/>'
            + '<bpmn:startEvent id="start"/><bpmn:endEvent id="end"/>' + flow("start", "a") + flow("a", "gw")
            + flow("gw", "big", "x &gt; 1", language="python") + flow("gw", "small")
            + flow("big", "end") + flow("small", "end"))
    assert errors_of(document(process(body))) == []


def test_loop_conditions_are_checked_and_loops_refused() -> None:
    loop = ('<bpmn:standardLoopCharacteristics><bpmn:loopCondition>open("/etc/passwd")</bpmn:loopCondition>'
            "</bpmn:standardLoopCharacteristics>")
    source = document(process(step("a", inner=loop) + chain("a")))
    found = errors_of(source)
    assert ("a", "condition 'open(\"/etc/passwd\")' is refused: function calls are not allowed: "
            "open(\"/etc/passwd\")") in found
    assert any(eid == "a" and "loops and multi-instance activities are not supported" in m
               for eid, m in found)


def test_multi_instance_completion_condition_is_checked() -> None:
    mi = ('<bpmn:multiInstanceLoopCharacteristics><bpmn:loopCardinality>3</bpmn:loopCardinality>'
          "<bpmn:completionCondition>lambda: 1</bpmn:completionCondition>"
          "</bpmn:multiInstanceLoopCharacteristics>")
    assert_error(document(process(step("a", inner=mi) + chain("a"))), "a", "lambdas are not allowed")


def test_condition_on_a_flow_leaving_a_task() -> None:
    body = step("a") + step("b") + '<bpmn:startEvent id="start"/><bpmn:endEvent id="end"/>' + \
        flow("start", "a") + flow("a", "b", "x == 1") + flow("b", "end")
    assert_error(document(process(body)), "f_a_b",
                 "conditions are only allowed on flows leaving an exclusive")


def test_gateway_without_default_is_a_warning() -> None:
    source = gateway_procedure(default=False).replace(
        b'<bpmn:sequenceFlow id="f_gw_small" sourceRef="gw" targetRef="small"></bpmn:sequenceFlow>',
        b'<bpmn:sequenceFlow id="f_gw_small" sourceRef="gw" targetRef="small"><bpmn:conditionExpression>'
        b"area_m2 &lt;= 500</bpmn:conditionExpression></bpmn:sequenceFlow>")
    problems = problems_of(source)
    assert [(p.element_id, p.severity) for p in problems] == [("gw", "warning")]
    assert "no default flow" in problems[0].message
    load_procedure(source, "t.bpmn")


def test_unconditional_flow_that_is_not_the_default() -> None:
    assert_error(gateway_procedure(default=False), "f_gw_small",
                 "flow leaves exclusiveGateway 'gw' without a condition and is not its default flow")


def test_default_flow_must_leave_the_gateway() -> None:
    source = gateway_procedure().replace(b'default="f_gw_small"', b'default="f_a_gw"')
    assert_error(source, "gw", "default flow 'f_a_gw' is not an outgoing flow of this gateway")


# --------------------------------------------------------------------------- what the engine cannot drive


UNSUPPORTED = [
    ('<bpmn:intermediateCatchEvent id="x"><bpmn:timerEventDefinition/></bpmn:intermediateCatchEvent>',
     "timer intermediate catch events are not supported in an ISO procedure"),
    ('<bpmn:intermediateCatchEvent id="x"><bpmn:messageEventDefinition/></bpmn:intermediateCatchEvent>',
     "message intermediate catch events are not supported in an ISO procedure"),
    ('<bpmn:intermediateThrowEvent id="x"><bpmn:signalEventDefinition/></bpmn:intermediateThrowEvent>',
     "signal intermediate throw events are not supported in an ISO procedure"),
    ('<bpmn:callActivity id="x" calledElement="other"/>',
     "call activities are not supported in an ISO procedure"),
    ('<bpmn:subProcess id="x"><bpmn:startEvent id="s2"/></bpmn:subProcess>',
     "sub-processes are not supported in an ISO procedure"),
    ('<bpmn:complexGateway id="x"/>', "complex gateways are not supported"),
    ('<bpmn:eventBasedGateway id="x"/>', "event-based gateways are not supported in an ISO procedure"),
]


@pytest.mark.parametrize(("element", "fragment"), UNSUPPORTED)
def test_unsupported_elements(element: str, fragment: str) -> None:
    source = document(process(step("a") + element + chain("a", "x")))
    assert_error(source, "x", fragment)


def test_boundary_events_are_unsupported() -> None:
    body = (step("a") + '<bpmn:boundaryEvent id="late" attachedToRef="a"><bpmn:timerEventDefinition/>'
            '</bpmn:boundaryEvent><bpmn:endEvent id="end2"/>' + flow("late", "end2") + chain("a"))
    assert_error(document(process(body)), "late",
                 "timer boundary events are not supported in an ISO procedure")
    assert [eid for eid, _ in errors_of(document(process(body)))] == ["late"]


def test_message_start_event_is_unsupported() -> None:
    source = simple().replace(b'<bpmn:startEvent id="start"/>',
                              b'<bpmn:startEvent id="start"><bpmn:messageEventDefinition/></bpmn:startEvent>')
    assert_error(source, "start", "message start events are not supported in an ISO procedure")


def test_plain_intermediate_throw_event_and_terminate_end_are_fine() -> None:
    body = (step("a") + '<bpmn:intermediateThrowEvent id="milestone"/>' + step("b")
            + chain("a", "milestone", "b"))
    source = document(process(body)).replace(
        b'<bpmn:endEvent id="end"/>',
        b'<bpmn:endEvent id="end"><bpmn:terminateEventDefinition/></bpmn:endEvent>',
    )
    assert problems_of(source) == []
    assert load_procedure(source, "t.bpmn").definition.graph["milestone"] == ("b",)


# --------------------------------------------------------------------------- paths


def test_unreachable_step() -> None:
    body = step("a") + step("orphan") + flow("orphan", "end") + chain("a")
    assert_error(document(process(body)), "orphan", "not reachable from a start event")


def test_dead_end_step() -> None:
    body = step("a") + step("stuck") + '<bpmn:parallelGateway id="split"/>' + \
        flow("start", "split") + flow("split", "a") + flow("split", "stuck") + flow("a", "end") + \
        '<bpmn:startEvent id="start"/><bpmn:endEvent id="end"/>'
    assert_error(document(process(body)), "stuck",
                 "dead end: no outgoing sequence flow (only an end event may end a path)")


def test_path_that_never_reaches_an_end() -> None:
    body = (step("a") + step("b") + step("c") + '<bpmn:exclusiveGateway id="gw" default="f_gw_end"/>'
            + '<bpmn:startEvent id="start"/><bpmn:endEvent id="end"/>'
            + flow("start", "a") + flow("a", "gw") + flow("gw", "end") + flow("gw", "b", "x == 1")
            + flow("b", "c") + flow("c", "b"))
    found = errors_of(document(process(body)))
    assert ("b", "no end event can be reached from here: the path loops forever") in found
    assert ("c", "no end event can be reached from here: the path loops forever") in found


def test_no_start_event() -> None:
    body = step("a") + flow("a", "end") + '<bpmn:endEvent id="end"/>'
    assert_error(document(process(body)), "proc", "no start event")


def test_no_end_event() -> None:
    body = step("a") + flow("start", "a") + '<bpmn:startEvent id="start"/>'
    source = document(process(body))
    assert_error(source, "proc", "no end event")
    dead_end = ("a", "dead end: no outgoing sequence flow (only an end event may end a path)")
    assert dead_end in errors_of(source)


def test_flow_to_an_unknown_element() -> None:
    source = document(process(step("a") + chain("a") + flow("a", "ghost")))
    assert_error(source, "f_a_ghost", "sequence flow targetRef 'ghost' is not a flow node of this process")


def test_two_flows_out_of_a_step() -> None:
    body = step("a") + step("b") + flow("a", "b") + flow("b", "end", flow_id="f_b_end2") + chain("a", "b")
    assert_error(document(process(body)), "a", "2 outgoing sequence flows from one step")


# --------------------------------------------------------------------------- the workflow engine's refusals


def test_spiffworkflow_refusals_become_problems() -> None:
    # Passes our checks, but SpiffWorkflow has no implementation for a data store.
    source = document('<bpmn:dataStore id="archive_store" name="archive"/>', process(step("a") + chain("a")))
    problems = problems_of(source)
    assert len(problems) == 1
    assert problems[0].message.startswith(
        "the workflow engine refused the process: Data Store with name archive")
    assert "Traceback" not in str(problems[0])


def test_spiffworkflow_never_parses_the_raw_bytes(monkeypatch: pytest.MonkeyPatch) -> None:
    spiff_parser_module = importlib.import_module("SpiffWorkflow.bpmn.parser.BpmnParser")

    class NoParsing:
        def __getattr__(self, name: str) -> object:
            raise AssertionError(f"SpiffWorkflow tried lxml.etree.{name} on the raw file")

    monkeypatch.setattr(spiff_parser_module, "etree", NoParsing())
    assert load_procedure(simple(), "t.bpmn").definition.code == "1.001806"


def test_too_many_flow_nodes() -> None:
    ids = [f"t{i}" for i in range(300)]
    source = document(process("".join(step(i) for i in ids) + chain(*ids)))
    started = time.perf_counter()
    assert errors_of(source) == [("proc", "the process has 302 flow nodes; the limit is 200 "
                                  "(an ISO procedure is a few dozen steps)")]
    assert time.perf_counter() - started < 1.0


# --------------------------------------------------------------------------- reporting


def test_problems_are_one_line_each_in_document_order_without_duplicates() -> None:
    body = (step("a", deadline="P1M") + step("b", counted="maybe") + step("a2", deadline=None)
            + '<bpmn:scriptTask id="s">\n<bpmn:script>x</bpmn:script></bpmn:scriptTask>'
            + chain("a", "b", "a2", "s"))
    problems = problems_of(document(process(body, procedureCode=None)))
    assert [p.element_id for p in problems] == ["proc", "a", "b", "a2", "s"]
    assert len({str(p) for p in problems}) == len(problems)
    for problem in problems:
        assert "\n" not in str(problem)
        assert str(problem).startswith(f"t.bpmn: {problem.element_id}: ")


def test_problem_text() -> None:
    assert str(Problem("f.bpmn", "task_1", "broken")) == "f.bpmn: task_1: broken"
    assert str(Problem("f.bpmn", None, "not XML: x")) == "f.bpmn: not XML: x"
    assert str(Problem("f.bpmn", "g", "odd", "warning")) == "f.bpmn: g: warning: odd"
    assert str(Problem("f.bpmn", "a\nb", "two\nlines")) == "f.bpmn: a b: two lines"


def test_procedure_invalid_carries_the_problems() -> None:
    with pytest.raises(ProcedureInvalid) as err:
        load_procedure(simple(procedureCode=None), "t.bpmn")
    assert [p.element_id for p in err.value.problems] == ["proc"]
    assert "t.bpmn: proc: missing procedureCode property" in str(err.value)


def test_validate_paths(tmp_path: Path) -> None:
    good = tmp_path / "good.bpmn"
    good.write_bytes(simple())
    bad = tmp_path / "bad.bpmn"
    bad.write_bytes(b"<nope")
    problems = validate_paths([good, bad, tmp_path / "missing.bpmn"])
    assert [p.file for p in problems] == [str(bad), str(tmp_path / "missing.bpmn")]
    assert problems[0].message.startswith("not XML: ")
    assert problems[1].message.startswith("cannot read the file: ")


# --------------------------------------------------------------------------- real files


def test_bundled_procedures_load_without_errors() -> None:
    if not BUNDLED:
        pytest.skip("no bundled procedures in bpmn/ yet")
    for path in BUNDLED:
        problems = validate_paths([path])
        assert [p for p in problems if p.is_error] == [], path.name
        loaded = load_procedure(path.read_bytes(), path.name)
        assert loaded.definition.code in path.name
        BpmnWorkflow(loaded.spec, loaded.subprocess_specs, script_engine=SafeScriptEngine()).do_engine_steps()


LINE = re.compile(r"^[^:\n]+\.bpmn: (?:(?P<id>[^\s:][^:\n]*): )?(?:warning: )?\S[^\n]*$")


@pytest.mark.skipif(not CORPUS.is_dir(), reason="shared/corpus/bpmn is not beside the repository")
@pytest.mark.parametrize("path", CORPUS_FILES, ids=lambda p: p.name)
def test_foreign_diagrams_are_diagnosed_clearly(path: Path) -> None:
    source = path.read_bytes()
    started = time.perf_counter()
    problems = validate_source(source, path.name)
    assert time.perf_counter() - started < 2.0
    assert problems, "a foreign diagram without procedure properties cannot be valid"
    assert any(p.is_error for p in problems)
    text = source.decode("utf-8", "replace")
    for problem in problems:
        line = str(problem)
        match = LINE.match(line)
        assert match, line
        assert "Traceback" not in line
        if problem.element_id is not None:
            assert f'"{problem.element_id}"' in text, line
    assert all(p.element_id for p in problems), "every problem of a BPMN file names an element"
    with pytest.raises(ProcedureInvalid):
        load_procedure(source, path.name)


@pytest.mark.skipif(not CORPUS.is_dir(), reason="shared/corpus/bpmn is not beside the repository")
def test_corpus_specifics() -> None:
    def messages(name: str) -> list[str]:
        return [str(p) for p in validate_paths([CORPUS / name])]

    assert any("camunda:delegateExpression on serviceTask is not allowed" in m
               for m in messages("miwg-ref_C.1.0.bpmn"))
    assert any("invoiceApproved: condition \"bpmn:getDataObject('approved')\" is refused" in m
               for m in messages("miwg-ref_C.1.1.bpmn"))
    assert any("no executable process: process 'WFP-6-' has isExecutable=false" in m
               for m in messages("miwg-ref_A.2.0.bpmn"))
    assert any("timer boundary events are not supported" in m for m in messages("miwg-ref_C.3.0.bpmn"))
