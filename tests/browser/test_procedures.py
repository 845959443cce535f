"""The procedures pages in Chromium (issue 12, item 2): from the list to a version, its diagram drawn by
bpmn-js with a badge on each task carrying the numbers of the table below it, a click on a task lists
its overdue cases; no console errors, and the bpmn.io watermark stays visible."""

from __future__ import annotations

from datetime import date, timedelta

from selenium.webdriver.common.by import By
from selenium.webdriver.support import expected_conditions
from selenium.webdriver.support.ui import WebDriverWait

from tests.browser.conftest import Browser

CODE = "1.001806"


def last_month() -> tuple[str, str]:
    """The demo's simulated month (last month), as the form writes it: first and last day, dd/mm/yyyy."""
    first_of_this = date.today().replace(day=1)
    last = first_of_this - timedelta(days=1)
    return last.replace(day=1).strftime("%d/%m/%Y"), last.strftime("%d/%m/%Y")


def table_numbers(browser: Browser) -> dict[str, tuple[str, str, str]]:
    """Per step of the table: (waiting, overdue, completed late / completed) as shown."""
    found = {}
    for row in browser.driver.find_elements(By.CSS_SELECTOR, "table.step-stats tbody tr"):
        cells = [str(row.find_element(By.CSS_SELECTOR, f"td[data-field='{name}']").text).strip()
                 for name in ("waiting", "overdue", "completed_late")]
        found[str(row.get_attribute("data-step"))] = (cells[0], cells[1], cells[2])
    return found


def test_from_the_list_to_a_diagram_with_the_tables_numbers_and_a_steps_overdue_cases(browser: Browser) -> None:
    browser.sign_in("leader")
    browser.open("/console/procedures")
    link = browser.driver.find_element(By.CSS_SELECTOR, f"tbody.procedure[data-code='{CODE}'] td.num a")
    link.click()
    browser.wait_for(By.ID, "diagram")
    start, last = last_month()
    for name, value in (("f-from", start), ("f-to", last)):
        field = browser.driver.find_element(By.ID, name)
        field.clear()
        field.send_keys(value)
    old_page = browser.driver.find_element(By.ID, "diagram")
    browser.driver.find_element(By.CSS_SELECTOR, "form.filters button[type=submit]").click()
    # the period's page replaces this one: wait for it, not for the old page's ready diagram
    WebDriverWait(browser.driver, 30).until(expected_conditions.staleness_of(old_page))
    browser.wait_for(By.CSS_SELECTOR, "#diagram[data-ready='true']", timeout=30)
    browser.screenshot("procedure-version")

    table = table_numbers(browser)
    assert table, "the page has a row per step"
    badges = browser.driver.find_elements(By.CSS_SELECTOR, "#diagram a.step-badge.open")
    assert len(badges) == len(table)  # every task of the version is on the diagram
    for badge in badges:
        step = badge.find_element(By.XPATH, "ancestor::*[@data-container-id][1]").get_attribute("data-container-id")
        waiting, overdue, _ = table[step]
        assert badge.text.replace(" ", "").replace("\n", "") == f"{waiting}/{overdue}".replace(".", "")
    for badge in browser.driver.find_elements(By.CSS_SELECTOR, "#diagram a.step-badge.completed"):
        step = badge.find_element(By.XPATH, "ancestor::*[@data-container-id][1]").get_attribute("data-container-id")
        assert badge.text.replace(" ", "").replace("\n", "") == table[step][2].replace(" ", "").replace(".", "")
    assert sum(int(late.split("/")[1].replace(".", "")) for _, _, late in table.values()) > 0  # the month had work
    # ... and they are the API's: GET /reports/steps for the same user, version and period
    day = date.today().replace(day=1)
    period = f"from={(day - timedelta(days=1)).replace(day=1).isoformat()}&to={day.isoformat()}"
    version = browser.driver.current_url.split("/versions/")[1].split("?")[0]
    api = browser.site.api("GET", f"/reports/steps?procedure={CODE}&version={version}&{period}", role="leader")
    for step in api["steps"]:
        shown = tuple(value.replace(".", "").replace(" ", "") for value in table[step["step"]])
        assert shown == (str(step["waiting"]), str(step["overdue"]),
                         f"{step['completed_late']}/{step['completed']}"), step
    watermark = browser.driver.find_element(By.CSS_SELECTOR, "#diagram .bjs-powered-by")
    assert watermark.is_displayed()
    assert browser.driver.find_element(By.CSS_SELECTOR, ".legend").is_displayed()

    # A click on the task with most overdue cases lists them, as many as the table says.
    step, (_, overdue, _) = max(table.items(), key=lambda item: int(item[1][1].replace(".", "")))
    shape = browser.driver.find_element(By.CSS_SELECTOR, f"#diagram g.djs-element[data-element-id='{step}']")
    browser.driver.execute_script(  # the shape's own click, as bpmn-js hears it (a badge may cover its centre)
        "arguments[0].dispatchEvent(new MouseEvent('click', {bubbles: true, clientX: arguments[1], "
        "clientY: arguments[2]}))", shape.find_element(By.CSS_SELECTOR, ".djs-hit"),
        shape.rect["x"] + 5, shape.rect["y"] + shape.rect["height"] - 5)
    browser.wait_until(lambda d: "/overdue" in d.current_url)
    rows = browser.driver.find_elements(By.CSS_SELECTOR, "table.overdue-cases tbody tr")
    assert len(rows) == min(int(overdue.replace(".", "")), 50)
    if rows:
        assert rows[0].find_element(By.CSS_SELECTOR, "a").get_attribute("href").split("/console/cases/")[1]
    browser.screenshot("procedure-step-overdue")
    assert browser.errors() == []
