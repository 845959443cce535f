"""Migrating running cases in Chromium (issue 13, item 1): on version 2's page, the form previews the move of a
running case with its step's old and new due, then migrates it, and the case page shows version 2."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from importlib.resources import files
from typing import Any

from lxml import etree
from selenium.webdriver.common.by import By

from engine.bootstrap import make_calendar
from engine.core.durations import parse_working_duration
from engine.settings import Settings
from tests.browser.conftest import Browser

# A copy of a bundled procedure under a code of its own, so that no other test's cases move.
CODE = "9.003806"
BUNDLED = (files("engine.bundled.bpmn") / "1.001806-cap-phep-so-cao-bang.bpmn").read_bytes()
SOURCE = BUNDLED.replace(b'name="procedureCode" value="1.001806"', f'name="procedureCode" value="{CODE}"'.encode())
CAMUNDA = "{http://camunda.org/schema/1.0/bpmn}"
AGENCY = "000.31.12.H10"


def with_allowance(source: bytes, step: str, deadline: str) -> bytes:
    """``source`` with ``step``'s ``deadline`` property set to ``deadline``."""
    tree = etree.fromstring(source)
    [found] = [p for p in tree.iter(f"{CAMUNDA}property")
               if p.get("name") == "deadline" and p.getparent().getparent().getparent().get("id") == step]
    found.set("value", deadline)
    written: bytes = etree.tostring(tree, xml_declaration=True, encoding="UTF-8")
    return written


def shown(at: datetime) -> str:
    return at.astimezone(make_calendar(Settings().calendar).zone).strftime("%d/%m/%Y %H:%M")


def test_preview_then_migrate_a_running_case_to_version_2(browser: Browser) -> None:
    site = browser.site
    assert site.api("POST", f"/procedures?filename={CODE}.bpmn", body=SOURCE,
                    content_type="application/xml")["version"] == 1
    received = datetime.now(UTC).replace(microsecond=0) + timedelta(seconds=1)
    case_id = f"MIGRATE-{received:%y%m%d%H%M%S}"
    answer = site.api("POST", "/events", body=[{
        "event_id": f"{case_id}-received", "type": "case.received", "case_id": case_id, "agency": AGENCY,
        "procedure": CODE, "occurred_at": received.isoformat()}])
    assert answer["results"][0]["status"] == "applied", answer
    version_2 = with_allowance(SOURCE, "receive_dossier", "P2D")
    assert site.api("POST", f"/procedures?filename={CODE}-v2.bpmn", body=version_2,
                    content_type="application/xml")["version"] == 2
    # by the legal calendar: the first step starts with the case; half a day before, two days after
    calendar = make_calendar(Settings().calendar)
    start = calendar.case_start(received)
    before, after = (shown(calendar.add(start, parse_working_duration(d))) for d in ("P0.5D", "P2D"))

    browser.sign_in("admin")
    browser.open(f"/console/procedures/{CODE}/versions/2")
    browser.wait_for(By.CSS_SELECTOR, ".migration-card summary").click()
    browser.driver.find_element(By.ID, "mig-agencies").send_keys(AGENCY)
    assert browser.driver.find_element(By.ID, "mig-to").get_attribute("value") == "2"
    browser.driver.find_element(By.CSS_SELECTOR, "button[name=action][value=preview]").click()
    browser.wait_for(By.ID, "migration-total")
    assert "1 hồ sơ sẽ chuyển, 0 hồ sơ ở lại." in browser.driver.find_element(By.ID, "migration-total").text
    row = browser.driver.find_element(By.CSS_SELECTOR, f"tbody[data-case='{case_id}']")
    cells = {cell.get_attribute("data-field"): cell.text
             for cell in row.find_elements(By.CSS_SELECTOR, "td[data-field]")}
    assert (cells["due_before"], cells["due_after"]) == (before, after)
    browser.screenshot("migration-preview")
    slip: dict[str, Any] = site.api("GET", f"/cases/{case_id}")
    assert slip["procedure_version"] == 1  # the preview wrote nothing

    browser.driver.find_element(By.CSS_SELECTOR, "button[name=action][value=migrate]").click()
    browser.wait_until(lambda d: "1 hồ sơ đã chuyển" in d.find_element(By.ID, "migration-total").text)
    browser.driver.find_element(By.CSS_SELECTOR, f"a[href='/console/cases/{case_id}']").click()
    browser.wait_until(lambda d: f"{CODE} phiên bản 2" in d.find_element(By.TAG_NAME, "body").text)
    slip = site.api("GET", f"/cases/{case_id}")
    step = next(s for s in slip["steps"] if s["step"] == "receive_dossier")
    assert shown(datetime.fromisoformat(step["due_at"])) == after
    assert browser.errors() == []


def test_the_review_against_the_national_catalogue_from_the_procedures_list(browser: Browser) -> None:
    browser.sign_in("leader")
    browser.open("/console/procedures")
    browser.wait_for(By.CSS_SELECTOR, "a[href='/console/procedures/review']").click()
    browser.wait_for(By.ID, "review-limit_differs")
    assert "Rà soát quy trình theo CSDL quốc gia về TTHC" in browser.text()
    browser.screenshot("procedure-review")
    assert browser.errors() == []
