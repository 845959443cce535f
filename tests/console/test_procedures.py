"""The procedures pages (issue 12, item 2): the list is the API's list for the same user, with open cases per
version; a version's page shows the API's step statistics (``GET /reports/steps``) on the diagram and in a
table; a step's overdue cases; the BPMN file; another agency's version is the 404 page; hostile query values
answer a clear 422 page, never a 500.

The world (tests/api/support.py): both procedures deployed for every agency; users bound to 000.00.12.H10;
OWN_CASE (000.31.12.H10, covered) and OTHER_CASE (000.00.13.H10, not covered), each received on Monday
2 March 2026 with 'appraise' completed late on Friday 6 March; now is Thursday 12 March 08:00, so both
cases wait at 'consult' and 'review', each overdue since Monday.
"""

from __future__ import annotations

import html
import json
import re
from typing import Any

import pytest

from engine.api.roles import Role
from tests.api.support import OTHER_AGENCY, OTHER_CASE, OWN_AGENCY, OWN_CASE, PROCEDURE, USER_AGENCY
from tests.console.support import Console

A, PO, LEAD, AUD, CONN = Role.admin, Role.process_owner, Role.leader, Role.auditor, Role.connector
VERSION = "/console/procedures/9.000001/versions/1"
STATS = re.compile(r'<script type="application/json" id="step-stats">(.*?)</script>', re.S)
LISTED = re.compile(r'<tbody class="procedure" data-code="([^"]+)">(.*?)</tbody>', re.S)
LISTED_ROW = re.compile(r'<tr class="version[^"]*" data-scope="([^"]+)" data-version="(\d+)">(.*?)</tr>', re.S)
STEP_ROW = re.compile(r'<tr id="step-[^"]+" data-step="([^"]+)"[^>]*>(.*?)</tr>', re.S)
CELL = re.compile(r'<td class="num" data-field="([a-z_]+)">(.*?)</td>', re.S)
OVERDUE_ROW = re.compile(r'<th scope="row"><a href="/console/cases/([^"]+)">')
OTHER_SOURCE = PROCEDURE.read_bytes().replace(b'value="P5D"', b'value="P10D"')


def stats_of(page: str) -> dict[str, dict[str, Any]]:
    found = STATS.search(page)
    assert found is not None, "the page has no step-stats block"
    return {s["step"]: s for s in json.loads(found.group(1))["steps"]}


def table_of(page: str) -> dict[str, dict[str, str]]:
    """The step table's numeric cells, by step, as text without markup."""
    return {step: {name: re.sub(r"<[^>]+>", "", value).strip() for name, value in CELL.findall(row)}
            for step, row in STEP_ROW.findall(page)}


def listed(page: str) -> list[tuple[str, str, int, str]]:
    """(code, scope, version, open cases) of each row of the list."""
    rows = []
    for code, body in LISTED.findall(page):
        for scope, version, cells in LISTED_ROW.findall(body):
            open_cases = re.search(r'<td class="num open-cases">([^<]*)</td>', cells)
            assert open_cases is not None
            rows.append((code, html.unescape(scope), int(version), open_cases.group(1)))
    return rows


def deploy_for(console: Console, agency: str, source: bytes = OTHER_SOURCE) -> dict[str, Any]:
    answer = console.world.call(A, "GET", "/procedures")  # warm: the world's client is open
    assert answer.status_code == 200
    deployed = console.world.call(A, "POST", "/procedures", params={"agency": agency},
                                  files={"file": ("other.bpmn", source, "application/xml")})
    assert deployed.status_code == 201, deployed.text
    result: dict[str, Any] = deployed.json()
    return result


def test_the_list_shows_what_the_api_lists_with_open_cases(console: Console) -> None:
    deploy_for(console, OTHER_AGENCY)
    for role, own_count in ((LEAD, "1"), (A, "2")):
        page = console.browser(role).get("/console/procedures")
        assert page.status_code == 200, page.text
        api = console.world.call(role, "GET", "/procedures").json()
        rows = listed(page.text)
        assert [(code, scope, version) for code, scope, version, _ in rows] == [
            (v["code"], v["scope"], v["version"]) for v in api]
        assert ("9.000001", "*", 1, own_count) in rows  # open cases of the version the user sees
        assert ("9.000002", "*", 1, "0") in rows
        assert "5 ngày làm việc" in page.text and "mọi đơn vị" in page.text
    leader = [(code, scope) for code, scope, _, _ in listed(console.browser(LEAD).get("/console/procedures").text)]
    assert ("9.000001", OTHER_AGENCY) not in leader  # another agency's own version is not listed
    retired = console.browser(LEAD).get("/console/procedures", params={"state": "retired"})
    assert retired.status_code == 200 and listed(retired.text) == []
    only = console.browser(LEAD).get("/console/procedures", params={"code": "9.000002"})
    assert [row[0] for row in listed(only.text)] == ["9.000002"]


def test_the_modeller_is_linked_for_procedure_writers_only(console: Console) -> None:
    assert 'href="/console/modeller"' in console.browser(PO).get("/console/procedures").text
    assert 'href="/console/modeller"' not in console.browser(LEAD).get("/console/procedures").text
    assert 'href="/console/modeller?code=9.000001&amp;version=1&amp;scope=%2A"' in console.browser(PO).get(VERSION).text
    assert "/console/modeller" not in console.browser(LEAD).get(VERSION).text


@pytest.mark.parametrize(("params", "api_params"), [
    ({}, {}),  # this month so far, every agency the user sees
    ({"from": "01/03/2026", "to": "12/03/2026", "agency": OWN_AGENCY},
     {"from": "2026-03-01", "to": "2026-03-13", "agency": OWN_AGENCY}),
    ({"from": "2026-03-07", "to": "2026-03-31"}, {"from": "2026-03-07", "to": "2026-04-01"}),
])
def test_the_version_page_shows_the_numbers_of_the_steps_report(console: Console, params: dict[str, str],
                                                                  api_params: dict[str, str]) -> None:
    for role in (LEAD, A):
        page = console.browser(role).get(VERSION, params=params)
        assert page.status_code == 200, page.text
        api = console.world.call(role, "GET", "/reports/steps",
                                 params={"procedure": "9.000001", "version": 1, **api_params})
        assert api.status_code == 200, api.text
        expected = {s["step"]: s for s in api.json()["steps"]}
        shown = stats_of(page.text)
        assert list(shown) == list(expected)
        for step, numbers in shown.items():
            for name in ("waiting", "overdue", "completed", "completed_late", "level"):
                assert numbers[name] == expected[step][name], (role, step, name)
        table = table_of(page.text)
        assert list(table) == list(expected)
    # One step, cell by cell, for the leader on this month: 'appraise' completed once, late, 35.5 working hours.
    page = console.browser(LEAD).get(VERSION).text
    api = {s["step"]: s for s in console.world.call(LEAD, "GET", "/reports/steps",
                                                    params={"procedure": "9.000001", "version": 1}).json()["steps"]}
    appraise = table_of(page)["appraise"]
    late, done = api["appraise"]["completed_late"], api["appraise"]["completed"]
    assert appraise["completed_late"] == f"{late} / {done}" == "1 / 1"
    assert appraise["median_hours"] == f"{api['appraise']['median_hours']:.2f}".replace(".", ",")
    assert appraise["allowance_hours"] == "16,00"
    assert appraise["breach_rate"] == "100,0%" and api["appraise"]["level"] == "bad"
    review = table_of(page)["review"]
    assert (review["waiting"], review["overdue"]) == ("1", "1") == (str(api["review"]["waiting"]),
                                                                     str(api["review"]["overdue"]))
    assert 'data-bpmn-url="/console/procedures/9.000001/versions/1/bpmn"' in page
    assert "bpmn-navigated-viewer.production.min.js" in page and "/console/static/diagram.js" in page


def test_a_step_lists_its_overdue_cases_as_the_statistics_count_them(console: Console) -> None:
    url = VERSION + "/steps/review/overdue"
    for role, cases in ((LEAD, [OWN_CASE]), (A, [OTHER_CASE, OWN_CASE])):
        page = console.browser(role).get(url)
        assert page.status_code == 200, page.text
        assert sorted(OVERDUE_ROW.findall(page.text)) == sorted(cases)
        assert len(cases) == stats_of(console.browser(role).get(VERSION).text)["review"]["overdue"]
    page = console.browser(A).get(url, params={"agency": OTHER_AGENCY}).text
    assert OVERDUE_ROW.findall(page) == [OTHER_CASE]
    assert OWN_AGENCY in console.browser(LEAD).get(url).text
    # The diagram and the table link there, with the agency filter kept.
    stats = stats_of(console.browser(LEAD).get(VERSION, params={"agency": OWN_AGENCY}).text)
    assert stats["review"]["url"] == url + f"?agency={OWN_AGENCY}"
    assert console.browser(LEAD).get(VERSION + "/steps/approve/overdue").status_code == 200
    assert "Không có hồ sơ nào đang quá hạn" in console.browser(LEAD).get(VERSION + "/steps/approve/overdue").text
    assert console.browser(LEAD).get(VERSION + "/steps/nothing/overdue").status_code == 404


def test_the_bpmn_file_is_the_apis_download(console: Console) -> None:
    mine = console.browser(LEAD).get(VERSION + "/bpmn")
    api = console.world.call(LEAD, "GET", "/procedures/9.000001/versions/1/bpmn")
    assert mine.status_code == api.status_code == 200
    assert mine.content == api.content == PROCEDURE.read_bytes()
    assert mine.headers["content-disposition"] == api.headers["content-disposition"]
    assert mine.headers["content-type"].startswith("application/xml")


def test_another_agencys_version_is_the_404_page_for_an_agency_bound_user(console: Console) -> None:
    deploy_for(console, OTHER_AGENCY)
    scoped = {"scope": OTHER_AGENCY}
    for url in (VERSION, VERSION + "/bpmn", VERSION + "/steps/review/overdue"):
        refused = console.browser(LEAD).get(url, params=scoped)
        assert refused.status_code == 404, url
        assert "thuộc đơn vị khác" in refused.text and "<?xml" not in refused.text
        assert console.world.call(LEAD, "GET", "/procedures/9.000001/versions/1",
                                  params={"agency": OTHER_AGENCY}).status_code == 404
        assert console.browser(A).get(url, params=scoped).status_code == 200, url
    assert console.browser(LEAD).get("/console/procedures/9.000001/versions/2").status_code == 404
    # The leader's own department's version is theirs to see.
    deploy_for(console, USER_AGENCY)
    assert console.browser(LEAD).get(VERSION, params={"scope": USER_AGENCY}).status_code == 200


def test_roles_and_sign_in(console: Console) -> None:
    assert console.browser(CONN).get("/console/procedures").status_code == 403
    assert console.browser(CONN).get(VERSION + "/bpmn").status_code == 403
    answer = console.anonymous().get(VERSION + "/bpmn", follow_redirects=False)
    assert answer.status_code == 303 and answer.headers["location"].startswith("/console/signin?next=")
    assert console.browser(AUD).get(VERSION).status_code == 200


@pytest.mark.parametrize("params", [
    {"from": "0001-01-01"}, {"to": "9999-12-31"}, {"from": "01/01/0001", "to": "31/12/9999"},
    {"from": "2026-03-31", "to": "2026-03-01"}, {"from": "01/01/1970", "to": "31/12/2200"},
    {"from": "x" * 20_000}, {"from": "%00"}, {"agency": "<script>alert(1)</script>"}, {"agency": "9" * 20_000},
    {"agency": OTHER_AGENCY}, {"agency": "=1+1"},
])
def test_hostile_filters_answer_a_clear_422_page(console: Console, params: dict[str, str]) -> None:
    answer = console.browser(LEAD).get(VERSION, params=params)
    assert answer.status_code == 422, answer.text[:500]
    assert 'role="alert"' in answer.text and "<script>alert" not in answer.text
    assert "step-stats" in answer.text  # the page is still there, with its form, without numbers


def test_a_nul_in_the_query_is_refused_before_any_page(console: Console) -> None:
    """The site's own guard (engine.api.app) answers 422 for a NUL anywhere in the path or query."""
    answer = console.browser(LEAD).get(VERSION, params={"from": "\x00"})
    assert answer.status_code == 422 and "NUL" in answer.text


@pytest.mark.parametrize(("url", "params"), [
    (VERSION, {"scope": "<script>"}),
    (VERSION + "/bpmn", {"scope": "x" * 10_000}),
    ("/console/procedures/9.000001/versions/99999999999999999999", {}),
    ("/console/procedures/9.000001/versions/0", {}),
    ("/console/procedures/" + "9" * 200 + "/versions/1", {}),
    ("/console/procedures", {"offset": "99999999999999999999"}),
    ("/console/procedures", {"offset": "-1"}),
    ("/console/procedures", {"state": "<b>"}),
    ("/console/procedures", {"code": "c" * 1000}),
    (VERSION + "/steps/review/overdue", {"agency": "<script>"}),
    (VERSION + "/steps/review/overdue", {"offset": "1e9"}),
])
def test_hostile_values_elsewhere_never_answer_500(console: Console, url: str, params: dict[str, str]) -> None:
    answer = console.browser(LEAD).get(url, params=params)
    assert answer.status_code == 422, (url, params, answer.status_code)
    assert "<script>" not in answer.text and "<b>" not in answer.text.replace("<body", "")


def test_the_page_has_a_legend_and_no_inline_script(console: Console) -> None:
    page = console.browser(LEAD).get(VERSION)
    assert "Chú giải màu" in page.text and "dưới 5%" in page.text and "từ 20%" in page.text
    for found in re.finditer(r"<script([^>]*)>(.*?)</script>", page.text, re.S):
        attributes, body = found.groups()
        assert "src=" in attributes or 'type="application/json"' in attributes, attributes
        assert "src=" not in attributes or not body.strip()
    assert " onclick=" not in page.text
    english = console.browser(LEAD)
    english.cookies.set("eiso_lang", "en", path="/console")
    assert "Numbers by step" in english.get(VERSION).text
    english.cookies.delete("eiso_lang", path="/console")


def test_recent_counts_once_and_again_in_the_background() -> None:
    """The pages' counts over the open cases: one count serves everyone for a while, concurrent askers wait for
    the one count, an older answer is served at once while it is counted again, a clock moved on counts again."""
    import threading
    import time
    from datetime import timedelta

    from engine.console.pages.procedures import Recent
    from tests.api.support import NOW

    counted: list[int] = []
    gate = threading.Event()

    def count() -> int:
        gate.wait(5)
        counted.append(len(counted) + 1)
        return len(counted)

    recent = Recent()
    answers: list[tuple[int, Any]] = []
    askers = [threading.Thread(target=lambda: answers.append(recent.get("k", NOW, count))) for _ in range(8)]
    for asker in askers:
        asker.start()
    time.sleep(0.2)
    gate.set()
    for asker in askers:
        asker.join(5)
    assert counted == [1] and answers == [(1, NOW)] * 8  # eight at once: one count
    assert recent.get("k", NOW + timedelta(seconds=5), count) == (1, NOW)  # still fresh
    assert recent.get("k", NOW + timedelta(seconds=Recent.STALE + 1), count) == (2, NOW + timedelta(
        seconds=Recent.STALE + 1))  # the clock moved on: counted again, now
    recent.TTL = 0.0  # every answer is old: given at once, and counted again in the background
    later = NOW + timedelta(seconds=Recent.STALE + 2)
    assert recent.get("k", later, count) == (2, NOW + timedelta(seconds=Recent.STALE + 1))
    deadline = time.monotonic() + 5
    while len(counted) < 3 and time.monotonic() < deadline:
        time.sleep(0.01)
    time.sleep(0.05)
    assert counted == [1, 2, 3] and recent.get("k", later, count)[0] in (3, 4)
