"""The Form 04 situation, from the core's one rule, and the slip as a use case on fake reads."""

from __future__ import annotations

from datetime import datetime
from types import SimpleNamespace
from typing import Any

import pytest

from engine.application.apology import CaseNotFound, NoApologyDue, apology_slip
from engine.core.apology import ApologySituation, CaseDue, apology_in_time, apology_situation
from tests.unit.engine_harness import calendar, vn

DUE = vn("2026-03-10 17:00")


def due(**changes: Any) -> CaseDue:
    values: dict[str, Any] = {"status": "in_progress", "due_at": DUE, "resolved_at": None, "closed_at": None,
                              "timeliness": None, "delay_seconds": None}
    return CaseDue(**{**values, **changes})


@pytest.mark.parametrize(("case", "extended", "now", "situation"), [
    (due(timeliness="late", delay_seconds=3600, resolved_at=vn("2026-03-11 09:00")), False, vn("2026-03-12 09:00"),
     ApologySituation.late),
    (due(), False, vn("2026-03-11 09:00"), ApologySituation.overdue),
    (due(), True, vn("2026-03-05 09:00"), ApologySituation.extended),
    (due(), False, vn("2026-03-10 09:00"), ApologySituation.at_risk),
])
def test_the_situation(case: CaseDue, extended: bool, now: datetime, situation: ApologySituation) -> None:
    assert apology_situation(case, extended, now, calendar()).situation is situation


def test_no_apology_is_due_with_working_time_left() -> None:
    with pytest.raises(NoApologyDue, match="working hours remain before the due"):
        apology_situation(due(), False, vn("2026-03-05 09:00"), calendar())


def test_in_time_means_a_working_day_before_the_due() -> None:
    assert apology_in_time(calendar(), vn("2026-03-09 17:00"), DUE)
    assert not apology_in_time(calendar(), vn("2026-03-10 08:00"), DUE)


class Reads:
    def __init__(self, extension: Any = None) -> None:
        self.row = SimpleNamespace(case_id="C-1", agency="000.00.01.H10", procedure="9.000001", procedure_scope="*",
                                   procedure_version=1, status="in_progress", due_at=DUE, resolved_at=None,
                                   closed_at=None, timeliness=None, delay_seconds=None, promised_at=None)
        self.extension = extension

    def case(self, case_id: str) -> Any:
        return self.row if case_id == "C-1" else None

    def first_extension(self, case_id: str) -> Any:
        return self.extension

    def procedure_name(self, code: str, scope: str, version: int) -> str | None:
        return "Test procedure"


def test_the_slip_of_an_extended_case() -> None:
    extension = SimpleNamespace(occurred_at=vn("2026-03-06 10:00"),
                                payload={"reason": "site visit", "due_at": "2026-03-13T17:00:00+07:00"})
    slip = apology_slip(Reads(extension), "C-1", calendar(), vn("2026-03-06 11:00"))
    assert slip.apology.situation is ApologySituation.extended
    assert (slip.reason, slip.apology_in_time, slip.procedure_name) == ("site visit", True, "Test procedure")
    assert slip.new_appointment == vn("2026-03-13 17:00")
    assert slip.original_appointment == DUE


def test_a_case_not_seen_is_not_found() -> None:
    with pytest.raises(CaseNotFound):
        apology_slip(Reads(), "C-1", calendar(), vn("2026-03-06 11:00"), visible=lambda agency: False)
    with pytest.raises(CaseNotFound):
        apology_slip(Reads(), "C-2", calendar(), vn("2026-03-06 11:00"))
