"""GET /reports/steps: the step statistics of one procedure version (the diagram's overlays), hand-computed.

Office hours 07:30-11:30 and 13:00-17:00 (8 working hours a day). Besides the world's two late cases
(OWN_CASE and OTHER_CASE: 'appraise' worked 35.5 h of its 16 h, completed late on Friday 6 March),
cases of OWN_AGENCY through 'appraise' (P2D, 16 working hours), now being Thursday 12 March 08:00:

* A1: appraise from Mon 9 March 08:30 to Tue 10 March 08:30: 7 h + 1 h = 8 h, on time;
* A2: appraise from Mon 9 March 08:30 to Wed 11 March 10:30: 7 h + 8 h + 3 h = 18 h, late;
* A3: appraise active since Tue 10 March 08:30, due Thu 12 March 08:30 (7 + 8 + 1 h): waiting, not overdue;
* A4: appraise active since Thu 5 March 08:30, due Mon 9 March 08:30: waiting and overdue;
* A5: appraise active since Thu 5 March 08:30, the case suspended on Fri 6 March: waiting, its clock
  paused (no due): not overdue.

'appraise' for every agency: completed 4 (8, 18, 35.5, 35.5 h), 3 late; median (18 + 35.5) / 2 = 26.75 h;
90th percentile: the value at index min(3, int(0.9 * 4)) = 3 of the sorted values, 35.5 h; waiting 3
(A3, A4, A5), overdue 1 (A4); breach rate (3 late + 1 overdue) / (4 completed + 1 overdue) = 0.8: bad.
"""

from __future__ import annotations

import csv
import io
from typing import Any

import pytest
from openpyxl import load_workbook

from engine.api.roles import Role
from tests.api.support import OTHER_AGENCY, OWN_AGENCY, USER_AGENCY, World, event, second_procedure

ADMIN, LEAD = Role.admin, Role.leader
MARCH = {"from": "2026-03-01", "to": "2026-04-01", "procedure": "9.000001", "version": 1}
TASKS = ["receive", "appraise", "consult", "review", "approve", "approve_exempt", "return_result"]


def ingest(world: World, *events: dict[str, Any]) -> None:
    for obj in events:
        assert world.eiso.service.ingest_object(obj, "test").status == "applied", obj


def through_receive(case_id: str, day: str) -> list[dict[str, Any]]:
    return [event(f"{case_id}-r", "case.received", f"{day} 08:00", case_id, OWN_AGENCY),
            event(f"{case_id}-1", "step.completed", f"{day} 08:30", case_id, OWN_AGENCY, "receive")]


def simulate(world: World) -> None:
    ingest(world,
           *through_receive("A1", "2026-03-09"),
           event("A1-2", "step.completed", "2026-03-10 08:30", "A1", OWN_AGENCY, "appraise"),
           *through_receive("A2", "2026-03-09"),
           event("A2-2", "step.completed", "2026-03-11 10:30", "A2", OWN_AGENCY, "appraise"),
           *through_receive("A3", "2026-03-10"),
           *through_receive("A4", "2026-03-05"),
           *through_receive("A5", "2026-03-05"),
           event("A5-s", "case.suspended", "2026-03-06 08:00", "A5", OWN_AGENCY))


def steps(world: World, role: Role = ADMIN, **params: Any) -> dict[str, dict[str, Any]]:
    response = world.call(role, "GET", "/reports/steps", params={**MARCH, **params})
    assert response.status_code == 200, response.text
    body = response.json()
    assert [s["step"] for s in body["steps"]] == TASKS  # every task of the version, in the file's order
    return {s["step"]: s for s in body["steps"]}


def test_the_figures_of_a_step_by_hand(world: World) -> None:
    simulate(world)
    appraise = steps(world)["appraise"]
    assert appraise == {
        "step": "appraise", "name": "Appraise", "unit": "Section officer", "allowance_hours": 16.0,
        "waiting": 3, "overdue": 1, "completed": 4, "completed_late": 3, "median_hours": 26.75, "p90_hours": 35.5,
        "breach_rate": 0.8, "level": "bad"}


def test_other_steps_and_steps_nothing_reached(world: World) -> None:
    simulate(world)
    by_step = steps(world)
    # receive: 7 cases, 1 h (the world's two) or 0.5 h each, none late: breach rate 0
    assert {k: by_step["receive"][k] for k in ("waiting", "completed", "completed_late", "median_hours", "p90_hours",
                                               "breach_rate", "level")} == {
        "waiting": 0, "completed": 7, "completed_late": 0, "median_hours": 0.5, "p90_hours": 1.0, "breach_rate": 0.0,
        "level": "ok"}
    # consult (P1D) active since appraise ended: the world's two (due Mon 9 March 14:00), A1 (due Wed 08:30),
    # A2 (from Wed 10:30, due Thu 10:30: not yet); review (PT4H): all four past due
    assert (by_step["consult"]["waiting"], by_step["consult"]["overdue"]) == (4, 3)
    assert (by_step["review"]["waiting"], by_step["review"]["overdue"]) == (4, 4)
    assert by_step["consult"]["breach_rate"] == 1.0 and by_step["consult"]["level"] == "bad"  # (0 + 3) / (0 + 3)
    assert by_step["return_result"] == {
        "step": "return_result", "name": "Return the result", "unit": "One-Stop unit", "allowance_hours": None,
        "waiting": 0, "overdue": 0, "completed": 0, "completed_late": 0, "median_hours": None, "p90_hours": None,
        "breach_rate": None, "level": "none"}


def test_the_period_bounds_the_completed_steps_not_the_waiting_ones(world: World) -> None:
    simulate(world)
    appraise = steps(world, **{"from": "2026-03-09", "to": "2026-03-11"})["appraise"]
    # only A1 completed in [9 March, 11 March): 8 h, on time; waiting and overdue are now's
    assert (appraise["completed"], appraise["completed_late"], appraise["median_hours"], appraise["p90_hours"]) == (
        1, 0, 8.0, 8.0)
    assert (appraise["waiting"], appraise["overdue"], appraise["breach_rate"], appraise["level"]) == (3, 1, 0.5, "bad")


def test_an_agency_bound_user_counts_only_their_agencies(world: World) -> None:
    simulate(world)
    appraise = steps(world, LEAD)["appraise"]
    # OTHER_CASE (000.00.13.H10) is not theirs: 8, 18 and 35.5 h, 2 late; median 18 h; p90 at min(2, 2) = 35.5 h
    assert {k: appraise[k] for k in ("waiting", "overdue", "completed", "completed_late", "median_hours",
                                     "p90_hours", "breach_rate")} == {
        "waiting": 3, "overdue": 1, "completed": 3, "completed_late": 2, "median_hours": 18.0, "p90_hours": 35.5,
        "breach_rate": 0.75}
    assert steps(world, LEAD)["consult"]["waiting"] == 3
    other = steps(world, ADMIN, agency=OTHER_AGENCY)  # the filter covers the codes below it
    assert (other["appraise"]["completed"], other["consult"]["waiting"], other["appraise"]["waiting"]) == (1, 1, 0)
    mine = steps(world, LEAD, agency=OTHER_AGENCY)  # a filter outside their agencies selects nothing
    assert all(s["waiting"] == s["completed"] == 0 for s in mine.values())
    assert steps(world, LEAD, agency=USER_AGENCY)["appraise"]["completed"] == 3


def test_a_version_of_another_agency_is_not_found(world: World) -> None:
    now = world.clock.now()
    world.eiso.catalog.deploy(second_procedure(), "second.bpmn", now, [OTHER_AGENCY])
    world.eiso.catalog.deploy(second_procedure(), "second.bpmn", now, [OWN_AGENCY])
    other = {**MARCH, "procedure": "9.000002", "scope": OTHER_AGENCY}
    assert world.call(LEAD, "GET", "/reports/steps", params=other).status_code == 404
    assert world.call(ADMIN, "GET", "/reports/steps", params=other).status_code == 200
    own = world.call(LEAD, "GET", "/reports/steps", params={**other, "scope": OWN_AGENCY})
    assert own.status_code == 200, own.text
    assert (own.json()["scope"], own.json()["agencies"]) == (OWN_AGENCY, [OWN_AGENCY])
    for missing in ({"version": 2}, {"procedure": "9.999999"}, {"scope": USER_AGENCY}):
        assert world.call(ADMIN, "GET", "/reports/steps", params={**MARCH, **missing}).status_code == 404, missing


@pytest.mark.parametrize(("params", "fragment"), [
    ({"procedure": None}, "procedure"),
    ({"version": 0}, "version"),
    ({"scope": "a b"}, "scope"),
    ({"from": "2026-04-01", "to": "2026-03-01"}, "after its start"),
    ({"format": "csv", "section": "dossiers"}, "section must be one of"),
])
def test_bad_parameters_answer_422(world: World, params: dict[str, Any], fragment: str) -> None:
    query = {k: v for k, v in {**MARCH, **params}.items() if v is not None}
    response = world.call(LEAD, "GET", "/reports/steps", params=query)
    assert response.status_code == 422 and fragment in response.text, response.text


@pytest.mark.parametrize(("lang", "heading", "rate", "level"), [
    ("vi", "Tỷ lệ vi phạm thời hạn", "80,0%", "Nghiêm trọng"), ("en", "Breach rate", "80.0%", "Bad")])
def test_csv_and_xlsx_in_the_language(world: World, lang: str, heading: str, rate: str, level: str) -> None:
    simulate(world)
    response = world.call(ADMIN, "GET", "/reports/steps", params={**MARCH, "format": "csv", "lang": lang})
    assert response.status_code == 200 and response.headers["content-type"].startswith("text/csv")
    rows = list(csv.reader(io.StringIO(response.text)))
    assert rows[0][-2:] == [heading, "Level" if lang == "en" else "Mức độ"]
    assert [r[0] for r in rows[1:]] == TASKS
    assert rows[2][-2:] == [rate, level] and rows[2][4:8] == ["3", "1", "4", "3"]
    book = load_workbook(io.BytesIO(world.call(ADMIN, "GET", "/reports/steps", params={
        **MARCH, "format": "xlsx", "lang": lang}).content))
    assert book.sheetnames == ["steps"]
    cells = next(book["steps"].iter_rows(min_row=3, max_row=3))
    assert (cells[-2].value, cells[-2].number_format, cells[-1].value) == (0.8, "0.0%", level)
