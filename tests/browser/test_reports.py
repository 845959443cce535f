"""The attainment report in Chromium (issue 12, item 6): the server-drawn SVG chart renders with a bar per
agency and the objective line, the table carries the API's totals, the filters work from the keyboard; no
console errors."""

from __future__ import annotations

from datetime import date, timedelta
from urllib.parse import urlencode

from selenium.webdriver.common.by import By
from selenium.webdriver.common.keys import Keys

from tests.browser.conftest import BOUND_AGENCY, Browser


def last_month() -> tuple[date, date]:
    """The demo's simulated month (last month): its first and last day."""
    last = date.today().replace(day=1) - timedelta(days=1)
    return last.replace(day=1), last


def test_the_attainment_page_draws_its_chart_and_agrees_with_the_api(browser: Browser) -> None:
    first, last = last_month()
    browser.sign_in("leader")
    browser.open("/console/reports/attainment?" + urlencode({"from": first.strftime("%d/%m/%Y"),
                                                              "to": last.strftime("%d/%m/%Y")}))
    svg = browser.wait_for(By.CSS_SELECTOR, "figure.chart svg")
    assert svg.is_displayed() and svg.size["width"] > 300 and svg.size["height"] > 150
    assert svg.get_attribute("role") == "img"
    bars = browser.driver.find_elements(By.CSS_SELECTOR, "figure.chart g.bar")
    heights = [float(bar.find_element(By.TAG_NAME, "rect").get_attribute("height") or 0) for bar in bars]
    assert bars and any(h > 0 for h in heights)  # the month had work: bars are drawn
    assert all(bar.get_attribute("data-label").endswith(".12.H10") for bar in bars)  # the leader's agencies only
    objective = browser.driver.find_element(By.CSS_SELECTOR, "figure.chart line.objective")
    drawn = browser.driver.execute_script(
        "const box = arguments[0].getBBox(); return [box.width, getComputedStyle(arguments[0]).strokeDasharray];",
        objective)
    assert drawn[0] > 100 and drawn[1] not in ("", "none")  # the objective's dashed line: reports.css applies
    browser.screenshot("reports-attainment")

    api = browser.site.api("GET", "/reports/attainment?" + urlencode(
        {"from": first.isoformat(), "to": (last + timedelta(days=1)).isoformat()}), role="leader")
    (total,) = api["totals"]
    row = browser.driver.find_element(By.CSS_SELECTOR, "table[data-table='attainment'] tr[data-kind='total']")
    for column in ("received", "resolved", "early", "on_time", "late", "open_overdue"):
        cell = row.find_element(By.CSS_SELECTOR, f"td[data-col='{column}']")
        assert cell.get_attribute("data-value") == str(total[column])
        assert cell.text.replace(".", "") == str(total[column])  # 1.234 in Vietnamese
    assert total["received"] > 0

    agency = browser.driver.find_element(By.ID, "f-agency")
    agency.clear()
    agency.send_keys(BOUND_AGENCY.replace("00.12", "31.12") + Keys.ENTER)  # a unit below the leader's agency
    browser.wait_until(lambda d: "agency=000.31.12.H10" in d.current_url)
    agencies = {cell.get_attribute("data-value") for cell in browser.driver.find_elements(
        By.CSS_SELECTOR, "table[data-table='attainment'] tr[data-kind='row'] td[data-col='agency']")}
    assert agencies <= {"000.31.12.H10"}
    assert browser.driver.find_elements(By.CSS_SELECTOR, "figure.chart svg") or not agencies
    assert browser.errors() == []
