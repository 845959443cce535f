"""One SpiffWorkflow instance per case: which steps are active, completing them, snapshots.

Every task of a procedure is parsed as a manual task (``engine.procedures``), so the
workflow only moves when the one-stop-shop reports a step completed; gateways are
evaluated by the safe expression language, never by Python.
"""

from __future__ import annotations

import copy
from collections import deque
from typing import Any
from uuid import UUID

from SpiffWorkflow.bpmn import BpmnWorkflow
from SpiffWorkflow.bpmn.serializer import BpmnWorkflowSerializer
from SpiffWorkflow.bpmn.serializer.config import DEFAULT_CONFIG
from SpiffWorkflow.bpmn.serializer.default.workflow import BpmnWorkflowConverter, WorkflowConverter
from SpiffWorkflow.bpmn.serializer.migration.version_migration import MIGRATIONS
from SpiffWorkflow.exceptions import SpiffWorkflowException
from SpiffWorkflow.util.task import TaskState

from engine.core.procedure import LoadedProcedure
from engine.core.script_engine import SafeScriptEngine

_SCRIPT_ENGINE = SafeScriptEngine()


class WorkflowStuck(Exception):
    """The workflow could not move on (e.g. no gateway condition matched the case data)."""


class SnapshotVersionError(Exception):
    """A case snapshot was written by a SpiffWorkflow serializer version the installed one cannot read."""


class _SpecFreeWorkflowConverter(BpmnWorkflowConverter):
    """Leaves the process spec out of each case snapshot: it belongs to the procedure version."""

    def to_dict(self, workflow: BpmnWorkflow) -> dict[str, Any]:
        dct: dict[str, Any] = WorkflowConverter.to_dict(self, workflow)
        dct["subprocesses"] = self.mapping_to_dict(workflow.subprocesses)
        dct["bpmn_events"] = self.registry.convert(workflow.bpmn_events)
        return dct

    def from_dict(self, dct: dict[str, Any], procedure: LoadedProcedure | None = None) -> BpmnWorkflow:
        assert procedure is not None, "a case snapshot is restored against its procedure version"
        workflow = self.target_class(procedure.spec, procedure.subprocess_specs, deserializing=True)
        workflow.tasks = self.mapping_from_dict(dct["tasks"], UUID, workflow=workflow)
        workflow.task_tree = workflow.tasks.get(UUID(dct["root"]))
        self.set_default_attributes(workflow, dct)
        self.subprocesses_from_dict(dct["subprocesses"], workflow)
        workflow.bpmn_events = self.registry.restore(dct.pop("bpmn_events", []))
        return workflow


def _make_serializer() -> BpmnWorkflowSerializer:
    config = dict(DEFAULT_CONFIG)
    config[BpmnWorkflow] = _SpecFreeWorkflowConverter
    return BpmnWorkflowSerializer(BpmnWorkflowSerializer.configure(config))


_SERIALIZER = _make_serializer()
# ``VERSION`` is set on the serializer instance (SpiffWorkflow 3.1.x writes "1.4", 3.2.0 "1.5"), so it is read
# from the instance that writes the snapshots: never a literal, which would outlive an upgrade.
SERIALIZER_VERSION: str = _SERIALIZER.VERSION
VERSION_KEY: str = _SERIALIZER.VERSION_KEY


class CaseWorkflow:
    def __init__(self, procedure: LoadedProcedure, workflow: BpmnWorkflow):
        self.procedure = procedure
        self.workflow = workflow
        self.workflow.script_engine = _SCRIPT_ENGINE
        self._ready_tasks: list[Any] | None = None

    @classmethod
    def start(cls, procedure: LoadedProcedure, data: dict[str, Any]) -> CaseWorkflow:
        workflow = BpmnWorkflow(procedure.spec, procedure.subprocess_specs, script_engine=_SCRIPT_ENGINE)
        workflow.data.update(data)
        for task in workflow.get_tasks(state=TaskState.READY):
            task.data.update(data)
        case_workflow = cls(procedure, workflow)
        case_workflow._advance()
        return case_workflow

    # -- reading -----------------------------------------------------------------
    def ready(self) -> list[tuple[str, str]]:
        """The active steps as (task id, step id) pairs, in workflow order."""
        steps = self.procedure.definition.steps
        return [(str(t.id), t.task_spec.name) for t in self._ready() if t.task_spec.name in steps]

    def ready_steps(self) -> list[str]:
        return [step for _, step in self.ready()]

    def is_completed(self) -> bool:
        return bool(self.workflow.is_completed())

    def path_to(self, step_id: str) -> set[str] | None:
        """Active steps from which ``step_id`` can be reached (to be bypassed), or None."""
        graph = self.procedure.definition.graph
        ready = self.ready_steps()
        if step_id in ready:
            return set()
        on_path = {s for s in ready if step_id in _reachable(graph, s)}
        return on_path or None

    # -- moving ------------------------------------------------------------------
    def complete(self, task_id: str, data: dict[str, Any]) -> None:
        task = self._task(task_id)
        if task is None or task.state != TaskState.READY:
            raise KeyError(task_id)
        task.data.update(data)
        self._ready_tasks = None
        try:
            task.run()
        except SpiffWorkflowException as err:
            raise WorkflowStuck(f"step {task.task_spec.name}: {err}") from None
        self._advance()

    def _advance(self) -> None:
        self._ready_tasks = None
        try:
            self.workflow.do_engine_steps()
        except SpiffWorkflowException as err:
            raise WorkflowStuck(str(err)) from None

    def _task(self, task_id: str) -> Any:
        """The task by its id: a dictionary lookup, not a walk of the task tree."""
        try:
            key = UUID(task_id)
        except ValueError:
            return None
        task = self.workflow.tasks.get(key)
        if task is None and self.workflow.subprocesses:
            task = self.workflow.get_task_from_id(key)
        return task

    def _ready(self) -> list[Any]:
        """READY tasks in tree order, computed once per move of the workflow (reads are frequent)."""
        if self._ready_tasks is None:
            self._ready_tasks = list(self.workflow.get_tasks(state=TaskState.READY))
        return self._ready_tasks

    # -- snapshots -----------------------------------------------------------------
    def snapshot(self) -> dict[str, Any]:
        dct: dict[str, Any] = _SERIALIZER.to_dict(self.workflow)
        dct[VERSION_KEY] = SERIALIZER_VERSION
        return dct

    @classmethod
    def restore(cls, procedure: LoadedProcedure, snapshot: dict[str, Any]) -> CaseWorkflow:
        """The case's workflow from a snapshot, migrated first when an older SpiffWorkflow wrote it."""
        workflow = _SERIALIZER.from_dict(_current_format(procedure, snapshot), procedure=procedure)
        return cls(procedure, workflow)


def _current_format(procedure: LoadedProcedure, snapshot: dict[str, Any]) -> dict[str, Any]:
    """``snapshot`` in the installed serializer's format, through SpiffWorkflow's own ``migrate()``.

    SpiffWorkflow's ``migrate()`` passes a version it has no migration for through untouched, and its
    migrations index the process spec, which a case snapshot leaves out (it belongs to the procedure
    version): so the version is checked here first, and the procedure's spec, serialized by the
    installed SpiffWorkflow, is lent to the migration and dropped again. A snapshot labelled "1.5"
    before versions were read from the serializer came from 3.1.x (really "1.4") or 3.2.0 ("1.5");
    the one migration between them rewrites event-based gateways' specs only, which eiso refuses
    and never stores, so reading either as "1.5" is exact.
    """
    version = snapshot.get(VERSION_KEY)
    if version == SERIALIZER_VERSION:
        dct = dict(snapshot)
        del dct[VERSION_KEY]
        return dct
    if version is None:
        raise SnapshotVersionError(f"case snapshot carries no SpiffWorkflow serializer version ({VERSION_KEY!r})")
    if version not in MIGRATIONS:
        readable = ", ".join([*sorted(MIGRATIONS), SERIALIZER_VERSION])
        raise SnapshotVersionError(
            f"case snapshot written by SpiffWorkflow serializer version {version!r}; the installed "
            f"SpiffWorkflow reads versions {readable}: it needs the SpiffWorkflow release that wrote it, "
            "or a later one that migrates it")
    dct = copy.deepcopy(snapshot)  # the migrations edit in place; the caller's copy stays as it was read
    dct["spec"] = _SERIALIZER.to_dict(procedure.spec)
    dct["subprocess_specs"] = {name: _SERIALIZER.to_dict(spec) for name, spec in procedure.subprocess_specs.items()}
    try:
        _SERIALIZER.migrate(dct)
    except Exception as err:  # a SpiffWorkflow migration's own fault: say which snapshot version it could not read
        raise SnapshotVersionError(
            f"case snapshot of SpiffWorkflow serializer version {version!r} could not be migrated to "
            f"{SERIALIZER_VERSION}: {type(err).__name__}: {err}") from err
    del dct["spec"], dct["subprocess_specs"]
    return dct


def _reachable(graph: dict[str, tuple[str, ...]], start: str) -> set[str]:
    seen: set[str] = set()
    queue = deque(graph.get(start, ()))
    while queue:
        node = queue.popleft()
        if node in seen:
            continue
        seen.add(node)
        queue.extend(graph.get(node, ()))
    return seen
