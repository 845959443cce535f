"""The nonconformities pages: the worklist, one record, and its corrective-action cycle through forms.

Each step is the API's (``engine.api.routers.nonconformities.perform``, i.e. the application layer's
``transition``): the same roles, the same compare-and-set on the version the form was rendered at,
the same audit entry and outbox row. The tests read the outcome back from the API and the database.
"""

from __future__ import annotations

import re
import threading
from typing import Any

from fastapi.routing import APIRoute
from fastapi.testclient import TestClient
from sqlalchemy import func, select
from sqlmodel import Session, col

from engine.api.deps import Allow
from engine.api.roles import Role
from engine.api.routers import nonconformities as api
from engine.console.app import create_site
from engine.core.corrective import Command
from engine.core.nonconformities import LABELS_EN, LABELS_VI
from engine.settings import DatabaseSettings, EngineSettings, Settings
from engine.store.tables import NonconformityRow, OutboxMessage
from engine.store.tables_api import AuditEntry, CorrectiveAction
from tests.api.support import OTHER_CASE, OWN_CASE, nc_key
from tests.console.support import Console, csrf_of, sign_in

KEY, OTHER_KEY = nc_key(OWN_CASE), nc_key(OTHER_CASE)
URL, OTHER_URL = f"/console/nonconformities/{KEY}", f"/console/nonconformities/{OTHER_KEY}"
SEC, LEAD, PO, AUD, ADMIN = Role.iso_secretary, Role.leader, Role.process_owner, Role.auditor, Role.admin
VERSION = re.compile(r'name="version" value="(\d+)"')

CORRECTION = {"correction": "Hồ sơ đã chuyển cho phó phòng; đã gọi điện báo công dân"}
CAUSE = {"cause": "Chuyên viên nghỉ phép, không có người thay", "category": "staff"}
ACTION = {"action": "Phân công người thay thế cho từng bộ phận", "owner": "Trưởng phòng", "due": "30/04/2026"}
VERIFICATION = {"verification": "Không còn hồ sơ trễ ở bước thẩm định trong tháng 4", "effective": "yes"}
CLOSE = {"note": "Hành động có hiệu lực"}


def version_of(html: str) -> str:
    found = VERSION.search(html)
    assert found is not None, "the page has no step form"
    return found.group(1)


def submit(console: Console, role: Role, step: str, fields: dict[str, str], url: str = URL,
           version: str | None = None) -> Any:
    """Fill the step's form as ``role`` sees it (CSRF token and version from the page) and post it."""
    client = console.browser(role)
    html = client.get(url).text
    data = {"csrf": csrf_of(html), "step": step, "version": version if version is not None else version_of(html),
            **fields}
    return client.post(url, data=data, follow_redirects=False)


def record(console: Console, key: str = KEY) -> tuple[str, CorrectiveAction | None, int]:
    with Session(console.world.eiso.engine) as session:
        row = session.get(NonconformityRow, key)
        assert row is not None
        entries = session.exec(select(func.count()).select_from(AuditEntry).where(
            col(AuditEntry.entity_key) == key)).one()
        return row.status, session.get(CorrectiveAction, key), int(entries[0])


def api_version(console: Console, key: str = KEY) -> int:
    return int(console.world.call(ADMIN, "GET", f"/nonconformities/{key}").json()["version"])


def to_status(console: Console, steps: list[tuple[str, dict[str, Any]]]) -> None:
    """Move the record along through the API (the console's forms are tested elsewhere)."""
    for command, body in steps:
        answer = console.world.call(SEC, "POST", f"/nonconformities/{KEY}/{command}", json=body)
        assert answer.status_code == 200, answer.text


API_CAUSE = [("correction", {"correction": "done"}), ("cause", {"cause": "why", "category": "staff"})]


# -- the worklist -------------------------------------------------------------------------------------------


def test_the_worklist_shows_the_users_records_oldest_first_with_their_words(console: Console) -> None:
    page = console.browser(LEAD).get("/console/nonconformities")
    assert page.status_code == 200
    html = page.text
    assert f'href="/console/nonconformities/{KEY}"' in html and OTHER_KEY not in html
    assert f'href="/console/cases/{OWN_CASE}"' in html and "000.31.12.H10" in html
    assert LABELS_VI["step_late"] in html and "Mới phát sinh" in html and "appraise" in html
    assert "06/03/2026 14:00" in html  # raised at, in the calendar's zone
    assert '<td class="num">5</td>' in html  # days since it was raised (6 → 12 March)
    english = TestClient(create_site(console.world.eiso))
    sign_in(english, console.world.tokens[LEAD]).cookies.set("eiso_lang", "en")
    assert LABELS_EN["step_late"] in english.get("/console/nonconformities").text
    # An unscoped role sees both agencies' records, the oldest first, as the API lists them.
    everything = console.browser(AUD).get("/console/nonconformities").text
    listed = re.findall(r'<tr data-key="([^"]+)"', everything)
    assert listed == [r["key"] for r in console.world.call(AUD, "GET", "/nonconformities").json()["items"]]
    assert set(listed) == {KEY, OTHER_KEY}


def test_the_worklist_filters(console: Console) -> None:
    browser = console.browser(ADMIN)
    both = [OTHER_KEY, KEY]  # raised at the same time: by key, as the API orders them

    def keys(query: str) -> list[str]:
        page = browser.get("/console/nonconformities?" + query)
        assert page.status_code == 200, query
        return re.findall(r'<tr data-key="([^"]+)"', page.text)

    assert keys("agency=000.00.12.H10") == [KEY]
    assert keys("agency=000.00.13.H10") == [OTHER_KEY]
    assert keys("type=step_late&agency=000.00.12.H10") == [KEY]
    assert keys("type=case_late") == []
    assert keys("procedure=9.000001") == both and keys("procedure=9.000002") == []
    assert keys("older_than=3") == both and keys("older_than=30") == []
    assert keys("raised_from=06/03/2026&raised_to=06/03/2026") == both
    assert keys("raised_from=07/03/2026") == [] and keys("raised_to=05/03/2026") == []
    assert keys("status=closed") == [] and keys("status=open") == both
    to_status(console, [("correction", {"correction": "done"})])
    assert keys("status=open") == [OTHER_KEY] and keys("status=correction_recorded") == [KEY]
    assert keys("") == both  # "not closed", the default
    # Paging: one row per page, a link to the next and back.
    first = browser.get("/console/nonconformities?limit=1").text
    assert re.findall(r'<tr data-key="([^"]+)"', first) == [OTHER_KEY]
    assert 'href="/console/nonconformities?limit=1&amp;offset=1" rel="next"' in first
    second = browser.get("/console/nonconformities?limit=1&offset=1").text
    assert re.findall(r'<tr data-key="([^"]+)"', second) == [KEY] and 'rel="next"' not in second
    assert 'rel="prev"' in second


def test_bad_filters_are_named_beside_their_field(console: Console) -> None:
    browser = console.browser(LEAD)
    for query, field in (("agency=not-a-code", "agency"), ("raised_from=31/02/2026", "raised_from"),
                         ("raised_to=01/01/0001", "raised_to"), ("older_than=-1", "older_than"),
                         ("type=nope", "type"), ("status=nope", "status"), ("procedure=" + "9" * 65, "procedure"),
                         ("raised_from=10/03/2026&raised_to=01/03/2026", "raised_to")):
        page = browser.get("/console/nonconformities?" + query)
        assert page.status_code == 422, query
        assert f'id="f-{field}"' in page.text and 'class="error"' in page.text, query
        assert "data-has-errors" in page.text and KEY not in page.text
    assert browser.get("/console/nonconformities?offset=-5").status_code == 422
    hostile = browser.get("/console/nonconformities", params={"procedure": '"><script>alert(1)</script>'})
    assert "<script>alert(1)" not in hostile.text and "&#34;&gt;&lt;script&gt;" in hostile.text


def test_the_worklist_needs_a_reading_role(console: Console) -> None:
    assert console.browser(Role.connector).get("/console/nonconformities").status_code == 403
    answer = console.anonymous().get("/console/nonconformities", follow_redirects=False)
    assert answer.status_code == 303 and answer.headers["location"].startswith("/console/signin")


# -- one record and its cycle -------------------------------------------------------------------------------------


def test_a_record_goes_from_open_to_closed_through_the_forms(console: Console) -> None:
    steps = [(SEC, "correction", CORRECTION, "correction_recorded", CORRECTION["correction"]),
             (SEC, "cause", CAUSE, "cause_analysed", CAUSE["cause"]),
             (SEC, "action", ACTION, "action_planned", "30/04/2026"),
             (LEAD, "verification", VERIFICATION, "action_verified", VERIFICATION["verification"]),
             (LEAD, "close", CLOSE, "closed", CLOSE["note"])]
    for done, (role, step, fields, status, shown) in enumerate(steps, start=1):
        answer = submit(console, role, step, fields)
        assert answer.status_code == 303, answer.text
        assert answer.headers["location"] == f"{URL}?saved={step}"
        page = console.browser(LEAD).get(answer.headers["location"])
        assert page.status_code == 200
        assert f'data-saved="nc-{step}"' in page.text and 'id="nc-saved"' in page.text
        assert f'data-status="{status}"' in page.text and shown in page.text
        # The step is in the record's audit trail, as the API's audit log has it.
        trail = page.text[page.text.index('id="nc-trail"'):]
        assert trail.count("data-entry=") == done
        assert f'data-action="nonconformity.{step}"' in trail
        assert record(console)[0] == status
    page = console.browser(LEAD).get(URL).text
    assert "Chu trình khắc phục đã kết thúc" in page and 'name="step"' not in page
    trail = page[page.index('id="nc-trail"'):]
    for words in ("Ghi nhận khắc phục", "Ghi nhận nguyên nhân", "Lập hành động khắc phục", "Xem xét hiệu lực",
                  "Đóng điểm không phù hợp", "iso_secretary-user", "leader-user", "Cán bộ, công chức",
                  "Mới phát sinh", "Đã đóng", "30/04/2026"):
        assert words in trail, words
    api_view = console.world.call(AUD, "GET", f"/nonconformities/{KEY}").json()
    action = api_view["corrective_action"]
    assert api_view["status"] == "closed" and action["correction"] == CORRECTION["correction"]
    assert action["cause_category"] == "staff" and action["action_owner"] == "Trưởng phòng"
    assert action["action_due"] == "2026-04-30" and action["effective"] is True
    assert action["closing_note"] == CLOSE["note"] and action["updated_by"] == "leader-user"
    log = console.world.call(AUD, "GET", "/audit", params={"entity_key": KEY}).json()["items"]
    assert [(e["action"], e["actor"]) for e in log] == [
        ("nonconformity.correction", "iso_secretary-user"), ("nonconformity.cause", "iso_secretary-user"),
        ("nonconformity.action", "iso_secretary-user"), ("nonconformity.verification", "leader-user"),
        ("nonconformity.close", "leader-user")]
    listed = console.browser(LEAD).get("/console/nonconformities?status=closed").text
    assert f'data-key="{KEY}"' in listed and "Trưởng phòng" in listed and "30/04/2026" in listed


def test_an_ineffective_action_goes_back_to_cause_analysis(console: Console) -> None:
    to_status(console, [*API_CAUSE, ("action", {"action": "a", "owner": "o", "due": "2026-04-30"})])
    answer = submit(console, LEAD, "verification", {"verification": "Vẫn trễ", "effective": "no"})
    assert answer.status_code == 303
    page = console.browser(SEC).get(URL).text
    assert 'data-status="cause_analysed"' in page
    assert 'id="form-cause"' in page and 'id="form-action"' in page  # revise the cause, or plan again
    cycle = page[page.index('id="nc-cycle"'):page.index('id="h-next"')]
    assert "Vẫn trễ" in cycle and "<dd>không</dd>" in cycle


def test_the_forms_follow_the_state_machine_and_the_role(console: Console) -> None:
    sec = console.browser(SEC).get(URL).text
    assert 'id="form-correction"' in sec and 'id="form-cause"' not in sec and 'id="form-close"' not in sec
    leader = console.browser(LEAD).get(URL).text
    assert 'name="step"' not in leader  # the next step is a worker's
    assert "Ghi nhận việc khắc phục" in leader and "thư ký ISO" in leader  # who may do it
    auditor = console.browser(AUD).get(URL).text
    assert 'name="step"' not in auditor
    to_status(console, [*API_CAUSE, ("action", {"action": "a", "owner": "o", "due": "2026-04-30"})])
    owner = console.browser(PO).get(URL).text
    assert 'name="step"' not in owner  # verification is a verifier's
    assert 'id="form-verification"' in console.browser(LEAD).get(URL).text


def test_command_roles_are_the_api_routes_roles(console: Console) -> None:
    found: dict[str, frozenset[Role]] = {}
    for route in api.router.routes:
        if isinstance(route, APIRoute) and "POST" in route.methods:
            command = route.path.rsplit("/", 1)[-1]
            guards = [d.call for d in route.dependant.dependencies if isinstance(d.call, Allow)]
            assert len(guards) == 1, route.path
            found[command] = guards[0].roles
    assert found == {command.value: roles for command, roles in api.COMMAND_ROLES.items()}
    assert set(api.COMMAND_ROLES) == set(Command)


def test_a_stale_version_is_refused_inline_and_changes_nothing(console: Console) -> None:
    to_status(console, API_CAUSE)  # cause_analysed: the cause may be revised again, by anyone of the workers
    first, second = console.browser(SEC), console.browser(PO)
    first_page, second_page = first.get(URL).text, second.get(URL).text
    assert version_of(first_page) == version_of(second_page)
    won = first.post(URL, data={"csrf": csrf_of(first_page), "step": "cause", "version": version_of(first_page),
                                "cause": "Thiếu quy định người thay thế", "category": "procedure"},
                     follow_redirects=False)
    assert won.status_code == 303
    _, action, entries = record(console)
    lost = second.post(URL, data={"csrf": csrf_of(second_page), "step": "cause", "version": version_of(second_page),
                                  "cause": "Khối lượng hồ sơ tăng đột biến", "category": "workload"},
                       follow_redirects=False)
    assert lost.status_code == 409
    assert "Người khác vừa thay đổi điểm không phù hợp này" in lost.text and 'id="nc-problem"' in lost.text
    assert "Khối lượng hồ sơ tăng đột biến" in lost.text  # the text typed is kept in the form
    status, after, after_entries = record(console)
    assert status == "cause_analysed" and after is not None and action is not None
    assert after.cause == "Thiếu quy định người thay thế" and after.cause_category == "procedure"
    assert after_entries == entries
    # A missing or forged version is stale too: it never matches.
    for forged in ("", "abc", "99999999999999999999"):
        answer = second.post(URL, data={"csrf": csrf_of(second_page), "step": "cause", "version": forged,
                                        "cause": "x", "category": "other"}, follow_redirects=False)
        assert answer.status_code == 409, forged
    assert record(console)[2] == entries


def test_two_browsers_submitting_at_once_one_wins(console: Console) -> None:
    browsers = [console.browser(SEC), console.browser(PO)]
    pages = [browser.get(URL).text for browser in browsers]
    assert version_of(pages[0]) == version_of(pages[1]) == "0"
    answers: list[Any] = [None, None]
    barrier = threading.Barrier(2)

    def post(index: int) -> None:
        barrier.wait()
        answers[index] = browsers[index].post(URL, data={
            "csrf": csrf_of(pages[index]), "step": "correction", "version": "0",
            "correction": f"Khắc phục của người thứ {index + 1}"}, follow_redirects=False)

    threads = [threading.Thread(target=post, args=(i,)) for i in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    assert sorted(answer.status_code for answer in answers) == [303, 409]
    status, action, entries = record(console)
    assert status == "correction_recorded" and entries == 1
    winner = answers[0] if answers[0].status_code == 303 else answers[1]
    assert action is not None and action.correction == f"Khắc phục của người thứ {answers.index(winner) + 1}"


def test_an_invalid_transition_is_refused_inline(console: Console) -> None:
    answer = submit(console, SEC, "close", CLOSE)
    assert answer.status_code == 409
    assert 'id="nc-problem"' in answer.text
    assert "Không thể thực hiện bước “Đóng điểm không phù hợp” khi điểm không phù hợp đang ở trạng thái " \
           "“Mới phát sinh”" in answer.text
    assert "Bước có thể làm tiếp: Ghi nhận việc khắc phục" in answer.text
    assert record(console)[0] == "open" and record(console)[2] == 0
    to_status(console, [*API_CAUSE, ("action", {"action": "a", "owner": "o", "due": "2026-04-30"})])
    early = submit(console, LEAD, "close", CLOSE)  # before verification
    assert early.status_code == 409 and "“Đã lập hành động khắc phục”" in early.text
    assert record(console)[0] == "action_planned"
    unknown = submit(console, SEC, "reopen", {})
    assert unknown.status_code == 422 and "Bước không hợp lệ" in unknown.text


def test_bad_fields_are_named_beside_the_field(console: Console) -> None:
    for text in ("", "   \n "):
        empty = submit(console, SEC, "correction", {"correction": text})
        assert empty.status_code == 422
        assert '<p class="error" id="e-correction" role="alert">Bắt buộc nhập.</p>' in empty.text
        assert "data-has-errors" in empty.text
    huge = submit(console, SEC, "correction", {"correction": "x" * 6000})
    assert huge.status_code == 422 and "Tối đa 5000 ký tự." in huge.text
    nul = submit(console, SEC, "correction", {"correction": "a\x00b"})
    assert nul.status_code == 422 and 'id="e-correction"' in nul.text
    assert record(console) == ("open", None, 0)
    to_status(console, API_CAUSE)
    past = "Hạn hoàn thành không được trước hôm nay (12/03/2026)"
    for due, message in (("31/02/2026", "Ngày không hợp lệ"), ("01/01/0001", "Ngày không hợp lệ"),
                         ("31/12/9999", "Ngày không hợp lệ"), ("tomorrow", "Ngày không hợp lệ"),
                         ("", "Bắt buộc nhập."), ("11/03/2026", past)):
        answer = submit(console, SEC, "action", {**ACTION, "due": due})
        assert answer.status_code == 422, due
        assert re.search(r'<p class="error" id="e-due" role="alert">[^<]*' + re.escape(message), answer.text), due
        assert f'value="{due}"' in answer.text  # what was typed stays in the field
    no_owner = submit(console, SEC, "action", {**ACTION, "owner": ""})
    assert no_owner.status_code == 422 and 'id="e-owner"' in no_owner.text
    no_category = submit(console, SEC, "cause", {"cause": "why", "category": ""})
    assert no_category.status_code == 422 and "Bắt buộc nhập." in no_category.text
    bad_category = submit(console, SEC, "cause", {"cause": "why", "category": "weather"})
    assert bad_category.status_code == 422 and "Hãy chọn một giá trị trong danh sách." in bad_category.text
    assert record(console)[0] == "cause_analysed" and record(console)[2] == 2
    today = submit(console, SEC, "action", {**ACTION, "due": "12/03/2026"})
    assert today.status_code == 303  # due today is allowed, as in the API
    no_verdict = submit(console, LEAD, "verification", {"verification": "checked", "effective": ""})
    assert no_verdict.status_code == 422 and 'id="f-effective"' in no_verdict.text
    assert "Bắt buộc nhập." in no_verdict.text
    assert record(console)[0] == "action_planned"


def test_markup_is_shown_escaped(console: Console) -> None:
    hostile = '<script>alert("x")</script><img src=x onerror=alert(1)>=HYPERLINK("http://evil")'
    assert submit(console, SEC, "correction", {"correction": hostile}).status_code == 303
    page = console.browser(LEAD).get(URL).text
    assert "<script>alert" not in page and "<img src=x" not in page
    assert "&lt;script&gt;alert(&#34;x&#34;)&lt;/script&gt;&lt;img src=x onerror=alert(1)&gt;" in page
    log = console.browser(AUD).get("/console/audit").text
    assert "<script>alert" not in log and "&lt;script&gt;alert" in log
    refused = submit(console, SEC, "cause", {"cause": hostile, "category": "<b>x</b>"})
    assert refused.status_code == 422 and "<script>alert" not in refused.text and "<b>x</b>" not in refused.text


def test_another_agencys_record_is_not_found_and_cannot_be_changed(console: Console) -> None:
    for role in (SEC, LEAD, PO):
        page = console.browser(role).get(OTHER_URL)
        assert page.status_code == 404 and 'id="nc-facts"' not in page.text
        assert "Không tìm thấy trang hoặc mục này" in page.text
    own = console.browser(SEC).get(URL).text
    answer = console.browser(SEC).post(OTHER_URL, data={"csrf": csrf_of(own), "step": "correction", "version": "0",
                                                         "correction": "not mine"}, follow_redirects=False)
    assert answer.status_code == 404
    assert record(console, OTHER_KEY) == ("open", None, 0)
    assert console.browser(ADMIN).get(OTHER_URL).status_code == 200  # an unscoped role sees it
    assert console.browser(LEAD).get("/console/nonconformities/no-such-key:1").status_code == 404
    assert console.browser(LEAD).get("/console/nonconformities/" + "x" * 1000).status_code == 404


def test_a_role_that_may_not_record_the_step_gets_the_403_page(console: Console) -> None:
    own = console.browser(LEAD).get(URL).text
    answer = console.browser(LEAD).post(URL, data={"csrf": csrf_of(own), "step": "correction",
                                                   "version": "0", "correction": "not my job"})
    assert answer.status_code == 403 and "Vai trò của bạn không được làm việc này" in answer.text
    for role in (AUD, Role.connector):
        client = console.browser(role)
        token = csrf_of(client.get("/console/").text)
        assert client.post(URL, data={"csrf": token, "step": "correction", "version": "0",
                                      "correction": "x"}).status_code == 403
    to_status(console, [*API_CAUSE, ("action", {"action": "a", "owner": "o", "due": "2026-04-30"})])
    owner = console.browser(PO).get(URL).text
    verify = console.browser(PO).post(URL, data={"csrf": csrf_of(owner), "step": "verification",
                                                 "version": str(api_version(console)), **VERIFICATION})
    assert verify.status_code == 403
    assert record(console)[0] == "action_planned"


def test_a_form_without_the_csrf_token_is_refused(console: Console) -> None:
    client = console.browser(SEC)
    for data in ({}, {"csrf": "forged"}):
        answer = client.post(URL, data={**data, "step": "correction", "version": "0", **CORRECTION})
        assert answer.status_code == 403 and "Biểu mẫu đã cũ" in answer.text
    cross = client.post(URL, data={"csrf": csrf_of(client.get(URL).text), "step": "correction", "version": "0",
                                   **CORRECTION}, headers={"Origin": "https://evil.example"})
    assert cross.status_code == 403
    assert record(console) == ("open", None, 0)


def test_an_expired_session_goes_to_sign_in_and_back_to_the_record(console: Console) -> None:
    answer = console.anonymous().post(URL, data={"step": "correction", **CORRECTION}, follow_redirects=False)
    assert answer.status_code == 303 and answer.headers["location"].startswith("/console/signin?next=")
    assert "nonconformities/OWN-260302-0001" in answer.headers["location"]
    assert record(console) == ("open", None, 0)


def test_the_evidence_and_the_trail_follow_the_api(console: Console) -> None:
    page = console.browser(LEAD).get(URL).text
    evidence = page[page.index('id="nc-evidence"'):page.index('id="h-trail"')]
    assert 'data-event="own-2"' in evidence and 'data-event="own-3"' in evidence and "other-" not in evidence
    assert "02/03/2026 09:00" in evidence and "06/03/2026 14:00" in evidence
    assert "Chưa có thay đổi nào." in page
    # The process owner works on the record but does not read the audit log (the API's AUDIT_READERS).
    owner = console.browser(PO).get(URL).text
    assert 'id="nc-trail"' not in owner and "Nhật ký thay đổi chỉ hiển thị cho vai trò" in owner


def test_a_step_through_the_console_writes_the_outbox_row_with_kafka(console: Console, database_url: str) -> None:
    from engine.bootstrap import build

    settings = Settings(database=DatabaseSettings(url=database_url), engine=EngineSettings(outbox=True))
    with_outbox = build(settings, clock=console.world.clock)
    try:
        client = sign_in(TestClient(create_site(with_outbox)), console.world.tokens[SEC])
        html = client.get(URL).text
        answer = client.post(URL, data={"csrf": csrf_of(html), "step": "correction", "version": version_of(html),
                                        **CORRECTION}, follow_redirects=False)
        assert answer.status_code == 303
        with Session(console.world.eiso.engine) as session:
            ids = session.connection().execute(select(col(OutboxMessage.message_id))).scalars().all()
        assert f"nc:{KEY}:step_late:correction_recorded" in ids
        client.close()
    finally:
        with_outbox.engine.dispose()
