"""The nonconformities pages in Chromium (issue 12, item 5): a nonconformity of the simulated month taken
from open to closed through the page's forms, the ISO secretary recording the correction, the cause and
the action, the leader the verification and the closing, and its audit trail shown; no console errors."""

from __future__ import annotations

from datetime import datetime, timedelta
from urllib.parse import quote
from zoneinfo import ZoneInfo

from selenium.webdriver.common.by import By
from selenium.webdriver.support.ui import Select

from tests.browser.conftest import BOUND_AGENCY, Browser

STEPS = ("nonconformity.correction", "nonconformity.cause", "nonconformity.action", "nonconformity.verification",
         "nonconformity.close")


def open_record(browser: Browser) -> str:
    """An open nonconformity of the bound agency, reached from the worklist; its key."""
    found = browser.site.api("GET", f"/nonconformities?agency={BOUND_AGENCY}&status=open&limit=1",
                             role="iso_secretary")
    assert found["items"], "the simulated month raised nonconformities in the bound agency"
    key = found["items"][0]["key"]
    browser.open(f"/console/nonconformities?agency={BOUND_AGENCY}&status=open")
    row = browser.wait_for(By.CSS_SELECTOR, f"tr[data-key='{key}']")
    row.find_element(By.CSS_SELECTOR, "td.key a").click()
    browser.wait_for(By.ID, "nc-status")
    assert browser.driver.find_element(By.ID, "nc-status").get_attribute("data-status") == "open"
    return str(key)


def fill(browser: Browser, values: dict[str, str]) -> None:
    for name, value in values.items():
        field = browser.driver.find_element(By.ID, f"f-{name}")
        if field.tag_name == "select":
            Select(field).select_by_value(value)
        else:
            field.clear()
            field.send_keys(value)


def record_step(browser: Browser, step: str, values: dict[str, str], status: str) -> None:
    """Fill the step's form, submit it and wait for the page to show the record's new status."""
    form = browser.wait_for(By.ID, f"form-{step}")
    fill(browser, values)
    form.find_element(By.CSS_SELECTOR, "button[type=submit]").click()
    browser.wait_until(lambda d: d.find_elements(By.CSS_SELECTOR, f"#nc-status[data-status='{status}']"))
    assert browser.driver.find_element(By.ID, "nc-saved").is_displayed()
    assert f"saved={step}" in browser.driver.current_url


def test_a_nonconformity_from_open_to_closed_through_the_forms_with_its_audit_trail(browser: Browser) -> None:
    browser.sign_in("iso_secretary")
    key = open_record(browser)
    browser.screenshot("nonconformity-open")
    due = (datetime.now(ZoneInfo("Asia/Ho_Chi_Minh")).date() + timedelta(days=30)).strftime("%d/%m/%Y")
    record_step(browser, "correction", {"correction": "Chuyển hồ sơ cho phó phòng xử lý ngay"},
                "correction_recorded")
    record_step(browser, "cause", {"cause": "Chuyên viên nghỉ phép, chưa phân công người thay",
                                   "category": "staff"}, "cause_analysed")
    record_step(browser, "action", {"action": "Phân công người thay thế cho từng bộ phận", "owner": "Trưởng phòng",
                                    "due": due}, "action_planned")
    # Next: verification, which the API lets a verifier record (the ISO secretary too; here the leader does).
    assert [f.get_attribute("id") for f in browser.driver.find_elements(By.CSS_SELECTOR, "form.step-form")] == [
        "form-verification"]
    browser.sign_out()

    browser.sign_in("leader")
    browser.open(f"/console/nonconformities/{quote(key)}")
    record_step(browser, "verification", {"verification": "Không còn hồ sơ trễ ở bước này sau 30 ngày",
                                          "effective": "yes"}, "action_verified")
    record_step(browser, "close", {"note": "Hành động có hiệu lực"}, "closed")
    assert not browser.driver.find_elements(By.CSS_SELECTOR, "form.step-form")
    cycle = browser.driver.find_element(By.ID, "nc-cycle").text
    for words in ("Chuyển hồ sơ cho phó phòng", "Cán bộ, công chức", "Trưởng phòng", due, "Hành động có hiệu lực"):
        assert words in cycle, words

    trail = browser.driver.find_element(By.ID, "nc-trail")
    trail.location_once_scrolled_into_view  # noqa: B018 (scrolls the trail into the screenshot)
    browser.screenshot("nonconformity-closed")
    rows = trail.find_elements(By.CSS_SELECTOR, "tbody > tr[data-entry]")
    assert [row.get_attribute("data-action") for row in rows] == list(STEPS)
    text = trail.text
    assert "iso_secretary-browser" in text and "leader-browser" in text
    assert "Mới phát sinh" in text and "Đã đóng" in text
    # The API agrees: the same record is closed, with one audit entry per step.
    record = browser.site.api("GET", f"/nonconformities/{quote(key)}", role="leader")
    assert record["status"] == "closed" and record["corrective_action"]["action_owner"] == "Trưởng phòng"
    log = browser.site.api("GET", f"/audit?entity=nonconformity&entity_key={quote(key)}", role="auditor")
    assert [entry["action"] for entry in log["items"]] == list(STEPS)
    assert browser.errors() == []


def test_a_session_that_expired_while_writing_keeps_the_forms_text(browser: Browser) -> None:
    """The session ends while a correction is being written: submitting goes to sign-in, and after signing
    in again the browser is back on the record with the text still in the form; nothing was recorded."""
    browser.sign_in("iso_secretary")
    key = open_record(browser)
    text = "Đang viết dở: chuyển hồ sơ cho phó phòng, gọi điện cho người nộp"
    fill(browser, {"correction": text})
    browser.driver.delete_cookie("eiso_session")  # as if it had expired
    browser.driver.find_element(By.CSS_SELECTOR, "#form-correction button[type=submit]").click()
    token = browser.wait_for(By.ID, "f-token")
    assert "/console/signin" in browser.driver.current_url
    token.send_keys(browser.site.tokens["iso_secretary"])
    browser.driver.find_element(By.CSS_SELECTOR, "form[action='/console/signin'] button[type=submit]").click()
    browser.wait_for(By.ID, "nc-status")
    assert browser.driver.current_url.endswith("/console/nonconformities/" + quote(key, safe=":"))
    assert browser.driver.find_element(By.ID, "nc-status").get_attribute("data-status") == "open"
    assert browser.driver.find_element(By.ID, "f-correction").get_attribute("value") == text
    assert browser.errors() == []
