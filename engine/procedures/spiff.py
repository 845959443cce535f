"""SpiffWorkflow's view of a procedure: every step is a manual task, nothing is ever executed.

The parser only ever sees the tree that ``engine.procedures.xml`` already parsed safely; it
never parses the raw bytes itself.
"""

from __future__ import annotations

from typing import Any, ClassVar

from lxml import etree
from SpiffWorkflow.bpmn.parser.BpmnParser import BpmnParser
from SpiffWorkflow.bpmn.parser.TaskParser import TaskParser
from SpiffWorkflow.bpmn.parser.util import full_tag
from SpiffWorkflow.bpmn.parser.ValidationException import ValidationException
from SpiffWorkflow.bpmn.specs.defaults import ManualTask

from engine.procedures.model import STEP_KINDS
from engine.procedures.problems import Problem

__all__ = ["ProcedureParser", "build_specs"]


class ProcedureParser(BpmnParser):
    """Parses every kind of task as a ``ManualTask``: each waits for the one-stop-shop's event."""

    OVERRIDE_PARSER_CLASSES: ClassVar[dict[str, tuple[type, type]]] = {
        full_tag(kind): (TaskParser, ManualTask) for kind in sorted(STEP_KINDS)
    }


def build_specs(
    tree: etree._ElementTree, filename: str, process_id: str
) -> tuple[Any, dict[str, Any], list[Problem]]:
    """``(spec, subprocess_specs, problems)``; the specs are None/empty when SpiffWorkflow refused."""
    parser = ProcedureParser()
    try:
        parser.add_bpmn_xml(tree, filename)
        spec = parser.get_spec(process_id)
        subprocess_specs = parser.get_subprocess_specs(process_id)
    except ValidationException as err:
        where = getattr(err, "id", "") or None
        message = f"the workflow engine refused the process: {_message(err)}"
        return None, {}, [Problem(filename, where, message)]
    except RecursionError:
        return None, {}, [Problem(filename, None, "the workflow engine could not read the process: "
                                  "its paths are too long")]
    except Exception as err:  # a foreign diagram must never surface as a traceback
        return None, {}, [Problem(filename, None, f"the workflow engine could not read the process: "
                                  f"{type(err).__name__}: {err}")]
    return spec, dict(subprocess_specs), []


def _message(err: ValidationException) -> str:
    text = str(err.args[0]) if err.args else type(err).__name__
    if "RecursionError" in text:
        return "its paths are too long"
    notes = [str(note) for note in getattr(err, "notes", [])]
    return "; ".join([text, *notes])
