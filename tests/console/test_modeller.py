"""The modeller (issue 12, item 3): a version or a blank template in the bpmn-js Modeler; the server's
validator, condition language and deploy behind it, with the API's roles, scopes, lock and audit."""

from __future__ import annotations

import json
import re
from typing import Any

from fastapi.testclient import TestClient

from engine.api.roles import Role
from engine.console.app import create_site
from engine.console.i18n import Translator
from engine.console.pages.modeller import blank_procedure
from engine.procedures.loader import validate_source
from tests.api.support import OTHER_AGENCY, OWN_AGENCY, PROCEDURE, USER_AGENCY, event
from tests.console.support import Console

A, PO = Role.admin, Role.process_owner
URL = "/console/modeller"
SOURCE = PROCEDURE.read_bytes()
# version 2 of the fixture procedure: the first step 'receive' gets one working day instead of four hours
ONE_DAY = SOURCE.replace(b'<camunda:property name="deadline" value="PT4H"/><camunda:property name="unit" '
                         b'value="One-Stop unit"/>',
                         b'<camunda:property name="deadline" value="P1D"/><camunda:property name="unit" '
                         b'value="One-Stop unit"/>', 1)
DATA = re.compile(r'<script type="application/json" id="modeller-data">(.*?)</script>', re.S)
CSRF_ATTR = re.compile(r'data-csrf="([^"]+)"')


def page_data(html: str) -> dict[str, Any]:
    found = DATA.search(html)
    assert found is not None, "the page has no modeller data"
    data: dict[str, Any] = json.loads(found.group(1))
    return data


def token(client: TestClient) -> str:
    found = CSRF_ATTR.search(client.get(URL).text)
    assert found is not None
    return found.group(1)


def post(console: Console, role: Role, path: str, body: dict[str, Any], csrf: bool = True) -> Any:
    client = console.browser(role)
    headers = {"X-CSRF-Token": token(client)} if csrf else {}
    return client.post(f"{URL}/{path}", json=body, headers=headers)


def test_a_writer_opens_a_version_or_the_blank_template(console: Console) -> None:
    browser = console.browser(A)
    opened = browser.get(URL, params={"code": "9.000001", "version": 1, "scope": "*"})
    assert opened.status_code == 200
    data = page_data(opened.text)
    assert data["xml"] == SOURCE.decode()
    assert data["opened"]["code"] == "9.000001" and data["opened"]["version"] == 1 and data["opened"]["scope"] == "*"
    assert "/console/static/vendor/bpmn-js/bpmn-modeler.production.min.js" in opened.text
    assert "/console/static/modeller.js" in opened.text and "<script>" not in opened.text  # no inline script
    assert 'id="p-deadline"' in opened.text and 'for="p-deadline"' in opened.text
    # a scope written as the API's agency list: every agency is the default
    assert page_data(browser.get(URL, params={"code": "9.000001", "version": 1}).text)["xml"] == SOURCE.decode()

    blank = browser.get(URL)
    assert blank.status_code == 200
    xml = page_data(blank.text)["xml"]
    assert "Tiếp nhận hồ sơ" in xml and 'name="procedureCode"' in xml and 'name="deadline"' in xml
    assert [p for p in validate_source(xml.encode(), "blank.bpmn") if p.is_error] == []


def test_the_blank_template_is_a_valid_procedure_in_both_languages(console: Console) -> None:
    zone = console.world.eiso.calendar.zone
    for language in ("vi", "en"):
        problems = validate_source(blank_procedure(Translator(language, zone)).encode(), "blank.bpmn")
        assert [p for p in problems if p.is_error] == [], problems


def test_roles_and_agencies_decide_who_opens_what(console: Console) -> None:
    assert console.browser(Role.leader).get(URL).status_code == 403
    assert console.browser(Role.iso_secretary).get(URL, params={"code": "9.000001", "version": 1}).status_code == 403
    assert console.anonymous().get(URL, follow_redirects=False).status_code == 303  # to sign-in
    # another agency's own version: not even its existence is told
    other = console.world.call(A, "POST", "/procedures", params={"agency": OTHER_AGENCY},
                               files={"file": ("other.bpmn", ONE_DAY)})
    assert other.status_code == 201, other.text
    owner = console.browser(PO)
    missing = owner.get(URL, params={"code": "9.000001", "version": 1, "scope": OTHER_AGENCY})
    assert missing.status_code == 404 and "modeller-data" not in missing.text
    assert console.browser(A).get(URL, params={"code": "9.000001", "version": 1,
                                               "scope": OTHER_AGENCY}).status_code == 200
    assert owner.get(URL, params={"code": "9.000001", "version": 9}).status_code == 404
    assert owner.get(URL, params={"code": "9.000001", "version": 1}).status_code == 200  # every agency's
    assert owner.get(URL, params={"version": 1}).status_code == 422
    assert owner.get(URL, params={"code": "9.000001", "version": 1, "scope": "<b>"}).status_code == 422


def test_validate_answers_problems_with_element_ids(console: Console) -> None:
    good = post(console, PO, "validate", {"xml": SOURCE.decode()})
    assert good.status_code == 200 and good.json()["valid"] is True
    broken = (SOURCE.replace(b'<camunda:property name="deadline" value="P2D"/>', b"")
              .replace(b">fee_exempt == true and applicant_age &gt;= 60<", b">__import__('os').system('id')<")
              .replace(b'<bpmn:manualTask id="return_result"', b'<bpmn:scriptTask id="return_result"')
              .replace(b"</bpmn:manualTask>", b"</bpmn:scriptTask>"))
    answer = post(console, PO, "validate", {"xml": broken.decode()})
    assert answer.status_code == 200
    body = answer.json()
    assert body["valid"] is False
    ids = {p["element_id"] for p in body["problems"] if p["severity"] == "error"}
    assert {"appraise", "f10", "return_result"} <= ids, body
    assert all(set(p) >= {"element_id", "message", "severity"} for p in body["problems"])


XXE = (b'<?xml version="1.0"?><!DOCTYPE d [<!ENTITY x SYSTEM "file:///etc/passwd">]>'
       b'<bpmn:definitions xmlns:bpmn="http://www.omg.org/spec/BPMN/20100524/MODEL">&x;</bpmn:definitions>')
LAUGHS = (b'<?xml version="1.0"?><!DOCTYPE lolz [<!ENTITY lol "lol">'
          b'<!ENTITY lol2 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;">'
          b'<!ENTITY lol3 "&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;">]><lolz>&lol3;</lolz>')


def test_hostile_files_get_the_validators_problems_never_a_500(console: Console) -> None:
    for hostile in (XXE, LAUGHS, b"not XML at all", b"", b"<a>\x00</a>", b"<?xml version='1.0'?><a><b></a>",
                    b'<x:definitions xmlns:x="urn:x"/>', SOURCE.replace(b"</bpmn:definitions>", b"")):
        answer = post(console, PO, "validate", {"xml": hostile.decode()})
        assert answer.status_code == 200, (hostile[:40], answer.text)
        body = answer.json()
        assert body["valid"] is False and body["problems"], hostile[:40]
        assert "root:" not in answer.text  # nothing of /etc/passwd
    xxe = post(console, PO, "validate", {"xml": XXE.decode()}).json()["problems"][0]["message"]
    assert "DOCTYPE" in xxe
    # not JSON, not an object, no xml, a lone surrogate (text no file holds)
    client = console.browser(PO)
    headers = {"X-CSRF-Token": token(client), "Content-Type": "application/json"}
    for body in (b"{", b"[1]", b'{"xml": 5}', b'{"xml": null}', b"\xff\xfe", b'{"xml": "\\ud800"}'):
        answer = client.post(f"{URL}/validate", content=body, headers=headers)
        assert answer.status_code == 422 and "message" in answer.json(), body
    # huge: past the API's BPMN limit, refused before it is read whole
    huge = "<a>" + "x" * (5 * 1024 * 1024 + 10) + "</a>"
    answer = client.post(f"{URL}/validate", json={"xml": huge}, headers=headers)
    assert answer.status_code == 413, answer.status_code


def test_the_size_limit_is_the_apis_bpmn_limit(console: Console) -> None:
    from engine.api.settings import ApiSettings

    client = TestClient(create_site(console.world.eiso, ApiSettings(max_bpmn_bytes=4096, max_json_bytes=1024 * 1024)))
    from tests.console.support import sign_in

    sign_in(client, console.world.tokens[PO])
    headers = {"X-CSRF-Token": token(client)}
    small = client.post(f"{URL}/validate", json={"xml": "<a/>"}, headers=headers)
    assert small.status_code == 200
    big = client.post(f"{URL}/validate", json={"xml": "<a>" + "x" * 5000 + "</a>"}, headers=headers)
    assert big.status_code == 413 and "4.096" in big.json()["message"]  # Vietnamese digits grouping
    client.close()


def test_conditions_are_checked_by_the_engines_language(console: Console) -> None:
    valid = post(console, PO, "condition", {"condition": "fee_exempt == true and applicant_age >= 60"})
    assert valid.status_code == 200 and valid.json()["valid"] is True
    for text in ("__import__('os').system('id')", "a +", "x.__class__", "open('/etc/passwd')", "a" * 2000):
        refused = post(console, PO, "condition", {"condition": text})
        assert refused.status_code == 200, text
        assert refused.json()["valid"] is False and refused.json()["message"], text
    assert post(console, PO, "condition", {"condition": "  "}).json()["valid"] is False
    assert post(console, PO, "condition", {"condition": 7}).status_code == 422
    duration = post(console, PO, "duration", {"duration": "P0.5D"})
    assert duration.json()["valid"] is True and duration.json()["working_hours"] == 4
    assert post(console, PO, "duration", {"duration": "P1M"}).json()["valid"] is False
    assert post(console, PO, "duration", {"duration": "9" * 500}).json()["valid"] is False


def test_every_post_needs_the_csrf_token_a_writer_and_a_session(console: Console) -> None:
    for path, body in (("validate", {"xml": "<a/>"}), ("condition", {"condition": "a"}),
                       ("deploy", {"xml": ONE_DAY.decode(), "agencies": USER_AGENCY})):
        missing = post(console, PO, path, body, csrf=False)
        assert missing.status_code == 403 and missing.json()["message"], path
        forged = console.browser(PO).post(f"{URL}/{path}", json=body, headers={"X-CSRF-Token": "forged"})
        assert forged.status_code == 403, path
        elsewhere = console.browser(PO).post(f"{URL}/{path}", json=body, headers={
            "X-CSRF-Token": token(console.browser(PO)), "Origin": "https://evil.example"})
        assert elsewhere.status_code == 403, path
        assert console.anonymous().post(f"{URL}/{path}", json=body).status_code == 401
        leader = console.browser(Role.leader)
        assert leader.post(f"{URL}/{path}", json=body, headers={"X-CSRF-Token": "x"}).status_code == 403
    in_body = console.browser(PO).post(f"{URL}/condition", json={"condition": "a", "csrf": token(console.browser(PO))})
    assert in_body.status_code == 200
    assert console.world.call(A, "GET", "/procedures", params={"code": "9.000001"}).json()[-1]["version"] == 1


def slip(console: Console, case_id: str) -> dict[str, Any]:
    answer = console.world.call(A, "GET", f"/cases/{case_id}")
    assert answer.status_code == 200, answer.text
    found: dict[str, Any] = answer.json()
    return found


def receive(console: Console, case_id: str, agency: str, role: Role = Role.connector) -> dict[str, Any]:
    """A dossier received on Thursday 12 March 2026 at 08:00, through the API as the one-stop-shop sends it."""
    answer = console.world.call(role, "POST", "/events", json=[
        event(f"{case_id}-r", "case.received", "2026-03-12 08:00", case_id, agency)])
    assert answer.status_code == 200 and answer.json()["results"][0]["status"] == "applied", answer.text
    return slip(console, case_id)


def step_due(case: dict[str, Any], step: str) -> str:
    return next(s["due_at"] for s in case["steps"] if s["step"] == step)


def test_deploying_a_changed_allowance_makes_version_2_that_new_cases_follow(console: Console) -> None:
    before = receive(console, "BEFORE-1", OWN_AGENCY)
    assert before["procedure_version"] == 1
    # Thursday 12 March 2026 08:00 + 4 working hours (08:00-11:30, 13:00-13:30)
    assert step_due(before, "receive") == "2026-03-12T13:30:00+07:00"

    deployed = post(console, A, "deploy", {"xml": ONE_DAY.decode(), "agencies": "", "filename": "9.000001.bpmn"})
    assert deployed.status_code == 201, deployed.text
    body = deployed.json()
    assert (body["code"], body["version"], body["scope"], body["created"]) == ("9.000001", 2, "*", True)
    assert "9.000001" in body["message"] and body["open_url"] == f"{URL}?code=9.000001&version=2&scope=%2A"
    audit = console.world.call(Role.auditor, "GET", "/audit", params={"entity": "procedure"}).json()["items"]
    assert [(e["action"], e["entity_key"], e["actor"]) for e in audit][-1:] == [
        ("procedure.deploy", "9.000001/2", "admin-user")]
    stored = console.world.call(A, "GET", "/procedures/9.000001/versions/2/bpmn")
    assert stored.content == ONE_DAY and "9.000001.bpmn" in stored.headers["content-disposition"]

    after = receive(console, "AFTER-1", OWN_AGENCY)
    assert (after["procedure_scope"], after["procedure_version"]) == ("*", 2)
    # 08:00 + 8 working hours: 3.5 h to 11:30, 4 h from 13:00 to 17:00, 0.5 h on Friday from 07:30
    assert step_due(after, "receive") == "2026-03-13T08:00:00+07:00"
    assert step_due(slip(console, "BEFORE-1"), "receive") == "2026-03-12T13:30:00+07:00"  # stays on version 1

    again = post(console, A, "deploy", {"xml": ONE_DAY.decode(), "agencies": "*"})
    assert again.status_code == 200 and again.json()["created"] is False and again.json()["version"] == 2
    reopened = console.browser(A).get(body["open_url"])
    assert reopened.status_code == 200 and page_data(reopened.text)["xml"] == ONE_DAY.decode()


def test_process_owners_deploy_only_for_their_agencies(console: Console) -> None:
    for agencies in ("", "*", OTHER_AGENCY, f"{USER_AGENCY}, {OTHER_AGENCY}"):
        refused = post(console, PO, "deploy", {"xml": ONE_DAY.decode(), "agencies": agencies})
        assert refused.status_code == 403 and USER_AGENCY in refused.json()["message"], agencies
    for agencies in ("a b", "x" * 3000, ", ".join(f"{n:03d}.31.12.H10" for n in range(21))):
        assert post(console, PO, "deploy", {"xml": ONE_DAY.decode(), "agencies": agencies}).status_code == 422
    broken = ONE_DAY.replace(b'name="procedureCode" value="9.000001"', b'name="procedureCode" value=""')
    problems = post(console, PO, "deploy", {"xml": broken.decode(), "agencies": USER_AGENCY})
    assert problems.status_code == 422 and "test_procedure" in {p["element_id"] for p in problems.json()["problems"]}
    hostile = post(console, PO, "deploy", {"xml": XXE.decode(), "agencies": USER_AGENCY})
    assert hostile.status_code == 422 and hostile.json()["problems"]
    assert console.world.call(A, "GET", "/procedures", params={"code": "9.000001"}).json()[-1]["version"] == 1

    own = post(console, PO, "deploy", {"xml": ONE_DAY.decode(), "agencies": f"{USER_AGENCY}; {OWN_AGENCY}"})
    assert own.status_code == 201, own.text
    assert (own.json()["scope"], own.json()["version"]) == (USER_AGENCY, 1)  # OWN_AGENCY lies below it
    case = receive(console, "OWNED-1", OWN_AGENCY)
    assert (case["procedure_scope"], case["procedure_version"]) == (USER_AGENCY, 1)
    assert step_due(case, "receive") == "2026-03-13T08:00:00+07:00"
    other = receive(console, "OTHER-1", OTHER_AGENCY, A)  # the connector is bound to USER_AGENCY
    assert (other["procedure_scope"], other["procedure_version"]) == ("*", 1)


def test_the_console_deploys_under_the_apis_writer_lock(console: Console) -> None:
    site = create_site(console.world.eiso)
    mounted = next(route for route in site.routes if getattr(route, "path", "") == "/console")
    assert mounted.app.state.writer_lock is site.state.writer_lock  # type: ignore[attr-defined]
