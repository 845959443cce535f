"""Reports: the same figures as ``eiso report``, scoped; Pareto; Circular 01 indices; JSON, CSV and XLSX."""

from __future__ import annotations

import csv
import io
from datetime import datetime
from typing import Any

import pytest
from openpyxl import load_workbook

from engine.api.roles import Role
from engine.reporting.formats import Language
from engine.reporting.labels import LABELS
from engine.reports import HEADINGS, Period, build_report
from tests.api.support import OTHER_AGENCY, OWN_AGENCY, OWN_CASE, World, event, nc_key

ADMIN, LEAD = Role.admin, Role.leader
MARCH = {"from": "2026-03-01", "to": "2026-04-01"}


def ingest(world: World, *events: dict[str, Any]) -> None:
    for obj in events:
        assert world.eiso.service.ingest_object(obj, "test").status == "applied"


def resolve_some(world: World) -> None:
    """EARLY-1 early, ONTIME-1 on time (on the due's day), OWN_CASE late."""
    ingest(world,
           event("e-1", "case.received", "2026-03-10 08:00", "EARLY-1", OWN_AGENCY),
           event("e-2", "step.completed", "2026-03-10 09:00", "EARLY-1", OWN_AGENCY, "receive"),
           event("e-3", "case.result_ready", "2026-03-10 10:00", "EARLY-1", OWN_AGENCY),
           event("t-1", "case.received", "2026-03-02 08:00", "ONTIME-1", OWN_AGENCY),
           event("t-2", "case.result_ready", "2026-03-09 08:00", "ONTIME-1", OWN_AGENCY),
           event("own-4", "case.result_ready", "2026-03-11 10:00", OWN_CASE, OWN_AGENCY))


def report(world: World, name: str, role: Role = ADMIN, **params: Any) -> Any:
    response = world.call(role, "GET", f"/reports/{name}", params={**MARCH, **params})
    assert response.status_code == 200, response.text
    return response


def test_attainment_matches_the_cli_report(world: World) -> None:
    resolve_some(world)
    body = report(world, "attainment").json()
    zone = world.eiso.calendar.zone
    period = Period(datetime(2026, 3, 1, tzinfo=zone), datetime(2026, 4, 1, tzinfo=zone))
    cli = build_report(world.eiso.engine, world.eiso.catalog, world.eiso.calendar, period, 0.95)
    (total,) = body["totals"]
    assert {k: v for k, v in total.items() if k != "month"} == cli["totals"]
    assert [(r["agency"], r["early"], r["on_time"], r["late"], r["open_overdue"]) for r in body["rows"]] == [
        (OTHER_AGENCY, 0, 0, 0, 1), (OWN_AGENCY, 1, 1, 1, 0)]
    assert body["rows"][1]["on_time_rate"] == pytest.approx(0.6667) and body["rows"][1]["meets_objective"] is False
    scoped = report(world, "attainment", LEAD).json()
    assert [r["agency"] for r in scoped["rows"]] == [OWN_AGENCY]
    months = world.call(ADMIN, "GET", "/reports/attainment", params={**MARCH, "from": "2026-02-01"}).json()["totals"]
    assert [m["month"] for m in months] == ["2026-02", "2026-03"]
    assert report(world, "attainment", objective=0.6).json()["rows"][1]["meets_objective"] is True


def test_bottlenecks_rank_steps_by_90th_percentile_against_allowance(shared_world: World) -> None:
    steps = report(shared_world, "bottlenecks").json()["steps"]
    first = steps[0]
    assert (first["step"], first["unit"], first["allowance_hours"], first["completed"]) == (
        "appraise", "Section officer", 16.0, 2)
    assert (first["median_hours"], first["p90_hours"], first["p90_ratio"], first["over_allowance"]) == (
        35.5, 35.5, 2.219, 2)
    assert report(shared_world, "bottlenecks", LEAD).json()["steps"][0]["completed"] == 1


def test_nonconformities_by_type_and_root_cause(world: World) -> None:
    cycle = [("correction", {"correction": "c"}), ("cause", {"cause": "nobody covered", "category": "staff"})]
    for command, body in cycle:
        assert world.call(ADMIN, "POST", f"/nonconformities/{nc_key(OWN_CASE)}/{command}", json=body).status_code == 200
    data = report(world, "nonconformities", lang="en").json()
    assert data["total"] == 2 and data["not_analysed"] == 1
    assert data["by_type"] == [{"category": "step_late", "label": "Step completed late", "count": 2, "share": 1.0,
                                "cumulative_share": 1.0}]
    assert data["by_root_cause"] == [{"category": "staff", "label": "Staff", "count": 1, "share": 1.0,
                                      "cumulative_share": 1.0}]
    assert report(world, "nonconformities", LEAD).json()["total"] == 1


def test_circular_01_indices(world: World) -> None:
    resolve_some(world)
    data = report(world, "circular-01").json()
    assert [(d["case_id"], d["timeliness"], d["index1"], d["index2"]) for d in data["dossiers"]] == [
        ("ONTIME-1", "on_time", 1, None), ("EARLY-1", "early", 2, 1), (OWN_CASE, "late", 0, 0)]
    (agency,) = data["agencies"]
    assert (agency["agency"], agency["dossiers"], agency["index1_average"]) == (OWN_AGENCY, 3, 1.0)
    units = {u["unit"]: u for u in data["units"]}
    assert (units["One-Stop unit"]["steps"], units["One-Stop unit"]["points_1"]) == (2, 2)
    assert (units["Section officer"]["points_0"], units["Section officer"]["average"]) == (1, 0.0)


@pytest.mark.parametrize("lang", ["vi", "en"])
def test_csv_has_the_headings_of_the_language(shared_world: World, lang: str) -> None:
    response = report(shared_world, "attainment", format="csv", lang=lang)
    assert response.headers["content-type"].startswith("text/csv")
    rows = list(csv.reader(io.StringIO(response.text)))
    assert rows[0][1:4] == [HEADINGS[lang]["agency"], HEADINGS[lang]["procedure"], HEADINGS[lang]["received"]]
    assert [r[1] for r in rows[1:-1]] == [OTHER_AGENCY, OWN_AGENCY]  # then the month's totals row (issue 11)
    assert rows[-1][1:3] == [LABELS[Language(lang)].words["total"], ""]
    steps = report(shared_world, "bottlenecks", format="csv", lang=lang, section="steps").text
    assert HEADINGS[lang]["median_hours"] in steps.splitlines()[0]


def test_xlsx_opens_with_a_sheet_per_table(world: World) -> None:
    resolve_some(world)
    for name, sheets in (("attainment", ["attainment", "totals"]), ("circular-01", ["agencies", "units", "dossiers"]),
                         ("nonconformities", ["by_type", "by_root_cause"]), ("bottlenecks", ["steps"])):
        response = report(world, name, format="xlsx")
        assert response.headers["content-type"] == ("application/vnd.openxmlformats-officedocument."
                                                    "spreadsheetml.sheet")
        book = load_workbook(io.BytesIO(response.content), read_only=True)
        assert book.sheetnames == sheets
    book = load_workbook(io.BytesIO(report(world, "attainment", format="xlsx", lang="en").content))
    values = [list(r) for r in book["attainment"].iter_rows(values_only=True)]
    assert values[0][:3] == ["Month", "Agency", "Procedure"]
    assert values[2][:5] == ["2026-03", OWN_AGENCY, "9.000001", 3, 3]


@pytest.mark.parametrize(("params", "fragment"), [
    ({"from": "2026-04-01", "to": "2026-03-01"}, "after its start"),
    ({"from": "2020-01-01", "to": "2026-01-01"}, "at most"),
    ({"from": "2026-13-01"}, "from"),
    ({"format": "csv", "section": "nothing"}, "section must be one of"),
    ({"format": "pdf"}, "format"),
    ({"agency": "a b"}, "agency code"),
])
def test_bad_report_parameters_answer_422(shared_world: World, params: dict[str, Any], fragment: str) -> None:
    response = shared_world.call(LEAD, "GET", "/reports/attainment", params={**MARCH, **params})
    assert response.status_code == 422 and fragment in response.text


def test_outside_text_never_becomes_a_spreadsheet_formula(world: World) -> None:
    ingest(world, event("f-1", "case.received", "2026-03-10 08:00", "=HYPERLINK(\"http://x\")", OWN_AGENCY),
           event("f-2", "case.result_ready", "2026-03-10 10:00", "=HYPERLINK(\"http://x\")", OWN_AGENCY))
    text_csv = report(world, "circular-01", format="csv", section="dossiers").text
    assert "'=HYPERLINK" in text_csv
    book = load_workbook(io.BytesIO(report(world, "circular-01", format="xlsx").content))
    cells = [row[0] for row in book["dossiers"].iter_rows(min_row=2)]
    (cell,) = [c for c in cells if str(c.value).startswith("=")]
    assert cell.data_type == "s"


@pytest.mark.parametrize(("lang", "rate", "no", "total"), [("vi", "66,7%", "không", "Tổng cộng"),
                                                            ("en", "66.7%", "no", "Total")])
def test_csv_rates_are_percentages_in_the_language_with_a_totals_row(world: World, lang: str, rate: str, no: str,
                                                                     total: str) -> None:
    """Issue 11: the CSV said 0.6667 and True; a totals row comes from the summed counts, not an average."""
    resolve_some(world)
    rows = list(csv.reader(io.StringIO(report(world, "attainment", format="csv", lang=lang).text)))
    other, own, totals = rows[1:]
    assert own[1] == OWN_AGENCY and own[-2:] == [rate, no]
    assert other[-2:] == (["0,0%", no] if lang == "vi" else ["0.0%", no])
    assert totals[:3] == ["2026-03", total, ""] and totals[3:9] == ["4", "3", "1", "1", "1", "1"]
    assert totals[-2:] == (["50,0%", no] if lang == "vi" else ["50.0%", no])  # 2 of 4, never (0 + 66.7) / 2
    assert report(world, "attainment", lang=lang).json()["rows"][1]["on_time_rate"] == 0.6667  # JSON: the ratio


def test_xlsx_rates_are_percent_cells_and_words_are_vietnamese(world: World) -> None:
    resolve_some(world)
    book = load_workbook(io.BytesIO(report(world, "attainment", format="xlsx").content))
    sheet = book["attainment"]
    own = [c for c in sheet[3]]
    assert own[1].value == OWN_AGENCY
    assert (own[9].value, own[9].number_format, own[10].value) == (0.667, "0.0%", "không")
    last = [c.value for c in sheet[sheet.max_row]]
    assert last[:3] == ["2026-03", "Tổng cộng", None] and last[9:] == [0.5, "không"]
    dossiers = load_workbook(io.BytesIO(report(world, "circular-01", format="xlsx").content))["dossiers"]
    assert {row[4] for row in dossiers.iter_rows(min_row=2, values_only=True)} == {"Trước hạn", "Đúng hạn", "Quá hạn"}


def test_vietnamese_pareto_csv_names_types_in_words_beside_their_codes(world: World) -> None:
    rows = list(csv.reader(io.StringIO(report(world, "nonconformities", format="csv").text)))
    assert rows[0] == ["Mã loại", "Tên", "Số lượng", "Tỷ lệ", "Tỷ lệ cộng dồn"]  # not "Nguyên nhân" (root cause)
    assert rows[1][1:] == ["Bước xử lý trễ hạn", "2", "100,0%", "100,0%"]
