"""Signing in, switching language and signing out in Chromium, with no console errors."""

from __future__ import annotations

from selenium.webdriver.common.by import By
from selenium.webdriver.common.keys import Keys

from tests.browser.conftest import Browser


def test_sign_in_switch_language_sign_out(browser: Browser) -> None:
    browser.open("/")
    assert "/console/signin" in browser.driver.current_url
    assert browser.driver.find_element(By.TAG_NAME, "html").get_attribute("lang") == "vi"
    browser.screenshot("signin")
    token = browser.driver.find_element(By.ID, "f-token")
    token.send_keys(browser.site.tokens["leader"])
    token.send_keys(Keys.ENTER)  # the keyboard alone signs in
    browser.wait_for(By.CSS_SELECTOR, "header .user")
    assert "leader-browser" in browser.text() and "Đăng xuất" in browser.text()
    browser.driver.find_element(By.CSS_SELECTOR, "a.lang").click()
    browser.wait_until(lambda d: d.find_element(By.TAG_NAME, "html").get_attribute("lang") == "en")
    assert "Sign out" in browser.text()
    browser.driver.find_element(By.CSS_SELECTOR, "a.lang").click()
    browser.wait_until(lambda d: d.find_element(By.TAG_NAME, "html").get_attribute("lang") == "vi")
    browser.sign_out()
    browser.open("/console/")
    assert "/console/signin" in browser.driver.current_url
    assert browser.errors() == []


def test_a_wrong_token_is_refused_on_the_page(browser: Browser) -> None:
    browser.open("/console/signin")
    browser.driver.find_element(By.ID, "f-token").send_keys("eiso_not-a-token")
    browser.driver.find_element(By.CSS_SELECTOR, "form[action='/console/signin'] button[type=submit]").click()
    browser.wait_for(By.CSS_SELECTOR, "p.error")
    assert "Mã truy cập không đúng" in browser.text()
    # the refusal is the page's answer (401), which Chromium logs as a failed load: that is the only entry
    assert all("401" in message for message in browser.errors())
