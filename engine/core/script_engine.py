"""SpiffWorkflow's script engine, replaced: conditions in the safe language, scripts never run.

SpiffWorkflow calls ``script_engine.evaluate`` for gateway conditions and, in a few places,
``script_engine.environment.evaluate`` directly; both go through ``compile_condition``.  Any
attempt to execute a script or call a service raises: validation refuses such procedures, and
this is the second lock on the same door.
"""

from __future__ import annotations

from collections import ChainMap
from collections.abc import Mapping
from functools import lru_cache
from typing import Any

from SpiffWorkflow.bpmn.exceptions import WorkflowTaskException
from SpiffWorkflow.bpmn.script_engine import PythonScriptEngine
from SpiffWorkflow.bpmn.script_engine.python_environment import BasePythonScriptEngineEnvironment

from engine.core.expressions import Condition, ExpressionError, compile_condition

__all__ = ["NOTHING_IS_EXECUTED", "SafeEnvironment", "SafeScriptEngine", "ScriptRefusedError"]

NOTHING_IS_EXECUTED = "procedures are data, never code: scripts and services are never executed"


class ScriptRefusedError(RuntimeError):
    """A script or a service call was asked of the engine."""


@lru_cache(maxsize=1024)
def _compiled(expression: str) -> Condition:
    return compile_condition(expression)


def _evaluate(expression: str, data: Mapping[str, Any], external: Mapping[str, Any] | None) -> bool:
    context: Mapping[str, Any] = ChainMap(dict(data), dict(external)) if external else data
    return _compiled(expression).evaluate(context)


class SafeEnvironment(BasePythonScriptEngineEnvironment):
    """An environment without Python: evaluates conditions, refuses everything else."""

    def evaluate(self, expression: str, context: Mapping[str, Any], external_context: Any = None) -> bool:
        return _evaluate(expression, context, external_context)

    def execute(self, script: str, context: Any, external_context: Any = None) -> bool:
        raise ScriptRefusedError(NOTHING_IS_EXECUTED)

    def call_service(self, context: Any, **kwargs: Any) -> Any:
        raise ScriptRefusedError(NOTHING_IS_EXECUTED)


class SafeScriptEngine(PythonScriptEngine):
    """The only script engine a procedure's workflow runs with."""

    def __init__(self) -> None:
        super().__init__(environment=SafeEnvironment())

    def validate(self, expression: str) -> None:
        compile_condition(expression)

    def evaluate(self, task: Any, expression: str, external_context: Any = None) -> bool:
        try:
            return _evaluate(expression, task.data, external_context)
        except ExpressionError as err:
            raise WorkflowTaskException(f"condition {expression!r} is refused: {err}", task=task) from None

    def execute(self, task: Any, script: str, external_context: Any = None) -> bool:
        raise WorkflowTaskException(NOTHING_IS_EXECUTED, task=task)

    def call_service(self, task: Any, **kwargs: Any) -> Any:
        raise WorkflowTaskException(NOTHING_IS_EXECUTED, task=task)
