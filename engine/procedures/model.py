"""Names from the BPMN 2.0 model and the modellers' extensions, and small helpers over lxml trees."""

from __future__ import annotations

from lxml import etree

BPMN_NS = "http://www.omg.org/spec/BPMN/20100524/MODEL"
CAMUNDA_NS = "http://camunda.org/schema/1.0/bpmn"
SPIFF_NS = "http://spiffworkflow.org/bpmn/schema/1.0/core"
ACTIVITI_NS = "http://activiti.org/bpmn"
FLOWABLE_NS = "http://flowable.org/bpmn"
ZEEBE_NS = "http://camunda.org/schema/zeebe/1.0"

PROPERTY_NAMESPACES = (CAMUNDA_NS, SPIFF_NS)
#: Engine extensions whose attributes and elements can carry code (Camunda 7 and its ancestors).
ENGINE_NAMESPACES = (CAMUNDA_NS, ACTIVITI_NS, FLOWABLE_NS)

#: Every BPMN task a unit performs; each becomes a step that waits for the one-stop-shop.
STEP_KINDS = frozenset(
    {"task", "userTask", "manualTask", "serviceTask", "sendTask", "receiveTask", "businessRuleTask"}
)
GATEWAY_KINDS = frozenset(
    {"exclusiveGateway", "inclusiveGateway", "parallelGateway", "complexGateway", "eventBasedGateway"}
)
EVENT_KINDS = frozenset(
    {"startEvent", "endEvent", "intermediateCatchEvent", "intermediateThrowEvent", "boundaryEvent"}
)
CONTAINER_KINDS = frozenset({"subProcess", "transaction", "adHocSubProcess", "callActivity"})
FLOW_NODE_KINDS = STEP_KINDS | GATEWAY_KINDS | EVENT_KINDS | CONTAINER_KINDS | {"scriptTask"}
CONDITIONAL_GATEWAYS = frozenset({"exclusiveGateway", "inclusiveGateway"})
CONDITION_KINDS = frozenset(
    {"conditionExpression", "loopCondition", "completionCondition", "condition", "activationCondition"}
)


def bpmn(local: str) -> str:
    return f"{{{BPMN_NS}}}{local}"


def local_name(element: etree._Element | None) -> str:
    """The local part of a BPMN element's tag, or '' for other namespaces, non-elements and None."""
    if element is None:
        return ""
    tag = element.tag
    if not isinstance(tag, str) or not tag.startswith(f"{{{BPMN_NS}}}"):
        return ""
    return tag[len(BPMN_NS) + 2 :]


def namespace(tag: str) -> str:
    return tag[1:].split("}", 1)[0] if tag.startswith("{") else ""


def qualified(element: etree._Element, tag: str) -> str:
    """``tag`` written with the prefix the document uses (``camunda:class``), for messages."""
    ns = namespace(tag)
    local = tag.split("}", 1)[-1]
    for prefix, uri in (element.nsmap or {}).items():
        if uri == ns:
            return f"{prefix}:{local}" if prefix else local
    return local


def children(element: etree._Element, local: str) -> list[etree._Element]:
    return [child for child in element if local_name(child) == local]


def event_kinds(event: etree._Element) -> list[str]:
    """'timer', 'message', ... for each event definition of an event."""
    return [
        local_name(child)[: -len("EventDefinition")]
        for child in event
        if local_name(child).endswith("EventDefinition")
    ] + (["referenced"] if len(children(event, "eventDefinitionRef")) else [])
