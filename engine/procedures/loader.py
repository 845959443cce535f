"""BPMN files in, validated procedures out; every refusal is one line per problem.

Order of work: safe XML parsing, the number of nodes (a file past ``MAX_NODES`` goes no further,
so the work stays bounded), whole-document checks (duplicate ids, code, conditions), the choice
of the one executable process, its shape and properties, and last SpiffWorkflow's own parser,
run only on a file with no error so far (its cost grows faster than the file's).
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable
from os import PathLike
from pathlib import Path

from lxml import etree

from engine.core.procedure import LoadedProcedure, ProcedureDefinition
from engine.procedures.checks import check_code, check_conditions, check_duplicate_ids
from engine.procedures.definition import build_definition
from engine.procedures.model import children, local_name
from engine.procedures.problems import Problem, ProcedureInvalid, Report
from engine.procedures.spiff import build_specs
from engine.procedures.structure import check_structure
from engine.procedures.xml import MAX_NODES, MAX_SOURCE_BYTES, UnsafeXmlError, parse_xml

__all__ = ["MAX_NODES", "Problem", "ProcedureInvalid", "load_procedure", "validate_paths", "validate_source"]


def load_procedure(source: bytes, filename: str, *, deployed: bool = False) -> LoadedProcedure:
    """The procedure in ``source``; raises ``ProcedureInvalid`` if the file has any error.

    ``deployed=True`` reads back a version already deployed: the size bounds added since (how long a
    duration, how many flows) are then warnings, so its cases keep their procedure; the calendar
    still refuses to count past ``MAX_WORKING_SECONDS``.
    """
    problems, loaded = _analyse(source, filename, deployed=deployed)
    if loaded is None or any(problem.is_error for problem in problems):
        raise ProcedureInvalid(problems)
    return loaded


def validate_source(source: bytes, filename: str) -> list[Problem]:
    """Every problem (errors and warnings) of one file, in document order."""
    return _analyse(source, filename)[0]


def validate_paths(paths: Iterable[str | PathLike[str]]) -> list[Problem]:
    problems: list[Problem] = []
    for path in paths:
        name = str(path)
        try:
            size = Path(path).stat().st_size
            if size > MAX_SOURCE_BYTES:
                problems.append(Problem(name, None, f"file is too large ({size:,} bytes; "
                                        f"the limit is {MAX_SOURCE_BYTES:,} bytes)"))
                continue
            source = Path(path).read_bytes()
        except OSError as err:
            problems.append(Problem(name, None, f"cannot read the file: {err.strerror or err}"))
            continue
        problems.extend(validate_source(source, name))
    return problems


def _analyse(source: bytes, filename: str, *, deployed: bool = False) -> tuple[list[Problem], LoadedProcedure | None]:
    try:
        tree = parse_xml(source)
    except UnsafeXmlError as err:
        return [Problem(filename, None, str(err))], None
    root = tree.getroot()
    report = Report(filename, root, deployed=deployed)
    nodes = report.size
    if nodes > MAX_NODES:
        report.exceeds(root, f"the file has {nodes:,} XML nodes (elements, comments...); the limit is {MAX_NODES:,} "
                       "(an ISO procedure is a few dozen steps)", owner="")
        if not deployed:  # the work of checking a file stays bounded by its size
            return report.problems(), None
    if local_name(root) != "definitions":
        report.add(root, f"not a BPMN 2.0 file: the root element is {root.tag!r}, expected bpmn:definitions "
                   "(namespace http://www.omg.org/spec/BPMN/20100524/MODEL)", owner="")
        return report.problems(), None
    check_duplicate_ids(root, report)
    check_code(root, report)
    check_conditions(root, report)
    process = _choose_process(root, report)
    definition = None
    for candidate in _candidates(root, process):
        shape = check_structure(candidate, report)
        built = build_definition(candidate, shape, report)
        if candidate is process:
            definition = built
    if process is None or definition is None or report.has_errors:
        return report.problems(), None
    return _with_specs(tree, filename, source, definition, report)


def _with_specs(
    tree: etree._ElementTree, filename: str, source: bytes, definition: ProcedureDefinition, report: Report
) -> tuple[list[Problem], LoadedProcedure | None]:
    spec, subprocess_specs, refused = build_specs(tree, filename, definition.process_id)
    report.extend(refused)
    if spec is None:
        return report.problems(), None
    loaded = LoadedProcedure(
        definition=definition,
        spec=spec,
        subprocess_specs=subprocess_specs,
        checksum=hashlib.sha256(source).hexdigest(),
        source=bytes(source),
    )
    return report.problems(), loaded


def _choose_process(root: etree._Element, report: Report) -> etree._Element | None:
    """The one executable process, or None (with the reason reported)."""
    processes = children(root, "process")
    if not processes:
        report.add(root, "no process in the file: a procedure is one executable bpmn:process")
        return None
    executable = [p for p in processes if p.get("isExecutable") == "true"]
    if not executable:
        for process in processes:
            flag = process.get("isExecutable")
            state = "has no isExecutable attribute" if flag is None else f"has isExecutable={flag}"
            report.add(process, f"no executable process: process {process.get('id')!r} {state} "
                       "(the procedure's process needs isExecutable=\"true\")")
        return None
    first = executable[0]
    for process in executable[1:]:
        report.add(process, f"more than one executable process: {process.get('id')!r} as well as "
                   f"{first.get('id')!r}; a file holds one procedure (set isExecutable=\"false\" on the "
                   "others)")
    for process in processes:
        if process not in executable:
            report.add(process, f"process {process.get('id')!r} is not executable and is ignored", "warning")
    return first if len(executable) == 1 else None


def _candidates(root: etree._Element, chosen: etree._Element | None) -> list[etree._Element]:
    """The processes to check: the chosen one, else every executable one, else all of them."""
    if chosen is not None:
        return [chosen]
    processes = children(root, "process")
    return [p for p in processes if p.get("isExecutable") == "true"] or processes
