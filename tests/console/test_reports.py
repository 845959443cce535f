"""The reports pages: the API's figures for the same user and filters, its CSV and XLSX as downloads,
the agency scope, the server-drawn chart, Grafana's links, and bad filters answered beside their field."""

from __future__ import annotations

import io
import json
import re
from datetime import datetime
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from openpyxl import load_workbook

from engine.api.roles import Role
from engine.console.app import create_site
from engine.console.pages import reports as pages
from engine.console.settings import ConsoleSettings
from engine.reporting.formats import Language
from engine.reporting.labels import LABELS
from tests.api.support import OTHER_AGENCY, OTHER_CASE, OWN_AGENCY, OWN_CASE, USER_AGENCY, World, event, nc_key
from tests.console.support import Console, sign_in

ROOT = Path(__file__).resolve().parents[2]
ADMIN, LEAD = Role.admin, Role.leader
# The same period written both ways: the page's days (``to`` included), the API's ``to`` (the day after).
PAGE_MARCH = {"from": "01/03/2026", "to": "31/03/2026"}
API_MARCH = {"from": "2026-03-01", "to": "2026-04-01"}
TABLES = {"attainment": ["attainment", "totals"], "bottlenecks": ["steps"],
          "nonconformities": ["by_type", "by_root_cause"], "circular-01": ["agencies", "units", "dossiers"]}


class Parsed(HTMLParser):
    """The report tables of a page: per ``data-table``, its rows as {column: data-value} and {column: text}."""

    def __init__(self, html: str):
        super().__init__()
        self.tables: dict[str, list[tuple[str, dict[str, str], dict[str, str]]]] = {}
        self.figures: dict[str, str] = {}
        self.bars: list[dict[str, str]] = []
        self._table: str | None = None
        self._cell: str | None = None
        self._text: list[str] = []
        self.feed(html)

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = {k: v or "" for k, v in attrs}
        if tag == "table" and "data-table" in a:
            self._table = a["data-table"]
            self.tables[self._table] = []
        elif tag == "tr" and self._table is not None and "data-kind" in a:
            self.tables[self._table].append((a["data-kind"], {}, {}))
        elif tag == "td" and self._table is not None and "data-col" in a:
            self._cell, self._text = a["data-col"], []
            self.tables[self._table][-1][1][self._cell] = a["data-value"]
        elif "data-figure" in a:
            self.figures[a["data-figure"]] = a["data-value"]
        elif tag == "g" and "bar" in a.get("class", ""):
            self.bars.append(a)

    def handle_endtag(self, tag: str) -> None:
        if tag == "td" and self._cell is not None and self._table is not None:
            self.tables[self._table][-1][2][self._cell] = "".join(self._text).strip()
            self._cell = None
        elif tag == "table":
            self._table = None

    def handle_data(self, data: str) -> None:
        if self._cell is not None:
            self._text.append(data)

    def values(self, table: str, kind: str = "row") -> list[dict[str, str]]:
        return [values for k, values, _ in self.tables[table] if k == kind]

    def texts(self, table: str, kind: str = "row") -> list[dict[str, str]]:
        return [texts for k, _, texts in self.tables[table] if k == kind]


def as_page(rows: list[dict[str, Any]]) -> list[dict[str, str]]:
    """JSON rows as the page's data-value attributes carry them."""
    return [{k: v if isinstance(v, str) else json.dumps(v) for k, v in row.items()} for row in rows]


def ingest(world: World, *events: dict[str, Any]) -> None:
    for obj in events:
        assert world.eiso.service.ingest_object(obj, "test").status == "applied"


def seed(world: World) -> None:
    """EARLY-1 early and ONTIME-1 on time in the users' agency, OWN_CASE late; OTHER_CASE resolved late in the
    other agency; a root cause for OWN_CASE's nonconformity."""
    ingest(world,
           event("e-1", "case.received", "2026-03-10 08:00", "EARLY-1", OWN_AGENCY),
           event("e-2", "step.completed", "2026-03-10 09:00", "EARLY-1", OWN_AGENCY, "receive"),
           event("e-3", "case.result_ready", "2026-03-10 10:00", "EARLY-1", OWN_AGENCY),
           event("t-1", "case.received", "2026-03-02 08:00", "ONTIME-1", OWN_AGENCY),
           event("t-2", "case.result_ready", "2026-03-09 08:00", "ONTIME-1", OWN_AGENCY),
           event("own-4", "case.result_ready", "2026-03-11 10:00", OWN_CASE, OWN_AGENCY),
           event("other-4", "case.result_ready", "2026-03-11 11:00", OTHER_CASE, OTHER_AGENCY))
    for command, body in (("correction", {"correction": "c"}), ("cause", {"cause": "nobody", "category": "staff"})):
        answer = world.call(ADMIN, "POST", f"/nonconformities/{nc_key(OWN_CASE)}/{command}", json=body)
        assert answer.status_code == 200, answer.text


def api(world: World, role: Role, report: str, **params: Any) -> Any:
    answer = world.call(role, "GET", f"/reports/{report}", params={**API_MARCH, **params})
    assert answer.status_code == 200, answer.text
    return answer


def console_page(console: Console, role: Role, url: str, **params: Any) -> Parsed:
    answer = console.browser(role).get(url, params={**PAGE_MARCH, **params})
    assert answer.status_code == 200, answer.text
    assert "Traceback" not in answer.text
    return Parsed(answer.text)


@pytest.mark.parametrize("role", [ADMIN, LEAD])
def test_each_report_page_shows_the_apis_figures_for_the_same_user_and_filters(console: Console, role: Role) -> None:
    seed(console.world)
    world = console.world
    body = api(world, role, "attainment", lang="vi").json()
    shown = console_page(console, role, "/console/reports/attainment")
    assert body["rows"] and shown.values("attainment") == as_page(body["rows"])
    assert shown.values("attainment", "total") == as_page(body["totals"])
    # the on-time rate reads as a percentage to one decimal in Vietnamese, as the CSV writes it
    csv_rows = api(world, role, "attainment", format="csv").text.splitlines()[1:]
    rates = [row.split(",", 9)[-1].rsplit(",", 1)[0].strip('"') for row in csv_rows]
    assert [r["on_time_rate"] for r in shown.texts("attainment")] + \
        [r["on_time_rate"] for r in shown.texts("attainment", "total")] == rates

    steps = api(world, role, "bottlenecks").json()["steps"]
    assert steps and console_page(console, role, "/console/reports/bottlenecks").values("steps") == as_page(steps)

    pareto = api(world, role, "nonconformities", lang="vi").json()
    shown = console_page(console, role, "/console/reports/nonconformities")
    assert shown.values("by_type") == as_page(pareto["by_type"]) and pareto["by_type"]
    assert shown.values("by_root_cause") == as_page(pareto["by_root_cause"]) and pareto["by_root_cause"]
    assert (shown.figures["total"], shown.figures["not_analysed"]) == (str(pareto["total"]),
                                                                       str(pareto["not_analysed"]))

    indices = api(world, role, "circular-01", limit=pages.DOSSIERS_PER_PAGE).json()
    shown = console_page(console, role, "/console/reports/circular-01")
    for table in ("agencies", "units", "dossiers"):
        assert indices[table] and shown.values(table) == as_page(indices[table]), table
    assert shown.figures["dossiers_total"] == str(indices["dossiers_total"])

    overview = console_page(console, role, "/console/reports")
    assert overview.values("totals", "total") == as_page(body["totals"])


def test_procedure_and_agency_filters_give_the_apis_figures(console: Console) -> None:
    seed(console.world)
    for params in ({"agency": OWN_AGENCY}, {"procedure": "9.000001"}, {"procedure": "9.000002"},
                   {"agency": USER_AGENCY, "procedure": "9.000001"}):
        body = api(console.world, LEAD, "attainment", **params).json()
        shown = console_page(console, LEAD, "/console/reports/attainment", **params)
        assert shown.values("attainment") == as_page(body["rows"]), params
        assert shown.values("attainment", "total") == as_page(body["totals"]), params


def test_the_attainment_chart_is_svg_drawn_on_the_server(console: Console) -> None:
    seed(console.world)
    browser = console.browser(ADMIN)
    one_month = browser.get("/console/reports/attainment", params=PAGE_MARCH).text
    svg = one_month[one_month.index("<svg"):one_month.index("</svg>")]
    assert 'role="img"' in svg and '<title id="chart-title">' in svg and '<desc id="chart-desc">' in svg
    assert 'class="objective"' in svg and "95,0%" in svg  # the objective as a line, labelled
    bars = Parsed(one_month).bars  # one month: a bar per agency, the rate as the CSV reads it
    assert [(b["data-label"], b["data-value"]) for b in bars] == [(OTHER_AGENCY, "0,0%"), (OWN_AGENCY, "66,7%")]
    assert [b["class"] for b in bars] == ["bar bad", "bar bad"]
    months = browser.get("/console/reports/attainment", params={**PAGE_MARCH, "from": "01/01/2026"})
    parsed = Parsed(months.text)
    assert [b["data-label"] for b in parsed.bars] == ["01/2026", "02/2026", "03/2026"]
    assert [b["data-value"] for b in parsed.bars] == [t["on_time_rate"] for t in parsed.texts("attainment", "total")]
    scripts = re.findall(r"<script\b[^>]*>", months.text)
    assert scripts and all("src=" in s or 'type="application/json"' in s for s in scripts)  # no inline script
    assert "script-src 'self'" in months.headers["content-security-policy"]


@pytest.mark.parametrize("lang", ["vi", "en"])
def test_downloads_are_the_apis_csv_and_xlsx(console: Console, lang: str) -> None:
    seed(console.world)
    browser = console.browser(LEAD)
    if lang == "en":
        browser.get("/console/lang/en?next=/console/reports")
    for report, sections in TABLES.items():
        for section in sections:
            mine = browser.get(f"/console/reports/{report}.csv", params={**PAGE_MARCH, "section": section})
            theirs = api(console.world, LEAD, report, format="csv", lang=lang, section=section)
            assert mine.status_code == 200 and mine.content == theirs.content, (report, section)
            assert mine.headers["content-type"] == theirs.headers["content-type"]
            assert mine.headers["content-disposition"] == theirs.headers["content-disposition"]
        mine = browser.get(f"/console/reports/{report}.xlsx", params=PAGE_MARCH)
        theirs = api(console.world, LEAD, report, format="xlsx", lang=lang)
        assert mine.status_code == 200 and mine.headers["content-type"] == theirs.headers["content-type"]
        assert mine.headers["content-disposition"] == theirs.headers["content-disposition"]
        ours, api_book = (load_workbook(io.BytesIO(r.content)) for r in (mine, theirs))
        assert ours.sheetnames == api_book.sheetnames == sections
        for name in sections:
            assert [[(c.value, c.number_format) for c in row] for row in ours[name].iter_rows()] == \
                [[(c.value, c.number_format) for c in row] for row in api_book[name].iter_rows()], (report, name)
        assert ours[sections[0]].cell(1, 1).value in {LABELS[Language(lang)].heading(c) for c in
                                                      ("month", "procedure", "type_code", "agency")}


def test_the_pages_download_links_carry_the_filters(console: Console) -> None:
    page = console.browser(LEAD).get("/console/reports/nonconformities",
                                     params={**PAGE_MARCH, "agency": OWN_AGENCY}).text
    links = re.findall(r'href="(/console/reports/nonconformities\.(?:csv|xlsx)[^"]*)"', page)
    assert len(links) == 3
    for written in links:
        link = written.replace("&amp;", "&")
        assert "from=01%2F03%2F2026" in link and "to=31%2F03%2F2026" in link and f"agency={OWN_AGENCY}" in link
        assert console.browser(LEAD).get(link).status_code == 200


def test_an_agency_bound_leader_sees_nothing_of_another_agency(console: Console) -> None:
    seed(console.world)
    world = console.world
    for report, tables in TABLES.items():
        theirs = world.call(LEAD, "GET", f"/reports/{report}", params={**API_MARCH, "agency": OTHER_AGENCY})
        assert theirs.status_code == 200  # the API: the filter within the user's scope, nothing of it
        answer = console.browser(LEAD).get(f"/console/reports/{report}", params={**PAGE_MARCH,
                                                                                  "agency": OTHER_AGENCY})
        assert answer.status_code == 200 and OTHER_CASE not in answer.text
        assert "không thuộc phạm vi của bạn" in answer.text  # said, not hidden
        shown, body = Parsed(answer.text), theirs.json()
        if report == "attainment":
            assert shown.values("attainment") == as_page(body["rows"]) == []
            assert shown.values("attainment", "total") == as_page(body["totals"])
        else:
            for table in tables:
                assert shown.values(table) == as_page(body[table]) == [], (report, table)
        for table in shown.tables:
            assert all(OTHER_AGENCY not in values.values() for values in shown.values(table)), (report, table)
        download = console.browser(LEAD).get(f"/console/reports/{report}.csv", params={**PAGE_MARCH,
                                                                                        "agency": OTHER_AGENCY})
        api_csv = world.call(LEAD, "GET", f"/reports/{report}", params={**API_MARCH, "agency": OTHER_AGENCY,
                                                                         "format": "csv"})
        assert download.content == api_csv.content and OTHER_CASE.encode() not in download.content
    attainment = Parsed(console.browser(LEAD).get("/console/reports/attainment", params=PAGE_MARCH).text)
    assert {r["agency"] for r in attainment.values("attainment")} == {OWN_AGENCY}  # without a filter: own only
    circular = console.browser(LEAD).get("/console/reports/circular-01", params=PAGE_MARCH).text
    assert OTHER_CASE not in circular and OWN_CASE in circular


def test_grafana_links_appear_only_when_grafana_is_set(console: Console) -> None:
    token = console.world.tokens[LEAD]
    # (ConsoleSettings(grafana_url=...) is ignored: the field is read by its alias EISO_GRAFANA_URL)
    unset = ConsoleSettings().model_copy(update={"grafana_url": None})
    plain = sign_in(TestClient(create_site(console.world.eiso, settings=unset)), token)
    assert "/d/eiso-leaders" not in plain.get("/console/reports").text and "grafana" not in plain.get(
        "/console/reports/attainment").text.lower()
    grafana = ConsoleSettings().model_copy(update={"grafana_url": "https://grafana.example/"})
    site = create_site(console.world.eiso, settings=grafana)
    with sign_in(TestClient(site), token) as browser:
        page = browser.get("/console/reports/attainment", params={**PAGE_MARCH, "agency": OWN_AGENCY,
                                                                  "procedure": "9.000001"}).text
        links = [link.replace("&amp;", "&") for link in re.findall(r'href="(https://grafana\.example/[^"]+)"', page)]
        leaders, procedure = links
        assert leaders.startswith("https://grafana.example/d/eiso-leaders?") and f"var-agency={OWN_AGENCY}" in leaders
        assert procedure.startswith("https://grafana.example/d/eiso-procedure?")
        assert "var-procedure=9.000001" in procedure and f"var-agency={OWN_AGENCY}" in procedure
        march = [int(datetime.fromisoformat(day).timestamp() * 1000)
                 for day in ("2026-03-01T00:00:00+07:00", "2026-04-01T00:00:00+07:00")]
        assert f"from={march[0]}" in leaders and f"to={march[1]}" in leaders  # the period, in Grafana's ms
        overview = browser.get("/console/reports").text
        assert "https://grafana.example/d/eiso-leaders?from=" in overview and "var-agency" not in overview
    plain.close()
    # the uids are the dashboards' own, and both dashboards take the agency as a variable
    for uid, name in ((pages.GRAFANA_LEADERS, "leaders.json"), (pages.GRAFANA_PROCEDURE, "procedure.json")):
        dashboard = json.loads((ROOT / "monitoring" / "grafana" / "dashboards" / name).read_text())
        assert dashboard["uid"] == uid
        assert "agency" in {v["name"] for v in dashboard["templating"]["list"]}


@pytest.mark.parametrize(("params", "field", "message"), [
    ({"from": "01/04/2026", "to": "01/03/2026"}, "to", "Ngày kết thúc phải từ ngày bắt đầu trở đi"),
    ({"from": "01/01/2020", "to": "31/12/2025"}, "to", "tối đa 3 năm"),
    ({"from": "01/01/0001"}, "from", "Ngày không hợp lệ"),
    ({"to": "31/12/9999"}, "to", "Ngày không hợp lệ"),
    ({"from": "0001-01-01"}, "from", "Ngày không hợp lệ"),
    ({"to": "31/12/2200"}, "to", "Ngày không hợp lệ"),
    ({"from": "30/02/2026"}, "from", "Ngày không hợp lệ"),
    ({"agency": "000.00.12"}, "agency", "Mã đơn vị không hợp lệ"),
    ({"agency": "<script>alert(1)</script>"}, "agency", "Mã đơn vị không hợp lệ"),
    ({"procedure": "<img src=x onerror=alert(1)>"}, "procedure", "Không có thủ tục này"),
    ({"procedure": "x" * 5000}, "procedure", "Không có thủ tục này"),
])
def test_bad_filters_answer_422_with_the_message_beside_the_field(console: Console, params: dict[str, str],
                                                                   field: str, message: str) -> None:
    browser = console.browser(LEAD)
    for url in ("/console/reports", *(f"/console/reports/{name}" for name in TABLES),
                "/console/reports/attainment.csv", "/console/reports/circular-01.xlsx"):
        answer = browser.get(url, params={**PAGE_MARCH, **params})
        assert answer.status_code == 422, (url, answer.text)
        assert answer.headers["content-type"].startswith("text/html")
        found = re.search(rf'<p class="error" id="e-{field}" role="alert">([^<]*)</p>', answer.text)
        assert found is not None and message in found.group(1), url
        assert "<script>alert" not in answer.text and "<img src=x" not in answer.text and "\x00" not in answer.text
        assert "Traceback" not in answer.text and 'data-table="' not in answer.text  # no figures for bad filters


def test_nul_in_a_filter_is_refused(console: Console) -> None:
    """The site's request guard (engine.api.limits) refuses a NUL in any query before the console sees it."""
    for url in ("/console/reports/attainment", "/console/reports/attainment.csv"):
        answer = console.browser(LEAD).get(url, params={"procedure": "9.000001\x00", "agency": "\x00"})
        assert answer.status_code == 422 and "\x00" not in answer.text and "Traceback" not in answer.text


def test_bad_download_parameters_and_roles(console: Console) -> None:
    browser = console.browser(LEAD)
    assert browser.get("/console/reports/attainment.csv", params={"section": "units"}).status_code == 422
    assert browser.get("/console/reports/attainment.csv", params={"section": "nothing"}).status_code == 422
    assert browser.get("/console/reports/everything.csv").status_code == 404
    assert browser.get("/console/reports/circular-01", params={"offset": "-1"}).status_code == 422
    refused = console.browser(Role.connector).get("/console/reports/attainment")
    assert refused.status_code == 403 and "data-table" not in refused.text
    assert console.browser(Role.connector).get("/console/reports/attainment.xlsx").status_code == 403
    anonymous = console.anonymous().get("/console/reports/bottlenecks.csv?section=steps", follow_redirects=False)
    assert anonymous.status_code == 303 and anonymous.headers["location"].startswith("/console/signin?next=")
    for role in (Role.process_owner, Role.iso_secretary, Role.auditor):
        assert console.browser(role).get("/console/reports").status_code == 200


def test_defaults_are_this_month_up_to_today_as_the_api(console: Console) -> None:
    seed(console.world)
    page = console.browser(ADMIN).get("/console/reports/attainment")
    assert 'name="from" type="text" value="01/03/2026"' in page.text
    assert 'name="to" type="text" value="12/03/2026"' in page.text  # NOW is 12 March 2026
    body = console.world.call(ADMIN, "GET", "/reports/attainment").json()  # the API's defaults
    assert Parsed(page.text).values("attainment") == as_page(body["rows"])


def test_english_pages_use_the_reports_labels(console: Console) -> None:
    seed(console.world)
    browser = console.browser(ADMIN)
    browser.get("/console/lang/en?next=/console/reports")
    page = browser.get("/console/reports/attainment", params=PAGE_MARCH).text
    headings = LABELS[Language.en].headings
    for column in ("month", "agency", "on_time_rate", "meets_objective", "open_overdue"):
        assert f'data-col="{column}">{headings[column]}</th>' in page
    assert Parsed(page).texts("attainment")[1]["on_time_rate"] == "66.7%"
    steps = browser.get("/console/reports/bottlenecks", params=PAGE_MARCH).text
    assert f'data-col="p90_ratio">{headings["p90_ratio"]}</th>' in steps


def test_circular_01_dossiers_are_paged_like_the_api(console: Console, monkeypatch: pytest.MonkeyPatch) -> None:
    seed(console.world)
    monkeypatch.setattr(pages, "DOSSIERS_PER_PAGE", 2)
    browser = console.browser(ADMIN)
    first = browser.get("/console/reports/circular-01", params=PAGE_MARCH).text
    theirs = api(console.world, ADMIN, "circular-01", limit=2, offset=0).json()
    assert Parsed(first).values("dossiers") == as_page(theirs["dossiers"]) and theirs["dossiers_total"] == 4
    following = re.search(r'href="([^"]+)" rel="next"', first)
    assert following is not None and "offset=2" in following.group(1)
    second = browser.get(following.group(1).replace("&amp;", "&")).text
    theirs = api(console.world, ADMIN, "circular-01", limit=2, offset=2).json()
    assert Parsed(second).values("dossiers") == as_page(theirs["dossiers"])
    assert 'rel="next"' not in second and 'rel="prev"' in second
