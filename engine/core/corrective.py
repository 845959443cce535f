"""The corrective-action cycle of a nonconformity (ISO 9001 clause 10.2), as a state machine.

    open --correction--> correction_recorded --cause--> cause_analysed --action--> action_planned
    action_planned --verification (effective)--> action_verified --close--> closed
    action_planned --verification (not effective)--> cause_analysed   (analyse again, plan again)
    cause_analysed --cause--> cause_analysed                            (revise the cause before planning)

``retracted`` is set only by the engine (an overdue record that turned out not late) and is
terminal here, like ``closed``. Pure: no I/O; ``engine.application.corrective`` applies the result.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import Enum

from engine.core.states import NonconformityStatus as Status

STATUSES: tuple[Status, ...] = tuple(Status)


class Command(str, Enum):
    correction = "correction"
    cause = "cause"
    action = "action"
    verification = "verification"
    close = "close"


@dataclass(frozen=True)
class Step:
    sources: frozenset[Status]
    target: Status
    verb: str


CYCLE: dict[Command, Step] = {
    Command.correction: Step(frozenset({Status.OPEN}), Status.CORRECTION_RECORDED, "record the correction"),
    Command.cause: Step(frozenset({Status.CORRECTION_RECORDED, Status.CAUSE_ANALYSED}), Status.CAUSE_ANALYSED,
                        "record the root cause"),
    Command.action: Step(frozenset({Status.CAUSE_ANALYSED}), Status.ACTION_PLANNED, "plan the corrective action"),
    Command.verification: Step(frozenset({Status.ACTION_PLANNED}), Status.ACTION_VERIFIED,
                               "verify the action's effectiveness"),
    Command.close: Step(frozenset({Status.ACTION_VERIFIED}), Status.CLOSED, "close"),
}

_NEXT: dict[str, str] = {
    Status.OPEN: "record the correction first",
    Status.CORRECTION_RECORDED: "record the root cause next",
    Status.CAUSE_ANALYSED: "plan the corrective action next",
    Status.ACTION_PLANNED: "verify the action's effectiveness next",
    Status.ACTION_VERIFIED: "close it next",
}


class TransitionRefused(Exception):
    """The command is not possible in the current status; the message says why and what comes next."""


def next_status(status: str, command: Command, effective: bool | None = None) -> Status:
    """The status after ``command``, or ``TransitionRefused``."""
    step = CYCLE[command]
    if status == Status.RETRACTED:
        raise TransitionRefused("the engine retracted this nonconformity (the step or case turned out not late); "
                                "it takes no corrective action")
    if status == Status.CLOSED:
        raise TransitionRefused("the nonconformity is closed")
    if status not in step.sources:
        hint = _NEXT.get(status, "")
        raise TransitionRefused(f"cannot {step.verb} while the nonconformity is {status}" + (f": {hint}" if hint
                                                                                                 else ""))
    if command is Command.verification and effective is False:
        return Status.CAUSE_ANALYSED
    return step.target


def allowed(status: str) -> list[Command]:
    """The commands possible from ``status``, in cycle order."""
    return [command for command, step in CYCLE.items() if status in step.sources]
