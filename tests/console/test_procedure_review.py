"""The procedures review against the national catalogue as a console page (issue 13, item 2): the four lists with
the date of each change, the user's agencies only, the API's CSV and XLSX.

The world (tests/api/support.py): 9.000001 and 9.000002 deployed for every agency (statutory limit P5D) on
1 March 2026; now is 12 March 2026, when 9.000003 is deployed for OTHER_AGENCY only and 9.000004 for
OWN_AGENCY (the users' agencies cover it); and the catalogue says: 9.000001 has 10 working days from 1 March
2026 (5 before), 9.000002 was abolished on 10 March 2026, 1.111111 (no ISO procedure) has 3 working days from
1 February 2026.
"""

from __future__ import annotations

import html
import re
from pathlib import Path

from engine.api.roles import Role
from engine.application.catalogue import import_catalogue
from tests.api.support import OTHER_AGENCY, OWN_AGENCY, PROCEDURE
from tests.console.support import Console

A, LEAD, PO = Role.admin, Role.leader, Role.process_owner
URL = "/console/procedures/review"
CATALOGUE = """Mã thủ tục,Tên thủ tục,Cấp thực hiện,Lĩnh vực,Thời hạn giải quyết,Trạng thái,Ngày hiệu lực
9.000001,Thủ tục thử,Cấp tỉnh,Thử,05 ngày làm việc,Còn hiệu lực,01/01/2025
9.000001,Thủ tục thử,Cấp tỉnh,Thử,10 ngày làm việc kể từ ngày nhận đủ hồ sơ hợp lệ,Còn hiệu lực,01/03/2026
9.000002,Thủ tục thử hai,Cấp tỉnh,Thử,05 ngày làm việc,Đã bãi bỏ,10/03/2026
1.111111,Thủ tục chưa có quy trình,Cấp xã,Thử,03 ngày làm việc,Còn hiệu lực,01/02/2026
"""
SECTION = re.compile(r'<section class="review-list" id="review-([a-z_]+)" data-kind="[a-z_]+"[^>]*>(.*?)</section>',
                     re.S)
ROW = re.compile(r'<tr data-code="([^"]+)">(.*?)</tr>', re.S)
FIELD = re.compile(r'<td data-field="([a-z_]+)">(.*?)</td>', re.S)


def seed(console: Console, tmp_path: Path) -> None:
    eiso, clock = console.world.eiso, console.world.clock
    for code, agency in (("9.000003", OTHER_AGENCY), ("9.000004", OWN_AGENCY)):
        source = PROCEDURE.read_bytes().replace(b'value="9.000001"', f'value="{code}"'.encode())
        eiso.catalog.deploy(source, f"{code}.bpmn", clock.now(), [agency])
    path = tmp_path / "catalogue.csv"
    path.write_text(CATALOGUE, encoding="utf-8")
    result = import_catalogue(eiso.engine, path, clock.now())
    assert not result.problems, result.problems


def lists_of(page: str) -> dict[str, dict[str, dict[str, str]]]:
    """Per list (kind): per procedure code, its fields as text."""
    return {kind: {code: {name: html.unescape(re.sub(r"<[^>]+>", "", value)).strip()
                          for name, value in FIELD.findall(row)} for code, row in ROW.findall(body)}
            for kind, body in SECTION.findall(page)}


def test_the_review_lists_a_changed_limit_with_its_date_for_the_users_agencies(console: Console,
                                                                               tmp_path: Path) -> None:
    seed(console, tmp_path)
    procedures = console.browser(LEAD).get("/console/procedures")
    assert f'href="{URL}"' in procedures.text

    page = console.browser(LEAD).get(URL)
    assert page.status_code == 200, page.text
    lists = lists_of(page.text)
    assert list(lists) == ["limit_differs", "abolished_in_force", "not_deployed", "not_in_catalogue"]
    assert lists["limit_differs"] == {"9.000001": {"changed_on": "01/03/2026", "deployed_limit": "P5D",
                                                   "catalogue_limit": "P10D"}}
    assert lists["abolished_in_force"]["9.000002"]["changed_on"] == "10/03/2026"
    assert lists["not_deployed"]["1.111111"] == {"changed_on": "01/02/2026", "deployed_limit": "—",
                                                 "catalogue_limit": "P3D"}
    assert set(lists["not_in_catalogue"]) == {"9.000004"}  # 9.000003 is another agency's
    assert lists["not_in_catalogue"]["9.000004"]["changed_on"] == "12/03/2026"  # its deployment, today
    assert OTHER_AGENCY not in page.text and "9.000003" not in page.text
    assert "Thời hạn giải quyết khác CSDL quốc gia" in page.text

    everything = lists_of(console.browser(A).get(URL).text)
    assert set(everything["not_in_catalogue"]) == {"9.000003", "9.000004"}


def test_the_review_as_of_an_earlier_day(console: Console, tmp_path: Path) -> None:
    seed(console, tmp_path)
    lists = lists_of(console.browser(PO).get(URL, params={"at": "05/03/2026"}).text)
    assert lists["abolished_in_force"] == {}  # abolished from 10 March only
    assert lists["limit_differs"]["9.000001"]["changed_on"] == "01/03/2026"
    bad = console.browser(PO).get(URL, params={"at": "31/02/2026"})
    assert bad.status_code == 422 and 'id="e-at"' in bad.text and "Traceback" not in bad.text


def test_the_downloads_are_the_api_reports(console: Console, tmp_path: Path) -> None:
    seed(console, tmp_path)
    browser = console.browser(LEAD)
    csv = browser.get(URL + ".csv")
    assert csv.status_code == 200 and csv.headers["content-type"].startswith("text/csv")
    api = console.world.call(LEAD, "GET", "/reports/procedure-review", params={"format": "csv"})
    assert csv.content == api.content  # the API's bytes, the same user's findings
    text = csv.content.decode("utf-8")
    assert "Ngày thay đổi" in text and "9.000001" in text and "9.000003" not in text
    xlsx = browser.get(URL + ".xlsx")
    assert xlsx.status_code == 200 and xlsx.content[:2] == b"PK"
    browser.get("/console/lang/en", follow_redirects=False)
    assert "Changed on" in browser.get(URL + ".csv").content.decode("utf-8")
    assert "Statutory limit differs from the catalogue" in browser.get(URL).text
