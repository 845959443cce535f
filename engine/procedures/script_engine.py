"""Moved to ``engine.core.script_engine`` (the core's workflow runs it: the core no longer imports
``engine.procedures``); kept so existing imports work."""

from engine.core.script_engine import (
    NOTHING_IS_EXECUTED,
    SafeEnvironment,
    SafeScriptEngine,
    ScriptRefusedError,
)

__all__ = ["NOTHING_IS_EXECUTED", "SafeEnvironment", "SafeScriptEngine", "ScriptRefusedError"]
