"""The case page in Chromium (issue 12, item 4): a case of the simulated month with a late step shows its path
on the procedure's diagram (bpmn-js markers), and its Form 05 process control slip prints to PDF (Chromium's
Page.printToPDF) with just the slip; no console errors."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path
from typing import Any
from urllib.parse import quote

import pytest
from selenium.webdriver.common.by import By

from tests.browser.conftest import BOUND_AGENCY, Browser


def late_case(browser: Browser) -> tuple[str, dict[str, Any]]:
    """A case the leader sees with a step completed late, and its control slip (the API's)."""
    site = browser.site
    found = site.api("GET", f"/cases?agency={BOUND_AGENCY}&timeliness=late&limit=100", role="leader")["items"]
    found += site.api("GET", f"/cases?agency={BOUND_AGENCY}&overdue=true&limit=100", role="leader")["items"]
    for item in found:
        slip = site.api("GET", "/cases/" + quote(item["case_id"], safe="/"), role="leader")
        if any(step["timeliness"] == "late" for step in slip["steps"]):
            return item["case_id"], slip
    pytest.fail("the simulated month has no case with a late step in " + BOUND_AGENCY)


def test_the_case_page_marks_the_path_and_prints_form_05(browser: Browser, tmp_path: Path) -> None:
    case_id, slip = late_case(browser)
    late_steps = {s["step"] for s in slip["steps"] if s["timeliness"] == "late"}
    browser.sign_in("leader")
    browser.open("/console/cases/" + quote(case_id, safe="/"))
    diagram = browser.wait_for(By.CSS_SELECTOR, "#case-diagram[data-state='ready']", timeout=40)
    marked = dict(pair.split(":", 1) for pair in (diagram.get_attribute("data-marked") or "").split())
    # Every step of the slip is marked on the diagram; a late one "late", unless it ran again and waits now.
    assert set(marked) == {s["step"] for s in slip["steps"]}
    assert any(marked[step] == "late" for step in late_steps), marked
    shapes = browser.driver.find_elements(By.CSS_SELECTOR, "#case-diagram .djs-element.case-late")
    assert shapes and all(s.get_attribute("data-element-id") in marked for s in shapes)
    # The same marks as text in the slip's table.
    rows = browser.driver.find_elements(By.CSS_SELECTOR, "table.slip-table tbody tr")
    assert [r.get_attribute("data-step") for r in rows] == [s["step"] for s in slip["steps"]]
    assert any("Quá hạn" in r.text for r in rows if r.get_attribute("data-marker") == "late")
    # The bpmn.io watermark stays visible (licence).
    assert browser.driver.find_element(By.CSS_SELECTOR, "#case-diagram .bjs-powered-by").is_displayed()
    browser.screenshot("case-page")

    pdf = browser.print_pdf()
    assert pdf.startswith(b"%PDF")
    path = tmp_path / "form05.pdf"
    path.write_bytes(pdf)
    if (keep := os.environ.get("EISO_KEEP_PDF")) is not None:  # to look at it: EISO_KEEP_PDF=/tmp/form05.pdf
        Path(keep).write_bytes(pdf)
    # What the print stylesheets show: the slip, not the frame, the diagram or the timeline.
    driver = browser.driver
    driver.execute_cdp_cmd("Emulation.setEmulatedMedia", {"media": "print"})
    shown = driver.execute_script(
        "return ['header.top', '.diagram-section', '#timeline', '.case-facts', '#slip', '.slip-table']"
        ".map(function (s) { return getComputedStyle(document.querySelector(s)).display; });")
    driver.execute_cdp_cmd("Emulation.setEmulatedMedia", {"media": ""})
    assert shown[:4] == ["none"] * 4 and "none" not in shown[4:], shown
    if shutil.which("pdftotext") is None and os.environ.get("CI"):
        raise RuntimeError("CI must provide pdftotext (scripts/test installs Debian's poppler-utils)")
    if shutil.which("pdftotext") is not None:  # Debian's poppler-utils; a developer without it skips the text check
        text = subprocess.run(["pdftotext", "-layout", str(path), "-"], capture_output=True, text=True, check=True,
                              timeout=60).stdout
        flat = " ".join(text.split())
        assert "PHIẾU KIỂM SOÁT QUÁ TRÌNH GIẢI QUYẾT HỒ SƠ" in flat and case_id in flat, flat[:2000]
        assert "CỘNG HÒA XÃ HỘI CHỦ NGHĨA VIỆT NAM" in flat and "Quá hạn" in flat
        assert "Diễn biến hồ sơ" not in flat and "Đăng xuất" not in flat and "Chú giải" not in flat
    assert browser.errors() == []
