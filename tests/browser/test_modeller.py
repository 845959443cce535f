"""The modeller in Chromium (issue 12, item 3): select a step, change its allowance in the ISO step
panel, deploy the diagram as version 2, and a case received afterwards follows version 2's allowance."""

from __future__ import annotations

import urllib.request
from datetime import UTC, datetime, timedelta
from importlib.resources import files
from typing import Any

from lxml import etree
from selenium.webdriver.common.by import By
from selenium.webdriver.common.keys import Keys

from engine.bootstrap import make_calendar
from engine.core.durations import parse_working_duration
from engine.procedures.loader import validate_source
from engine.settings import Settings
from tests.browser.conftest import Browser

# A copy of a bundled procedure under a code of its own, so that no other test's procedure changes.
CODE = "9.001806"
BUNDLED = (files("engine.bundled.bpmn") / "1.001806-cap-phep-so-cao-bang.bpmn").read_bytes()
SOURCE = BUNDLED.replace(b'name="procedureCode" value="1.001806"', f'name="procedureCode" value="{CODE}"'.encode())
CAMUNDA = "{http://camunda.org/schema/1.0/bpmn}"
BPMN = "{http://www.omg.org/spec/BPMN/20100524/MODEL}"


def properties(source: bytes) -> dict[str, dict[str, str]]:
    """Element id -> its camunda properties, as the engine reads them."""
    tree = etree.fromstring(source)
    found: dict[str, dict[str, str]] = {}
    for item in tree.iter(f"{CAMUNDA}property"):
        owner = item.getparent().getparent().getparent()
        found.setdefault(owner.get("id"), {})[item.get("name")] = item.get("value")
    return found


def download(browser: Browser, path: str) -> bytes:
    request = urllib.request.Request(browser.site.url + path,
                                     headers={"Authorization": f"Bearer {browser.site.tokens['admin']}"})
    with urllib.request.urlopen(request, timeout=60) as answer:
        body: bytes = answer.read()
        return body


def wait_text(browser: Browser, element_id: str, text: str) -> None:
    browser.wait_until(lambda d: text in d.find_element(By.ID, element_id).text, timeout=30)


def test_change_a_steps_allowance_deploy_version_2_and_a_new_case_follows_it(browser: Browser) -> None:
    site = browser.site
    first = site.api("POST", f"/procedures?filename={CODE}.bpmn", body=SOURCE, content_type="application/xml")
    assert (first["code"], first["version"], first["scope"]) == (CODE, 1, "*")

    browser.sign_in("admin")
    browser.open(f"/console/modeller?code={CODE}&version=1&scope=*")
    browser.wait_for(By.CSS_SELECTOR, "#modeller[data-ready='true']", timeout=30)
    # nothing selected: the panel shows the procedure's own properties
    assert browser.driver.find_element(By.ID, "p-procedure-code").get_attribute("value") == CODE
    assert browser.driver.find_element(By.ID, "p-statutory-limit").get_attribute("value") == "P10D"

    # select the first step on the canvas: the ISO step panel shows its properties
    browser.driver.find_element(By.CSS_SELECTOR, "g.djs-element[data-element-id='receive_dossier']").click()
    browser.wait_until(lambda d: d.find_element(By.ID, "panel-task").is_displayed())
    deadline = browser.driver.find_element(By.ID, "p-deadline")
    assert deadline.get_attribute("value") == "P0.5D"
    assert browser.driver.find_element(By.ID, "p-unit").get_attribute("value") == "Bộ phận Một cửa"
    assert browser.driver.find_element(By.ID, "p-counted").is_selected()
    browser.screenshot("modeller")

    # a wrong allowance is refused as it is typed, by the server's own rule
    deadline.send_keys(Keys.CONTROL, "a")
    deadline.send_keys("P2 ngày")
    wait_text(browser, "c-deadline", "P2 ngày")
    assert deadline.get_attribute("aria-invalid") == "true"
    # the new allowance: two working days
    deadline.send_keys(Keys.CONTROL, "a")
    deadline.send_keys("P2D")
    wait_text(browser, "c-deadline", "16,0")  # "Hợp lệ: 16,0 giờ làm việc."
    assert deadline.get_attribute("aria-invalid") is None

    # the server's validator finds nothing wrong
    browser.driver.find_element(By.ID, "do-validate").click()
    wait_text(browser, "problems-summary", "không có lỗi")

    # deploy for every agency (an administrator's empty agency field): version 2
    agencies = browser.driver.find_element(By.ID, "f-agencies")
    assert agencies.get_attribute("value") == ""
    browser.driver.find_element(By.ID, "do-deploy").click()
    browser.wait_for(By.CSS_SELECTOR, "#deploy-result .success", timeout=30)
    assert f"Đã ban hành phiên bản 2 của thủ tục {CODE}" in browser.driver.find_element(By.ID, "deploy-result").text
    assert "version=2" in browser.driver.current_url  # a reload opens the new version

    check_the_stored_version(browser)
    check_a_new_case_follows_version_2(browser)

    # reopened, the modeller shows version 2 with the new allowance
    browser.driver.refresh()
    browser.wait_for(By.CSS_SELECTOR, "#modeller[data-ready='true']", timeout=30)
    browser.driver.find_element(By.CSS_SELECTOR, "g.djs-element[data-element-id='receive_dossier']").click()
    browser.wait_until(lambda d: d.find_element(By.ID, "p-deadline").get_attribute("value") == "P2D")
    assert browser.errors() == []


def check_the_stored_version(browser: Browser) -> None:
    """Version 2 as stored: the new allowance, every other property kept as it was; audited."""
    site = browser.site
    # the stored file: the new allowance, every other property kept as it was
    stored = download(browser, f"/procedures/{CODE}/versions/2/bpmn")
    assert [p for p in validate_source(stored, "v2.bpmn") if p.is_error] == []
    before, after = properties(SOURCE), properties(stored)
    assert after["receive_dossier"] == {**before["receive_dossier"], "deadline": "P2D"}
    assert {k: v for k, v in after.items() if k != "receive_dossier"} == \
        {k: v for k, v in before.items() if k != "receive_dossier"}
    original, saved = etree.fromstring(SOURCE), etree.fromstring(stored)
    for tag in ("documentation", "lane", "userTask", "sequenceFlow"):  # nothing the panel does not edit is lost
        assert len(saved.findall(f".//{BPMN}{tag}")) == len(original.findall(f".//{BPMN}{tag}")), tag
    assert saved.get("{http://camunda.org/schema/modeler/1.0}executionPlatform") == "Camunda Platform"
    audit = site.api("GET", "/audit?entity=procedure", role="auditor")["items"]
    assert any(e["action"] == "procedure.deploy" and e["entity_key"] == f"{CODE}/2" and e["actor"] == "admin-browser"
               for e in audit)


def check_a_new_case_follows_version_2(browser: Browser) -> None:
    site = browser.site
    # a dossier received now follows version 2: its first step is due two working days after the case start
    received = datetime.now(UTC).replace(microsecond=0) + timedelta(seconds=1)
    case_id = f"MODELLER-{received:%y%m%d%H%M%S}"
    answer = site.api("POST", "/events", body=[{
        "event_id": f"{case_id}-received", "type": "case.received", "case_id": case_id, "agency": "000.31.12.H10",
        "procedure": CODE, "occurred_at": received.isoformat()}])
    assert answer["results"][0]["status"] == "applied", answer
    slip: dict[str, Any] = site.api("GET", f"/cases/{case_id}")
    assert (slip["procedure_scope"], slip["procedure_version"]) == ("*", 2)
    calendar = make_calendar(Settings().calendar)
    start = calendar.case_start(received)
    assert datetime.fromisoformat(slip["started_at"]) == start
    step = next(s for s in slip["steps"] if s["step"] == "receive_dossier")
    due = datetime.fromisoformat(step["due_at"])
    assert due == calendar.add(start, parse_working_duration("P2D"))
    assert due != calendar.add(start, parse_working_duration("P0.5D"))  # what version 1 would have said


def select(browser: Browser, element_id: str) -> None:
    """Select a diagram element as a click would (a connection's bounding box may miss its line)."""
    browser.driver.execute_script(
        "var m = document.getElementById('modeller').eisoModeler;"
        "m.get('selection').select(m.get('elementRegistry').get(arguments[0]));", element_id)


def test_problems_are_marked_conditions_checked_and_nothing_wrong_is_deployed(browser: Browser) -> None:
    browser.sign_in("process_owner")
    browser.open("/console/modeller")  # the blank template
    browser.wait_for(By.CSS_SELECTOR, "#modeller[data-ready='true']", timeout=30)
    assert browser.driver.find_element(By.ID, "p-procedure-code").get_attribute("value") == "0.000000"
    browser.driver.find_element(By.CSS_SELECTOR, "g.djs-element[data-element-id='handle_dossier']").click()
    deadline = browser.wait_until(lambda d: d.find_element(By.ID, "p-deadline") if d.find_element(
        By.ID, "panel-task").is_displayed() else None)
    assert deadline.get_attribute("value") == "P1D"
    deadline.send_keys(Keys.CONTROL, "a")
    deadline.send_keys(Keys.DELETE)
    wait_text(browser, "c-deadline", "cần có hạn xử lý")  # a counted step needs an allowance
    browser.driver.find_element(By.ID, "do-validate").click()  # the change is applied before the file is sent
    wait_text(browser, "problem-list", "handle_dossier")
    assert browser.driver.find_elements(By.CSS_SELECTOR, "g.djs-element.eiso-problem[data-element-id='handle_dossier']")
    assert browser.driver.find_elements(By.CSS_SELECTOR, ".eiso-problem-badge")
    # deploying it is refused with the same problems; nothing is deployed
    assert browser.driver.find_element(By.ID, "f-agencies").get_attribute("value") == "000.00.12.H10"
    browser.driver.find_element(By.ID, "do-deploy").click()
    browser.wait_for(By.CSS_SELECTOR, "#deploy-result .problem", timeout=30)
    assert "Không ban hành" in browser.driver.find_element(By.ID, "deploy-result").text
    assert not [v for v in site_versions(browser) if v["code"] == "0.000000"]
    # the list leads to the element; undo brings the allowance back
    browser.driver.find_element(By.CSS_SELECTOR, "#problem-list button.link").click()
    wait_text(browser, "panel-target", "handle_dossier")
    browser.driver.find_element(By.ID, "do-undo").click()
    browser.wait_until(lambda d: d.find_element(By.ID, "p-deadline").get_attribute("value") == "P1D")

    # a gateway's condition, checked as it is typed by the engine's language
    browser.open("/console/modeller?code=1.001029&version=1&scope=*")
    browser.wait_for(By.CSS_SELECTOR, "#modeller[data-ready='true']", timeout=30)
    select(browser, "flow_gw_conditions_met_to_sign_refusal")
    browser.wait_until(lambda d: d.find_element(By.ID, "panel-flow").is_displayed())
    condition = browser.driver.find_element(By.ID, "p-condition")
    assert condition.get_attribute("value") == "eligible == false or min_room_area_m2 < 20"
    condition.send_keys(Keys.CONTROL, "a")
    condition.send_keys("__import__('os').system('id')")
    wait_text(browser, "c-condition", "not allowed")
    assert condition.get_attribute("aria-invalid") == "true"
    condition.send_keys(Keys.CONTROL, "a")
    condition.send_keys("eligible == false or min_room_area_m2 < 25")
    wait_text(browser, "c-condition", "Hợp lệ")
    select(browser, "flow_gw_conditions_met_to_review")
    browser.wait_until(lambda d: d.find_element(By.ID, "p-default").is_selected())
    select(browser, "flow_gw_conditions_met_to_sign_refusal")
    browser.wait_until(lambda d: d.find_element(By.ID, "p-condition").get_attribute("value").endswith("< 25"))
    xml = browser.driver.execute_async_script(
        "var done = arguments[0]; document.getElementById('modeller').eisoModeler.saveXML()"
        ".then(function (r) { done(r.xml); });")
    assert "min_room_area_m2 &lt; 25" in xml and 'camunda:property name="deadline"' in xml
    # the refused deployment's answer (422) is what Chromium logs as a failed load: the only entry
    assert [e for e in browser.errors() if not ("/console/modeller/deploy" in e and "422" in e)] == []


def site_versions(browser: Browser) -> list[dict[str, Any]]:
    listed: list[dict[str, Any]] = browser.site.api("GET", "/procedures")
    return listed


def test_an_unsaved_drawing_survives_a_reload_in_the_same_tab(browser: Browser) -> None:
    browser.sign_in("process_owner")
    browser.open("/console/modeller")
    browser.wait_for(By.CSS_SELECTOR, "#modeller[data-ready='true']", timeout=30)
    code = browser.driver.find_element(By.ID, "p-procedure-code")
    code.send_keys(Keys.CONTROL, "a")
    code.send_keys("1.009999", Keys.TAB)  # applied on change
    browser.wait_until(lambda d: d.execute_script(
        "return Object.keys(sessionStorage).some(function (k) { return k.indexOf('eiso-modeller:') === 0; })"))
    browser.driver.refresh()
    browser.wait_for(By.CSS_SELECTOR, "#modeller[data-ready='true']", timeout=30)
    assert browser.driver.find_element(By.ID, "p-procedure-code").get_attribute("value") == "0.000000"
    browser.wait_until(lambda d: d.find_element(By.ID, "draft").is_displayed())
    browser.driver.find_element(By.ID, "draft-restore").click()
    browser.wait_until(lambda d: d.find_element(By.ID, "p-procedure-code").get_attribute("value") == "1.009999")
    assert browser.errors() == []


def _type(browser: Browser, element_id: str, text: str) -> None:
    field = browser.driver.find_element(By.ID, element_id)
    field.send_keys(Keys.CONTROL, "a")
    field.send_keys(text)


def test_a_process_owner_draws_a_new_procedure_and_deploys_it(browser: Browser) -> None:
    """From the blank procedure: name and code it, append a second step with the editor's own tools, set each
    step's allowance and unit in the ISO step panel, validate, deploy for the owner's agency: version 1."""
    code = "9.777001"
    browser.sign_in("process_owner")
    browser.open("/console/modeller")
    browser.wait_for(By.CSS_SELECTOR, "#modeller[data-ready='true']", timeout=30)
    _type(browser, "p-process-name", "Cấp giấy xác nhận (thử nghiệm)")
    _type(browser, "p-procedure-code", code)
    _type(browser, "p-statutory-limit", "P3D")
    wait_text(browser, "c-statutory-limit", "24,0")
    # the blank procedure's step
    browser.driver.find_element(By.CSS_SELECTOR, "g.djs-element[data-element-id='handle_dossier']").click()
    browser.wait_until(lambda d: d.find_element(By.ID, "panel-task").is_displayed())
    _type(browser, "p-task-name", "Tiếp nhận hồ sơ")
    _type(browser, "p-deadline", "P0.5D")
    _type(browser, "p-unit", "Bộ phận Một cửa")
    browser.driver.find_element(By.ID, "p-unit").send_keys(Keys.TAB)  # leaving the field keeps its value
    # a second step, appended with the context pad as a person draws it
    browser.driver.execute_script(  # the editor's context pad of the step, as selecting it on the canvas opens it
        "var m = document.getElementById('modeller').eisoModeler, e = m.get('elementRegistry').get('handle_dossier');"
        "m.get('selection').select(e); m.get('contextPad').open(e, true);")
    browser.wait_for(By.CSS_SELECTOR, ".djs-context-pad .entry[data-action='append.append-task']").click()
    browser.wait_until(lambda d: d.find_element(By.ID, "panel-task").is_displayed()
                       and d.find_element(By.ID, "p-task-name").get_attribute("value") == "")
    _type(browser, "p-task-name", "Thẩm định hồ sơ")
    _type(browser, "p-deadline", "P2D")
    _type(browser, "p-unit", "Chuyên viên thụ lý")
    browser.driver.find_element(By.ID, "p-unit").send_keys(Keys.TAB)
    wait_text(browser, "c-deadline", "16,0")
    # joined to the end in place of the first step's old flow (the editor's own modeling commands)
    browser.driver.execute_script(
        "var m = document.getElementById('modeller').eisoModeler, r = m.get('elementRegistry');"
        "var first = r.get('handle_dossier'), mod = m.get('modeling');"
        "var old = first.outgoing.filter(function (c) { return c.target.type === 'bpmn:EndEvent'; })[0];"
        "var added = first.outgoing.filter(function (c) { return c.target.type !== 'bpmn:EndEvent'; })[0].target;"
        "var end = old.target; mod.removeElements([old]); mod.connect(added, end);")
    browser.driver.find_element(By.ID, "do-validate").click()
    wait_text(browser, "problems-summary", "không có lỗi")
    agencies = browser.driver.find_element(By.ID, "f-agencies")
    assert agencies.get_attribute("value") == "000.00.12.H10"  # the owner's own agency, by default
    browser.driver.find_element(By.ID, "do-deploy").click()
    browser.wait_for(By.CSS_SELECTOR, "#deploy-result .success", timeout=30)
    listed = browser.site.api("GET", f"/procedures?code={code}", role="admin")
    assert [(v["version"], v["scope"]) for v in listed] == [(1, "000.00.12.H10")]
    stored = download(browser, f"/procedures/{code}/versions/1/bpmn?agency=000.00.12.H10")
    assert [p for p in validate_source(stored, "new.bpmn") if p.is_error] == []
    found = properties(stored)
    steps = sorted((p.get("deadline", ""), p.get("unit", "")) for p in found.values() if "deadline" in p)
    assert steps == [("P0.5D", "Bộ phận Một cửa"), ("P2D", "Chuyên viên thụ lý")]
    assert any(p.get("procedureCode") == code and p.get("statutoryLimit") == "P3D" for p in found.values())
    assert browser.errors() == []
