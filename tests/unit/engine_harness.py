"""Drive a case through the pure engine, optionally through a snapshot round-trip after every event."""

from __future__ import annotations

import itertools
import json
from dataclasses import dataclass, field
from datetime import datetime
from functools import cache
from pathlib import Path
from typing import Any

from engine.core.calendar import WorkingCalendar
from engine.core.case import Case
from engine.core.events import CaseEvent, parse_event
from engine.core.handling import CaseHandler
from engine.core.nonconformities import Nonconformity
from engine.core.procedure import LoadedProcedure
from engine.core.workflow import CaseWorkflow
from engine.procedures.loader import load_procedure

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures"
_ids = itertools.count(1)


@cache
def calendar() -> WorkingCalendar:
    return WorkingCalendar()


@cache
def test_procedure() -> LoadedProcedure:
    path = FIXTURES / "test-procedure.bpmn"
    return load_procedure(path.read_bytes(), path.name)


def at(text: str) -> str:
    """'2026-03-02 08:00' in Vietnam time as RFC 3339."""
    return datetime.fromisoformat(text + ":00+07:00").isoformat()


def vn(text: str) -> datetime:
    return datetime.fromisoformat(text + ":00+07:00")


def event(type_: str, when: str, step: str | None = None, case_id: str = "C-1", **extra: Any) -> CaseEvent:
    obj: dict[str, Any] = {
        "event_id": f"e{next(_ids)}", "type": type_, "case_id": case_id, "agency": "000.00.01.H10",
        "procedure": "9.000001", "occurred_at": at(when),
    }
    if step:
        obj["step"] = step
    for key, value in extra.items():
        obj[key] = at(value) if key == "due_at" else value
    return parse_event(obj)


@dataclass
class Run:
    handler: CaseHandler
    roundtrip: bool
    notes: list[str] = field(default_factory=list)

    @property
    def case(self) -> Case:
        return self.handler.case

    def apply(self, ev: CaseEvent) -> Run:
        applied = self.handler.apply(ev)
        self.notes.extend(applied.notes)
        self._maybe_roundtrip()
        return self

    def tick(self, when: str) -> Run:
        self.handler.tick(vn(when))
        self._maybe_roundtrip()
        return self

    def _maybe_roundtrip(self) -> None:
        if not self.roundtrip:
            return
        state = json.loads(json.dumps({"case": self.case.to_dict(), "workflow": self.handler.workflow.snapshot()}))
        procedure = self.handler.procedure
        self.handler = CaseHandler(Case.from_dict(state["case"]), CaseWorkflow.restore(procedure, state["workflow"]),
                                   procedure, self.handler.calendar)

    def ncs(self) -> list[Nonconformity]:
        """The standing records, as ``eiso nc list`` shows them (retracted ones left out)."""
        return sorted((n for n in self.case.nonconformities.values() if n.status != "retracted"),
                      key=lambda n: (n.type, n.step or ""))

    def retracted(self) -> list[Nonconformity]:
        return [n for n in self.case.nonconformities.values() if n.status == "retracted"]

    def nc_summary(self) -> list[tuple[str, str | None, float | None]]:
        return [(n.type, n.step, n.delay_working_hours) for n in self.ncs()]

    def run(self, step: str) -> Any:
        return [r for r in self.case.steps if r.step == step][-1]


def receive(when: str, roundtrip: bool, **extra: Any) -> Run:
    ev = event("case.received", when, **extra)
    handler, applied = CaseHandler.receive(ev, test_procedure(), 1, calendar())
    result = Run(handler, roundtrip)
    result.notes.extend(applied.notes)
    result._maybe_roundtrip()
    return result
