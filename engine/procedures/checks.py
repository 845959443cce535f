"""Whole-document checks: duplicate ids, code in any form, conditions outside the language.

Procedures are data, never code.  Whatever a modeller can attach that an engine would run
(script tasks, scripts, listeners, service implementations, field expressions) is refused
wherever it appears in the file, in any process, executable or not.
"""

from __future__ import annotations

from lxml import etree

from engine.core.expressions import ExpressionError, compile_condition
from engine.procedures.model import (
    CONDITION_KINDS,
    ENGINE_NAMESPACES,
    SPIFF_NS,
    ZEEBE_NS,
    local_name,
    namespace,
    qualified,
)
from engine.procedures.problems import Report, element_id

__all__ = ["check_code", "check_conditions", "check_duplicate_ids"]

_NEVER_CODE = "procedures are data, never code"
_CODE_ELEMENTS = {
    **{ns: {"script", "executionListener", "taskListener", "connector", "expression"}
       for ns in ENGINE_NAMESPACES},
    SPIFF_NS: {"preScript", "postScript", "script", "serviceTaskOperator"},
    ZEEBE_NS: {"script", "executionListener", "taskListener"},
}
_CODE_ATTRIBUTES = {"class", "expression", "delegateExpression"}
_LANGUAGES = ("python", "spiff", "eiso")


def check_duplicate_ids(root: etree._Element, report: Report) -> None:
    first_seen: dict[str, etree._Element] = {}
    for element in root.iter():
        if not isinstance(element.tag, str):
            continue
        value = element.get("id")
        if value is None:
            continue
        if value in first_seen:
            other = first_seen[value]
            report.add(element, f"duplicate id {value!r}: also used by {qualified(other, other.tag)} "
                       f"on line {other.sourceline}; element ids must be unique in the file", owner=value)
        else:
            first_seen[value] = element


def check_code(root: etree._Element, report: Report) -> None:
    for element in root.iter():
        if not isinstance(element.tag, str):
            continue
        kind = local_name(element)
        parent = element.getparent()
        if kind in ("scriptTask", "globalScriptTask"):
            report.add(element, f"script tasks are not allowed: {_NEVER_CODE}")
        elif kind == "script" and local_name(parent) not in ("scriptTask", "globalScriptTask"):
            report.add(element, f"scripts are not allowed: {_NEVER_CODE}")
        elif not kind and _is_code_element(element):
            name = qualified(element, element.tag)
            why = "listeners run code" if name.endswith("Listener") else _NEVER_CODE
            report.add(element, f"{name} is not allowed: {why}")
        for attribute in element.attrib:
            if namespace(attribute) in ENGINE_NAMESPACES and attribute.split("}", 1)[1] in _CODE_ATTRIBUTES:
                name = qualified(element, attribute)
                report.add(element, f"{name} on {qualified(element, element.tag)} is not allowed: "
                           f"service implementations are code; {_NEVER_CODE}")


def _is_code_element(element: etree._Element) -> bool:
    tag = element.tag
    return isinstance(tag, str) and tag.split("}", 1)[-1] in _CODE_ELEMENTS.get(namespace(tag), ())


def _owner(condition: etree._Element) -> str | None:
    """The flow element a condition belongs to (the flow, task or event, not its definition)."""
    element = condition.getparent()
    while element is not None:
        kind = local_name(element)
        if element.get("id") and not kind.endswith(("EventDefinition", "LoopCharacteristics")):
            return str(element.get("id"))
        element = element.getparent()
    return element_id(condition.getparent())


def check_conditions(root: etree._Element, report: Report) -> None:
    """Every condition in the file must be in the expression language (``engine.core.expressions``)."""
    for element in root.iter():
        if local_name(element) not in CONDITION_KINDS:
            continue
        parent = element.getparent()
        if local_name(element) == "condition" and local_name(parent) != "conditionalEventDefinition":
            continue
        owner = _owner(element)
        language = (element.get("language") or "").strip()
        if language and not any(word in language.lower() for word in _LANGUAGES):
            report.add(element, f"condition language {language!r} is not supported: conditions use the "
                       "procedure's expression language (comparisons, and/or/not, literals, names)",
                       owner=owner)
            continue
        text = "".join(element.itertext()).strip()
        if not text:
            report.add(element, f"empty {local_name(element)}", owner=owner)
            continue
        try:
            compile_condition(text)
        except ExpressionError as err:
            shown = text if len(text) <= 80 else text[:77] + "..."
            report.add(element, f"condition {shown!r} is refused: {err}", owner=owner)
