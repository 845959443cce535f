"""Procedure properties (``camunda:properties`` or ``spiffworkflow:properties``) and lanes."""

from __future__ import annotations

from lxml import etree

from engine.procedures.model import PROPERTY_NAMESPACES, children, local_name, qualified
from engine.procedures.problems import Report

__all__ = ["lane_names", "read_properties"]


def read_properties(element: etree._Element, report: Report) -> dict[str, str]:
    """The ``name -> value`` properties on ``element``'s own extension elements.

    Both modellers' spellings are read; a name given twice with different values is an error
    (which one would the engine believe?).
    """
    found: dict[str, str] = {}
    for extensions in children(element, "extensionElements"):
        for ns in PROPERTY_NAMESPACES:
            for prop in extensions.iterchildren(f"{{{ns}}}properties"):
                for item in prop.iterchildren(f"{{{ns}}}property"):
                    name = (item.get("name") or "").strip()
                    value = item.get("value")
                    if value is None:
                        value = item.text or ""
                    value = value.strip()
                    if not name:
                        report.add(item, f"{qualified(item, item.tag)} without a name", "warning",
                                   owner=element.get("id"))
                        continue
                    if name in found and found[name] != value:
                        report.add(item, f"property {name!r} is given twice ({found[name]!r} and {value!r})",
                                   owner=element.get("id"))
                        continue
                    found[name] = value
    return found


def lane_names(process: etree._Element) -> dict[str, str]:
    """Flow node id -> name of the innermost named lane listing it (``flowNodeRef``)."""
    names: dict[str, str] = {}
    # Document order visits outer lanes before their child lane sets, so inner names win.
    for lane in process.iter():
        if local_name(lane) != "lane":
            continue
        name = " ".join((lane.get("name") or "").split())
        if not name:
            continue
        for ref in children(lane, "flowNodeRef"):
            if ref.text and ref.text.strip():
                names[ref.text.strip()] = name
    return names
