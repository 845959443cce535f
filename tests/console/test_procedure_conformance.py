"""The conformance on a procedure version's page (issue 14, item 2): the figures of ``GET /reports/conformance``
for the page's period and agency and the same user, the deviation kinds in the page's language, the variants, and
practice's picture beside the procedure (an SVG served by the console, within the user's agencies).

Besides the world's two open cases (tests/console/test_procedures.py), four cases of procedure 9.000001 close on
Wednesday 4 March 2026: two of OWN_AGENCY (000.31.12.H10, under the leader's 000.00.12.H10), one whole and one
that skips 'consult'; two of OTHER_AGENCY (000.00.13.H10), both whole. By hand: the leader sees 2 cases, 1
conforming (50,0%), one deviation 'consult' skipped in 1 case, two variants of 1 case each; the admin sees 4
cases, 3 conforming (75,0%), the same one deviation, the whole path in 3 cases and the skipping one in 1.
"""

from __future__ import annotations

import html
import re
from typing import Any

from engine.api.roles import Role
from tests.api.support import OTHER_AGENCY, OWN_AGENCY, event
from tests.console.support import Console

A, LEAD = Role.admin, Role.leader
VERSION = "/console/procedures/9.000001/versions/1"
PAGE_PERIOD = {"from": "01/03/2026", "to": "31/03/2026"}
API_PERIOD = {"from": "2026-03-01", "to": "2026-04-01", "procedure": "9.000001"}
WHOLE = ["receive", "appraise", "review", "consult", "approve", "return_result"]
SKIPPING = [s for s in WHOLE if s != "consult"]
FIGURE = re.compile(r'<dd data-field="([a-z_]+)">(.*?)</dd>', re.S)
DEVIATION = re.compile(r'<tr class="deviation" data-kind="([^"]+)" data-step="([^"]+)"><td>(.*?)</td><td>.*?</td>'
                       r'<td class="num" data-field="cases">(.*?)</td></tr>', re.S)
VARIANT = re.compile(r'<tr class="variant" data-path="([^"]+)"><td>.*?</td><td class="num" data-field="cases">(.*?)'
                     r'</td><td data-field="conforming">(.*?)</td><td class="num" data-field="median_hours">(.*?)'
                     r'</td></tr>', re.S)
PICTURE = re.compile(r'<img src="([^"]+)" alt="[^"]*" class="practice-picture">')


def _case(case_id: str, agency: str, steps: list[str]) -> list[dict[str, Any]]:
    out = [event(f"{case_id}-r", "case.received", "2026-03-02 08:00", case_id, agency)]
    out += [event(f"{case_id}-{i}", "step.completed", f"2026-03-03 {8 + i:02d}:00", case_id, agency, step)
            for i, step in enumerate(steps)]
    return [*out, event(f"{case_id}-x", "case.returned", "2026-03-04 09:00", case_id, agency)]


def _close_cases(console: Console) -> None:
    for obj in (_case("OWN-A", OWN_AGENCY, WHOLE) + _case("OWN-B", OWN_AGENCY, SKIPPING)
                + _case("OTHER-A", OTHER_AGENCY, WHOLE) + _case("OTHER-B", OTHER_AGENCY, WHOLE)):
        assert console.world.eiso.service.ingest_object(obj, "test").status == "applied"


def _vi(value: float, digits: int) -> str:
    return f"{value:,.{digits}f}".replace(",", " ").replace(".", ",").replace(" ", ".")


def _shown(page: str) -> dict[str, Any]:
    figures = {name: re.sub(r"\s+", " ", value).strip() for name, value in FIGURE.findall(page)}
    return {
        "figures": figures,
        "deviations": [(kind, step, html.unescape(label), cases)
                       for kind, step, label, cases in DEVIATION.findall(page)],
        "variants": [(html.unescape(path), cases, conforming, median)
                     for path, cases, conforming, median in VARIANT.findall(page)],
    }


def _expected(api: dict[str, Any]) -> dict[str, Any]:
    """The API's entry written the way the Vietnamese page writes it."""
    return {
        "figures": {
            "cases": str(api["cases"]), "conforming": str(api["conforming"]),
            "conformance_rate": _vi(api["conformance_rate"] * 100, 1) + "%",
            "log_fitness": _vi(api["log_fitness"], 4), "fitting_share": _vi(api["fitting_share"] * 100, 1) + "%",
            "rework": f"{api['cases_with_rework']} / {_vi(api['rework_hours'], 2)}",
        },
        "deviations": [(d["kind"], d["step"], {"step_skipped": "Bỏ qua bước"}[d["kind"]], str(d["cases"]))
                       for d in api["deviations"]],
        "variants": [(" ".join(v["path"]), str(v["cases"]), "có" if v["conforming"] else "không",
                      _vi(v["median_hours"], 2)) for v in api["variants"]],
    }


def test_the_page_shows_the_conformance_report_of_the_procedure(console: Console) -> None:
    _close_cases(console)
    for role, cases, conforming, rate, whole_cases in ((LEAD, "2", "1", "50,0%", "1"), (A, "4", "3", "75,0%", "3")):
        page = console.browser(role).get(VERSION, params=PAGE_PERIOD)
        assert page.status_code == 200, page.text
        answer = console.world.call(role, "GET", "/reports/conformance", params=API_PERIOD)
        assert answer.status_code == 200, answer.text
        [api] = answer.json()["procedures"]
        shown = _shown(page.text)
        assert shown == _expected(api), role
        # by hand
        figures = shown["figures"]
        assert (figures["cases"], figures["conforming"], figures["conformance_rate"]) == (cases, conforming, rate)
        assert [d[:2] + d[3:] for d in shown["deviations"]] == [("step_skipped", "consult", "1")]
        assert {(path, n) for path, n, _, _ in shown["variants"]} == {(" ".join(WHOLE), whole_cases),
                                                                      (" ".join(SKIPPING), "1")}
        assert {path: yes for path, _, yes, _ in shown["variants"]} == {" ".join(WHOLE): "có",
                                                                        " ".join(SKIPPING): "không"}
        # each case: received Monday 2 March 08:00, returned Wednesday 4 March 09:00: 8 + 8 + 1 working hours
        assert {median for _, _, _, median in shown["variants"]} == {"17,00"}


def test_an_agency_bound_user_sees_only_their_agencys_figures(console: Console) -> None:
    _close_cases(console)
    leader = _shown(console.browser(LEAD).get(VERSION, params=PAGE_PERIOD).text)
    admin_own = _shown(console.browser(A).get(VERSION, params={**PAGE_PERIOD, "agency": OWN_AGENCY}).text)
    assert leader == admin_own and leader["figures"]["cases"] == "2"
    admin_other = console.browser(A).get(VERSION, params={**PAGE_PERIOD, "agency": OTHER_AGENCY}).text
    assert _shown(admin_other)["figures"]["cases"] == "2" and _shown(admin_other)["deviations"] == []
    assert "Không có sai lệch nào." in admin_other
    # The leader may not ask for the other agency: the page's 422, without figures.
    refused = console.browser(LEAD).get(VERSION, params={**PAGE_PERIOD, "agency": OTHER_AGENCY})
    assert refused.status_code == 422 and _shown(refused.text)["figures"] == {}


def test_practice_is_a_picture_of_the_users_cases_with_the_pages_security_policy(console: Console) -> None:
    _close_cases(console)
    for role, cases in ((LEAD, 2), (A, 4)):
        page = console.browser(role).get(VERSION, params=PAGE_PERIOD).text
        found = PICTURE.search(page)
        assert found is not None
        url = html.unescape(found.group(1))
        assert url == VERSION + "/practice.svg?from=01%2F03%2F2026&to=31%2F03%2F2026"
        picture = console.browser(role).get(url)
        assert picture.status_code == 200, picture.text
        assert picture.headers["content-type"].startswith("image/svg+xml")
        assert "script-src 'self'" in picture.headers["content-security-policy"]
        assert picture.text.startswith("<svg") and "<script" not in picture.text
        assert f"Thực tế của {cases} hồ sơ đặt cạnh quy trình đã ban hành" in picture.text
        assert "bị bỏ qua ở 1 hồ sơ" in picture.text  # 'consult', skipped by OWN-B
    english = console.browser(LEAD)
    english.cookies.set("eiso_lang", "en", path="/console")
    page = english.get(VERSION, params=PAGE_PERIOD).text
    assert "Conformance to the procedure" in page and "Step skipped" in page and "50.0%" in page
    assert "Practice of 2 case(s) beside the documented procedure" in english.get(
        VERSION + "/practice.svg", params=PAGE_PERIOD).text
    english.cookies.delete("eiso_lang", path="/console")


def test_nothing_closed_says_so_and_the_picture_is_empty(console: Console) -> None:
    page = console.browser(LEAD).get(VERSION, params=PAGE_PERIOD)
    assert page.status_code == 200
    assert "Không có hồ sơ nào của thủ tục kết thúc trong kỳ." in page.text and PICTURE.search(page.text) is None
    picture = console.browser(LEAD).get(VERSION + "/practice.svg", params=PAGE_PERIOD)
    assert picture.status_code == 200 and "Không có hồ sơ nào của thủ tục kết thúc trong kỳ." in picture.text


def test_the_picture_refuses_what_the_page_refuses(console: Console) -> None:
    url = VERSION + "/practice.svg"
    assert console.browser(LEAD).get(url, params={"agency": OTHER_AGENCY}).status_code == 422
    assert console.browser(LEAD).get(url, params={"from": "x" * 200}).status_code == 422
    assert console.browser(LEAD).get(url, params={"from": "01/01/2020", "to": "31/12/2025"}).status_code == 422
    assert console.browser(Role.connector).get(url).status_code == 403
    answer = console.anonymous().get(url, follow_redirects=False)
    assert answer.status_code == 303 and answer.headers["location"].startswith("/console/signin?next=")
