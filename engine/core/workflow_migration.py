"""Moving one case's SpiffWorkflow instance onto a new version of its procedure.

SpiffWorkflow's own facility does the work (``SpiffWorkflow.bpmn.util.diff``): ``SpecDiff`` aligns the old
spec's tasks with the new one's, ``migrate_workflow`` swaps the spec and re-predicts the waiting tasks. eiso
only decides the alignment of its steps (the step map, by id; never SpiffWorkflow's structural guess, so a
renamed step moves only when the map names it) and takes out of the tree the tasks whose element the new
version no longer has: finished ones are spliced out (eiso's step runs keep their history), unfinished ones
dropped with what hangs below them. A READY task keeps its id, so a step run still names its task.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from SpiffWorkflow.bpmn.serializer import BpmnWorkflowSerializer
from SpiffWorkflow.bpmn.util.diff import SpecDiff, WorkflowDiff, migrate_workflow
from SpiffWorkflow.exceptions import SpiffWorkflowException
from SpiffWorkflow.util.task import TaskState

from engine.core.procedure import LoadedProcedure
from engine.core.workflow import CaseWorkflow

_REGISTRY = BpmnWorkflowSerializer.configure()


class PositionUnmapped(Exception):
    """The workflow cannot be brought onto the new version at its position (the reason is the message)."""


def move_workflow(old: CaseWorkflow, new: LoadedProcedure, step_map: Mapping[str, str | None]) -> CaseWorkflow:
    """A copy of ``old`` on ``new``'s spec; ``old`` is left as it was.

    ``step_map`` gives, for every step of the old version, its step in the new one (None: removed). Raises
    ``PositionUnmapped`` when SpiffWorkflow cannot carry the instance over (sub-processes, a task it refuses).
    """
    copy = CaseWorkflow.restore(old.procedure, old.snapshot())
    workflow = copy.workflow
    if workflow.subprocesses:
        raise PositionUnmapped("the case is inside a sub-process, which migration does not move")
    try:
        spec_diff = SpecDiff(_REGISTRY, workflow.spec, new.spec)
        for old_spec in list(spec_diff.alignment):
            if old_spec.name in step_map:
                target = step_map[old_spec.name]
                spec_diff.alignment[old_spec] = None if target is None else new.spec.task_specs.get(target)
        diff = WorkflowDiff(workflow, spec_diff)
        for task in diff.removed:
            if task.id in workflow.tasks:
                _take_out(workflow, task)
        migrate_workflow(diff, workflow, new.spec)
        workflow.do_engine_steps()
    except PositionUnmapped:
        raise
    except SpiffWorkflowException as err:
        raise PositionUnmapped(f"the workflow engine cannot move the case: {err}") from None
    except Exception as err:  # on a copy: whatever SpiffWorkflow trips on, the case stays as it was, with why
        raise PositionUnmapped(f"the workflow engine cannot move the case: {type(err).__name__}: {err}") from None
    moved = CaseWorkflow(new, workflow)
    try:  # the moved instance must read back from its snapshot on the new version, as every case does
        CaseWorkflow.restore(new, moved.snapshot())
    except Exception as err:  # a tree the serializer cannot rebuild is a position that cannot be mapped
        raise PositionUnmapped(f"the moved workflow does not read back: {type(err).__name__}: {err}") from None
    return moved


def _take_out(workflow: Any, task: Any) -> None:
    """Splice a finished task out of the tree (its children move up); drop an unfinished one with its subtree."""
    parent = task.parent
    if parent is None:
        raise PositionUnmapped(f"the workflow's root {task.task_spec.name} is not in the new version")
    siblings: list[Any] = parent._children
    index = siblings.index(task.id)
    if task.has_state(TaskState.FINISHED_MASK):
        siblings[index:index + 1] = list(task._children)
        for child in task.children:
            child._parent = parent.id
        del workflow.tasks[task.id]
        return
    del siblings[index]
    for dropped in list(task):
        workflow.tasks.pop(dropped.id, None)
