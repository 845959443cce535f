"""Small procedures for the conformance tests, written as BPMN: tasks, gateways and flows from a list."""

from __future__ import annotations

from engine.core.procedure import LoadedProcedure
from engine.procedures.loader import load_procedure

_HEAD = """<?xml version="1.0" encoding="UTF-8"?>
<bpmn:definitions xmlns:bpmn="http://www.omg.org/spec/BPMN/20100524/MODEL"
  xmlns:camunda="http://camunda.org/schema/1.0/bpmn" id="defs" targetNamespace="http://eiso.example/conformance">
<bpmn:process id="{pid}" name="{pid}" isExecutable="true">
<bpmn:extensionElements><camunda:properties>
<camunda:property name="procedureCode" value="{code}"/><camunda:property name="statutoryLimit" value="P10D"/>
</camunda:properties></bpmn:extensionElements>
"""

_TASK = """<bpmn:userTask id="{id}" name="{name}"><bpmn:extensionElements><camunda:properties>
<camunda:property name="deadline" value="{deadline}"/></camunda:properties></bpmn:extensionElements>
{flows}</bpmn:userTask>
"""


def bpmn(code: str, nodes: dict[str, str], flows: list[tuple[str, str]], deadline: str = "PT4H") -> bytes:
    """A procedure: ``nodes`` maps ids to kinds (``task``, ``xor``, ``and``, ``or``, ``start``, ``end``); each task
    is named by its id in capitals; a flow leaving an exclusive or inclusive gateway after its first (the
    default) is conditioned on ``again``."""
    out = [_HEAD.format(pid=f"p_{code.replace('.', '_')}", code=code)]
    flow_ids = {flow: f"f{i}" for i, flow in enumerate(flows)}
    for node, kind in nodes.items():
        refs = "".join(f"<bpmn:incoming>{flow_ids[f]}</bpmn:incoming>" for f in flows if f[1] == node)
        refs += "".join(f"<bpmn:outgoing>{flow_ids[f]}</bpmn:outgoing>" for f in flows if f[0] == node)
        if kind == "task":
            out.append(_TASK.format(id=node, name=node.upper(), deadline=deadline, flows=refs))
            continue
        tag = {"xor": "exclusiveGateway", "and": "parallelGateway", "or": "inclusiveGateway", "start": "startEvent",
               "end": "endEvent"}[kind]
        leaving = [f for f in flows if f[0] == node]
        default = f' default="{flow_ids[leaving[0]]}"' if kind in ("xor", "or") and len(leaving) > 1 else ""
        out.append(f'<bpmn:{tag} id="{node}"{default}>{refs}</bpmn:{tag}>\n')
    for flow, fid in flow_ids.items():
        source, target = flow
        leaving = [f for f in flows if f[0] == source]
        condition = ""
        if nodes[source] in ("xor", "or") and len(leaving) > 1 and flow != leaving[0]:
            condition = '<bpmn:conditionExpression xsi:type="bpmn:tFormalExpression" ' \
                        'xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance">again == true</bpmn:conditionExpression>'
        out.append(f'<bpmn:sequenceFlow id="{fid}" sourceRef="{source}" targetRef="{target}">{condition}'
                   '</bpmn:sequenceFlow>\n')
    out.append("</bpmn:process>\n</bpmn:definitions>\n")
    return "".join(out).encode()


def load(source: bytes) -> LoadedProcedure:
    return load_procedure(source, "test.bpmn")


#: receive, then appraise and review, sent back to appraise when the review finds a fault (rework), approve.
REWORK = bpmn("9.000101", {
    "start": "start", "receive": "task", "again": "xor", "appraise": "task", "review": "task", "ok": "xor",
    "approve": "task", "end": "end",
}, [("start", "receive"), ("receive", "again"), ("again", "appraise"), ("appraise", "review"), ("review", "ok"),
    ("ok", "approve"), ("ok", "again"), ("approve", "end")])

#: receive, then consult and appraise in parallel, then either approve or refuse, then return.
PARALLEL = bpmn("9.000102", {
    "start": "start", "receive": "task", "split": "and", "consult": "task", "appraise": "task", "join": "and",
    "decide": "xor", "approve": "task", "refuse": "task", "merge": "xor", "return_result": "task", "end": "end",
}, [("start", "receive"), ("receive", "split"), ("split", "consult"), ("split", "appraise"), ("consult", "join"),
    ("appraise", "join"), ("join", "decide"), ("decide", "approve"), ("decide", "refuse"), ("approve", "merge"),
    ("refuse", "merge"), ("merge", "return_result"), ("return_result", "end")])

#: a straight sequence of three steps.
SEQUENCE = bpmn("9.000103", {"start": "start", "a": "task", "b": "task", "c": "task", "end": "end"},
                [("start", "a"), ("a", "b"), ("b", "c"), ("c", "end")])

#: receive, then consult the police, the fire service or both (an inclusive choice), then approve.
INCLUSIVE = bpmn("9.000104", {
    "start": "start", "receive": "task", "choose": "or", "police": "task", "fire": "task", "gather": "or",
    "approve": "task", "end": "end",
}, [("start", "receive"), ("receive", "choose"), ("choose", "police"), ("choose", "fire"), ("police", "gather"),
    ("fire", "gather"), ("gather", "approve"), ("approve", "end")])
