"""Conformance and practice from the store's rows (SQLite and PostgreSQL), on cases run through the engine.

The rework procedure (tests.conformance.support.REWORK): receive, appraise, review, back to appraise when the
review sets ``again``, approve. Every step's allowance is 4 working hours.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

import pytest
from sqlalchemy import true
from sqlmodel import Session

from engine.bootstrap import App
from engine.reporting.conformance import ConformanceTables, Models, conformance_report, conforming_counts
from engine.reporting.period import Period
from engine.reporting.practice import practice_report
from engine.reporting.practice_svg import practice_svg
from engine.store.cases import CASES, STEPS
from engine.store.tables import NonconformityRow
from tests.conformance.support import REWORK
from tests.unit.engine_harness import at

AGENCY = "000.00.01.H10"
TABLES = ConformanceTables(CASES, STEPS, NonconformityRow.__table__)  # type: ignore[attr-defined]
MARCH = Period(datetime.fromisoformat("2026-03-01T00:00:00+07:00"), datetime.fromisoformat("2026-04-01T00:00:00+07:00"))


def _events(case_id: str, steps: list[tuple[str, str, dict[str, Any]]], closed: str | None) -> list[dict[str, Any]]:
    base: dict[str, Any] = {"case_id": case_id, "agency": AGENCY, "procedure": "9.000101"}
    out = [base | {"event_id": f"{case_id}-r", "type": "case.received", "occurred_at": at("2026-03-02 08:00")}]
    for i, (step, when, data) in enumerate(steps):
        out.append(base | {"event_id": f"{case_id}-{i}", "type": "step.completed", "step": step,
                           "occurred_at": at(when), "data": data})
    if closed:
        out.append(base | {"event_id": f"{case_id}-x", "type": "case.returned", "occurred_at": at(closed)})
    return out


CASES_RUN = [
    # rework: sent back at 10:00, appraised again 10:00-11:00 (1 h), reviewed again 11:00-13:30 (1 h)
    _events("C-1", [("receive", "2026-03-02 08:30", {}), ("appraise", "2026-03-02 09:00", {}),
                    ("review", "2026-03-02 10:00", {"again": True}), ("appraise", "2026-03-02 11:00", {}),
                    ("review", "2026-03-02 13:30", {"again": False}), ("approve", "2026-03-02 14:00", {})],
            "2026-03-03 09:00"),
    _events("C-2", [("receive", "2026-03-02 08:30", {}), ("appraise", "2026-03-02 09:00", {}),
                    ("review", "2026-03-02 10:00", {}), ("approve", "2026-03-02 11:00", {})], "2026-03-03 09:00"),
    # appraise skipped: the review completed while appraise was the active step
    _events("C-3", [("receive", "2026-03-02 08:30", {}), ("review", "2026-03-02 10:00", {}),
                    ("approve", "2026-03-02 11:00", {})], "2026-03-03 09:00"),
    # an activity the procedure does not have
    _events("C-4", [("receive", "2026-03-02 08:30", {}), ("photocopy", "2026-03-02 08:45", {}),
                    ("appraise", "2026-03-02 09:00", {}), ("review", "2026-03-02 10:00", {}),
                    ("approve", "2026-03-02 11:00", {})], "2026-03-03 09:00"),
    # still open: not judged
    _events("C-5", [("receive", "2026-03-02 08:30", {})], None),
]


@pytest.fixture
def run(app: App) -> App:
    app.catalog.deploy(REWORK, "rework.bpmn", app.clock.now())
    for events in CASES_RUN:
        for event in events:
            app.service.ingest_object(event, "test")
    return app


def test_the_procedure_conformance_of_the_cases_closed_in_the_period(run: App) -> None:
    with Session(run.engine) as session:
        [report] = conformance_report(session, TABLES, true(), MARCH, run.calendar, run.catalog)
    assert (report["procedure"], report["cases"], report["conforming"], report["conformance_rate"]) == (
        "9.000101", 4, 1, 0.25)
    # C-3 alone does not fit: missing 1 of 4 consumed, remaining 1 of 4 produced; the others fit
    assert (report["fitting"], report["fitting_share"]) == (3, 0.75)
    # summed tokens: C-1 8+8, C-2 5+5, C-3 4+4 with 1 missing and 1 remaining, C-4 5+5
    assert report["log_fitness"] == round(0.5 * (1 - 1 / 22) + 0.5 * (1 - 1 / 22), 4)
    assert report["deviations"] == [
        {"kind": "activity_not_in_procedure", "step": "photocopy", "cases": 1},
        {"kind": "step_repeated", "step": "appraise", "cases": 1},
        {"kind": "step_repeated", "step": "review", "cases": 1},
        {"kind": "step_skipped", "step": "appraise", "cases": 1},
    ]
    assert (report["cases_with_rework"], report["rework_hours"]) == (1, 2.0)
    assert report["variant_count"] == 4
    paths = {tuple(v["path"]): (v["cases"], v["conforming"]) for v in report["variants"]}
    assert paths[("receive", "appraise", "review", "approve")] == (1, True)
    assert paths[("receive", "review", "approve")] == (1, False)


def test_the_conforming_counts_by_agency_and_procedure(run: App) -> None:
    with Session(run.engine) as session:
        counts = conforming_counts(session, TABLES, true(), MARCH, run.calendar, Models(run.catalog))
    assert counts == {(AGENCY, "9.000101"): (1, 4)}


def test_practice_beside_the_procedure(run: App) -> None:
    with Session(run.engine) as session:
        report = practice_report(session, TABLES, true(), MARCH, run.calendar, run.catalog, "9.000101")
    assert report is not None
    edges = {(e["from"], e["to"]): (e["cases"], e["in_procedure"]) for e in report["edges"]}
    assert edges[("receive", "appraise")] == (2, True)
    assert edges[("review", "appraise")] == (1, True)  # the rework loop is drawn in the procedure
    assert edges[("receive", "review")] == (1, False)
    assert report["skipped_steps"] == [{"step": "appraise", "cases": 1}]
    assert {(h["from"], h["to"]) for h in report["handovers_not_in_procedure"]} == {
        ("receive", "review"), ("receive", "photocopy"), ("photocopy", "appraise")}
    assert report["allowance_exceeded"] == []
    svg = practice_svg(report)
    assert svg.startswith("<svg") and "photocopy" in svg and "ngoài quy trình" in svg
