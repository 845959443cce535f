"""A streaming XES reader (``.xes``, ``.xes.gz``): one ``Trace`` at a time, memory bounded by a trace.

The file is not trusted: a DOCTYPE (the way in for entity expansion and external entities) refuses
the whole file, and the parser never loads a DTD, resolves an entity or reaches the network, as for
BPMN files (``engine.procedures.xml``). A trace's own attributes are read as ``case:<key>``.
"""

from __future__ import annotations

import gzip
import zlib
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import IO, Any

from lxml import etree

from engine.application.history.log import HistoryLogError, LogEvent, Trace, TraceProblem

DOCTYPE_REFUSED = "DOCTYPE declarations are not allowed in an XES log (entity expansion / external entities)"
TICK_EVERY = 200  # traces between two progress reports
ATTRIBUTE_TAGS = frozenset({"string", "date", "int", "float", "boolean", "id"})


def is_xes(path: Path) -> bool:
    name = path.name.lower()
    return name.endswith(".xes") or name.endswith(".xes.gz")


def read_xes(path: Path, case_key: str, progress: Callable[[int], None] | None = None) -> Iterator[Trace]:
    """The log's traces in file order. ``case_key`` is the mapping's case id (``case:concept:name``)."""
    with path.open("rb") as raw:
        stream: IO[bytes] = raw
        if path.name.lower().endswith(".gz"):
            stream = gzip.GzipFile(fileobj=raw, mode="rb")  # type: ignore[assignment]
        yield from _traces(stream, path.name, case_key, lambda: progress(raw.tell()) if progress else None)


def _traces(stream: IO[bytes], name: str, case_key: str, tick: Callable[[], Any]) -> Iterator[Trace]:
    parser = etree.iterparse(stream, events=("start", "end"), resolve_entities=False, load_dtd=False,
                             no_network=True, huge_tree=False, remove_comments=True, remove_pis=True)
    depth = read = 0
    checked = False
    try:
        for action, elem in parser:
            if action == "start":
                if not checked:
                    checked = True
                    if elem.getroottree().docinfo.doctype:
                        raise HistoryLogError(f"{name}: {DOCTYPE_REFUSED}")
                    if _local(elem.tag) != "log":
                        raise HistoryLogError(f"{name}: not an XES log (the root element is <{_local(elem.tag)}>, "
                                              "expected <log>)")
                depth += 1
                continue
            depth -= 1
            if _local(elem.tag) != "trace" or depth != 1:
                continue
            yield _trace(elem, case_key)
            elem.clear()
            parent = elem.getparent()
            while elem.getprevious() is not None and parent is not None:
                del parent[0]
            read += 1
            if read % TICK_EVERY == 0:
                tick()
    except etree.XMLSyntaxError as err:
        raise HistoryLogError(f"{name}: not well-formed XML at line {err.lineno}: {err.msg} (the traces "
                              "before it were read)") from None
    except (EOFError, OSError, zlib.error) as err:
        raise HistoryLogError(f"{name}: truncated or corrupt compressed file ({err}); the traces before it "
                              "were read") from None
    if not checked:
        raise HistoryLogError(f"{name}: empty file")


def _trace(elem: Any, case_key: str) -> Trace:
    attributes: dict[str, Any] = {}
    events: list[LogEvent] = []
    for child in elem:
        tag = _local(child.tag)
        if tag == "event":
            values = {c.get("key"): c.get("value") for c in child if _local(c.tag) in ATTRIBUTE_TAGS and c.get("key")}
            events.append(LogEvent(values, f"line {child.sourceline}"))
        elif tag in ATTRIBUTE_TAGS and child.get("key"):
            attributes["case:" + child.get("key")] = child.get("value")
    where = f"trace at line {elem.sourceline}"
    case_id = attributes.get(case_key)
    trace = Trace(str(case_id).strip() if case_id else "", where, attributes, events)
    if not trace.case_id:
        trace.problem = TraceProblem("missing case id", f"{where}: no {case_key} attribute (the case id)")
    return trace


def _local(tag: Any) -> str:
    return tag.rsplit("}", 1)[-1] if isinstance(tag, str) else ""
