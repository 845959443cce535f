"""The corrective-action cycle of a nonconformity (ISO 9001 clause 10.2), as a state machine.

    open --correction--> correction_recorded --cause--> cause_analysed --action--> action_planned
    action_planned --verification (effective)--> action_verified --close--> closed
    action_planned --verification (not effective)--> cause_analysed   (analyse again, plan again)
    cause_analysed --cause--> cause_analysed                            (revise the cause before planning)

``retracted`` is set only by the engine (an overdue record that turned out not late) and is
terminal here, like ``closed``. Pure: no I/O; the router applies the result.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import Enum

OPEN = "open"
CORRECTION_RECORDED = "correction_recorded"
CAUSE_ANALYSED = "cause_analysed"
ACTION_PLANNED = "action_planned"
ACTION_VERIFIED = "action_verified"
CLOSED = "closed"
RETRACTED = "retracted"

STATUSES = (OPEN, CORRECTION_RECORDED, CAUSE_ANALYSED, ACTION_PLANNED, ACTION_VERIFIED, CLOSED, RETRACTED)


class Command(str, Enum):
    correction = "correction"
    cause = "cause"
    action = "action"
    verification = "verification"
    close = "close"


@dataclass(frozen=True)
class Step:
    sources: frozenset[str]
    target: str
    verb: str


CYCLE: dict[Command, Step] = {
    Command.correction: Step(frozenset({OPEN}), CORRECTION_RECORDED, "record the correction"),
    Command.cause: Step(frozenset({CORRECTION_RECORDED, CAUSE_ANALYSED}), CAUSE_ANALYSED, "record the root cause"),
    Command.action: Step(frozenset({CAUSE_ANALYSED}), ACTION_PLANNED, "plan the corrective action"),
    Command.verification: Step(frozenset({ACTION_PLANNED}), ACTION_VERIFIED, "verify the action's effectiveness"),
    Command.close: Step(frozenset({ACTION_VERIFIED}), CLOSED, "close"),
}

_NEXT: dict[str, str] = {
    OPEN: "record the correction first",
    CORRECTION_RECORDED: "record the root cause next",
    CAUSE_ANALYSED: "plan the corrective action next",
    ACTION_PLANNED: "verify the action's effectiveness next",
    ACTION_VERIFIED: "close it next",
}


class TransitionRefused(Exception):
    """The command is not possible in the current status; the message says why and what comes next."""


def next_status(status: str, command: Command, effective: bool | None = None) -> str:
    """The status after ``command``, or ``TransitionRefused``."""
    step = CYCLE[command]
    if status == RETRACTED:
        raise TransitionRefused("the engine retracted this nonconformity (the step or case turned out not late); "
                                "it takes no corrective action")
    if status == CLOSED:
        raise TransitionRefused("the nonconformity is closed")
    if status not in step.sources:
        hint = _NEXT.get(status, "")
        raise TransitionRefused(f"cannot {step.verb} while the nonconformity is {status}" + (f": {hint}" if hint
                                                                                                 else ""))
    if command is Command.verification and effective is False:
        return CAUSE_ANALYSED
    return step.target


def allowed(status: str) -> list[Command]:
    """The commands possible from ``status``, in cycle order."""
    return [command for command, step in CYCLE.items() if status in step.sources]
