"""The cases pages: the list gives what the API's GET /cases gives, the case page (Form 05 slip, the path on
the diagram, the timeline), the Form 04 page, agency scope, and hostile filters."""

from __future__ import annotations

import html
import json
import re
from datetime import datetime, timedelta
from typing import Any
from urllib.parse import quote

import pytest
from sqlalchemy import insert

from engine.api.roles import Role
from engine.store.tables import JournalEntry
from tests.api.support import OTHER_AGENCY, OTHER_CASE, OWN_AGENCY, OWN_CASE, USER_AGENCY, event
from tests.console.support import Console

LEAD, ADMIN = Role.leader, Role.admin
ROW = re.compile(r'<tr data-case="([^"]*)"')


def ingest(console: Console, *events: dict[str, Any]) -> None:
    for obj in events:
        assert console.world.eiso.service.ingest_object(obj, "test").status == "applied", obj


def page_ids(console: Console, role: Role, **params: str) -> list[str]:
    answer = console.browser(role).get("/console/cases", params=params)
    assert answer.status_code == 200, answer.text
    return [html.unescape(found) for found in ROW.findall(answer.text)]


def api_ids(console: Console, role: Role, **params: Any) -> list[str]:
    answer = console.world.call(role, "GET", "/cases", params=params)
    assert answer.status_code == 200, answer.text
    return [c["case_id"] for c in answer.json()["items"]]


def _more_cases(console: Console) -> None:
    ingest(console,
           event("e-1", "case.received", "2026-03-10 08:00", "EARLY-1", OWN_AGENCY),
           event("e-2", "case.result_ready", "2026-03-10 10:00", "EARLY-1", OWN_AGENCY),
           event("c-1", "case.received", "2026-03-11 08:00", "CALM-1", USER_AGENCY),
           event("o-1", "case.received", "2026-03-04 09:00", "OTHER-260304-0002", OTHER_AGENCY))


# The console's filters (dd/mm/yyyy, "to" included) and the same question to the API.
SAME_QUESTION: list[tuple[dict[str, str], dict[str, Any]]] = [
    ({}, {}),
    ({"agency": USER_AGENCY}, {"agency": USER_AGENCY}),
    ({"agency": OWN_AGENCY, "status": "resolved"}, {"agency": OWN_AGENCY, "status": "resolved"}),
    ({"agency": OTHER_AGENCY}, {"agency": OTHER_AGENCY}),
    ({"status": "open"}, {"status": "open"}),
    ({"timeliness": "early"}, {"timeliness": "early"}),
    ({"overdue": "true"}, {"overdue": True}),
    ({"overdue": "false"}, {"overdue": False}),
    ({"procedure": "9.000001"}, {"procedure": "9.000001"}),
    ({"procedure": "9.000002"}, {"procedure": "9.000002"}),
    ({"received_from": "03/03/2026", "received_to": "10/03/2026"},
     {"received_from": "2026-03-03T00:00:00", "received_to": "2026-03-11T00:00:00"}),
    ({"received_from": "2026-03-11"}, {"received_from": "2026-03-11T00:00:00+07:00"}),
    ({"case_id": "OTHER"}, {"case_id": "OTHER"}),
    ({"case_id": OWN_CASE}, {"case_id": OWN_CASE}),
    ({"case_id": "own"}, {"case_id": "own"}),  # a prefix is matched as written: case ids are codes
    ({"case_id": "E", "overdue": "false"}, {"case_id": "E", "overdue": False}),
    ({"limit": "1", "offset": "1"}, {"limit": 1, "offset": 1}),
]


@pytest.mark.parametrize("role", [LEAD, ADMIN])
def test_each_list_filter_gives_what_the_api_gives(console: Console, role: Role) -> None:
    _more_cases(console)
    seen_any = False
    for page_params, api_params in SAME_QUESTION:
        expected = api_ids(console, role, **api_params)
        assert page_ids(console, role, **page_params) == expected, page_params
        seen_any = seen_any or bool(expected)
    assert seen_any
    # The leader's agency covers 000.31.12.H10 but not another department's cases.
    assert OTHER_CASE not in page_ids(console, LEAD)
    assert api_ids(console, ADMIN, case_id="OTHER") == ["OTHER-260304-0002", OTHER_CASE]


def test_the_list_shows_each_cases_facts_and_badges(console: Console) -> None:
    _more_cases(console)
    text = console.browser(LEAD).get("/console/cases").text
    row = re.search(r'<tr data-case="OWN-260302-0001">(.*?)</tr>', text, re.S)
    assert row is not None
    cells = row.group(1)
    assert f'href="/console/cases/{OWN_CASE}"' in cells
    assert "9.000001 phiên bản 1" in cells and "02/03/2026 08:00" in cells and "09/03/2026 08:00" in cells
    assert "Đang quá hạn" in cells and "Đang giải quyết" in cells
    early = re.search(r'<tr data-case="EARLY-1">(.*?)</tr>', text, re.S)
    assert early is not None and 'class="badge early"' in early.group(1) and "10/03/2026 10:00" in early.group(1)
    assert "Hồ sơ 1–3 trong tổng số 3" in text


def test_the_list_pages_newest_first(console: Console) -> None:
    _more_cases(console)
    browser = console.browser(LEAD)
    first = browser.get("/console/cases", params={"limit": "2"}).text
    assert [html.unescape(i) for i in ROW.findall(first)] == ["CALM-1", "EARLY-1"]
    assert 'href="/console/cases?limit=2&amp;offset=2" rel="next"' in first and 'rel="prev"' not in first
    second = browser.get("/console/cases?limit=2&offset=2").text
    assert [html.unescape(i) for i in ROW.findall(second)] == [OWN_CASE]
    assert 'href="/console/cases?limit=2" rel="prev"' in second and 'rel="next"' not in second


def test_a_leader_bound_to_an_agency_gets_the_404_page_for_another_agencys_case(console: Console) -> None:
    browser = console.browser(LEAD)
    for tail in ("", "/diagram.bpmn", "/apology"):
        answer = browser.get(f"/console/cases/{OTHER_CASE}{tail}")
        assert answer.status_code == 404, tail
        assert answer.headers["content-type"].startswith("text/html")
        main = answer.text.split('<main id="main"', 1)[1]  # the frame's language link names the URL itself
        assert OTHER_CASE not in main and "000.00.13" not in main
        assert console.world.call(LEAD, "GET", f"/cases/{OTHER_CASE}{tail.replace('/diagram.bpmn', '')}") \
            .status_code == 404
    assert browser.get("/console/cases/NO-SUCH-CASE").status_code == 404
    admin = console.browser(ADMIN)
    assert admin.get(f"/console/cases/{OTHER_CASE}").status_code == 200
    assert admin.get(f"/console/cases/{OTHER_CASE}/diagram.bpmn").status_code == 200


def test_pages_need_a_reader(console: Console) -> None:
    anonymous = console.anonymous().get(f"/console/cases/{OWN_CASE}", follow_redirects=False)
    assert anonymous.status_code == 303 and anonymous.headers["location"].startswith("/console/signin?next=")
    for url in ("/console/cases", f"/console/cases/{OWN_CASE}", f"/console/cases/{OWN_CASE}/diagram.bpmn"):
        assert console.browser(Role.connector).get(url).status_code == 403, url
    for role in (Role.process_owner, Role.iso_secretary, Role.auditor):
        assert console.browser(role).get(f"/console/cases/{OWN_CASE}").status_code == 200, role


def _slip_row(text: str, step: str) -> str:
    row = re.search(rf'<tr data-step="{step}" data-marker="([a-z]+)">(.*?)</tr>', text, re.S)
    assert row is not None, step
    return row.group(1) + "|" + row.group(2)


def test_the_control_slip_shows_the_late_step_with_its_due_and_qua_han(console: Console) -> None:
    slip = console.world.call(LEAD, "GET", f"/cases/{OWN_CASE}").json()
    appraise = next(s for s in slip["steps"] if s["step"] == "appraise")
    due = datetime.fromisoformat(appraise["due_at"]).strftime("%d/%m/%Y %H:%M")
    answer = console.browser(LEAD).get(f"/console/cases/{OWN_CASE}")
    assert answer.status_code == 200
    text = answer.text
    # The form's heading lines, as Circular 01/2018/TT-VPCP lays out Form 05.
    for line in ("CỘNG HÒA XÃ HỘI CHỦ NGHĨA VIỆT NAM", "Độc lập - Tự do - Hạnh phúc",
                 "PHIẾU KIỂM SOÁT QUÁ TRÌNH GIẢI QUYẾT HỒ SƠ", "BỘ PHẬN TIẾP NHẬN VÀ TRẢ KẾT QUẢ",
                 f'Mã hồ sơ: <strong class="slip-case-id">{OWN_CASE}</strong>', "Test procedure (5 working days)",
                 "02/03/2026 08:00", "09/03/2026 08:00"):
        assert line in text, line
    row = _slip_row(text, "appraise")
    assert row.startswith("late|") and "Section officer" in row and due in row and "Quá hạn" in row
    assert "trễ 19,5 giờ" in row and "bên giao: One-Stop unit" in row and "06/03/2026 14:00" in row
    assert _slip_row(text, "receive").startswith("done|") and "Đúng hạn" in _slip_row(text, "receive")
    # Waiting now past their due: marked overdue, as the diagram marks them.
    assert _slip_row(text, "review").startswith("overdue|") and "Đang xử lý — quá hạn" in _slip_row(text, "review")
    assert "data-print" in text and '<link rel="stylesheet" href="/console/static/cases.css">' in text
    path = re.search(r'<script type="application/json" id="case-path">(.*?)</script>', text, re.S)
    assert path is not None
    data = json.loads(path.group(1))
    assert data["markers"] == {"receive": "done", "appraise": "late", "consult": "overdue", "review": "overdue"}
    assert data["xml"] == f"/console/cases/{OWN_CASE}/diagram.bpmn"
    assert "/console/static/vendor/bpmn-js/bpmn-navigated-viewer.production.min.js" in text
    assert "<script>" not in text  # no inline script: the CSP allows none


def test_the_slip_names_who_handed_over_when_the_events_tell(console: Console) -> None:
    actor = {"unit": "Phòng Hành chính", "officer": "Nguyễn Văn A"}
    ingest(console,
           event("h-1", "case.received", "2026-03-11 08:00", "HAND-1", OWN_AGENCY,
                 actor={"unit": "Bộ phận Một cửa", "officer": "Trần Thị B"}),
           event("h-2", "step.started", "2026-03-11 08:30", "HAND-1", OWN_AGENCY, "receive", actor=actor),
           event("h-3", "step.completed", "2026-03-11 09:00", "HAND-1", OWN_AGENCY, "receive", actor=actor))
    row = _slip_row(console.browser(LEAD).get("/console/cases/HAND-1").text, "receive")
    assert "bên giao: Trần Thị B — Bộ phận Một cửa" in row
    assert "Bắt đầu xử lý: 11/03/2026 08:30" in row and "người nhận: Nguyễn Văn A — Phòng Hành chính" in row
    assert "người giao: Nguyễn Văn A — Phòng Hành chính" in row and "bên nhận: Section officer" in row
    active = _slip_row(console.browser(LEAD).get("/console/cases/HAND-1").text, "appraise")
    assert active.startswith("active|") and "Đang xử lý" in active


def test_the_diagram_is_the_cases_procedure_version(console: Console) -> None:
    answer = console.browser(LEAD).get(f"/console/cases/{OWN_CASE}/diagram.bpmn")
    assert answer.status_code == 200 and answer.headers["content-type"].startswith("application/xml")
    assert 'id="appraise"' in answer.text and 'value="9.000001"' in answer.text
    assert answer.headers["content-disposition"].startswith("attachment")


def test_the_timeline_shows_the_events_a_page_at_a_time(console: Console) -> None:
    browser = console.browser(LEAD)
    text = browser.get(f"/console/cases/{OWN_CASE}").text
    events = re.findall(r'<tr data-event="([^"]+)">', text)
    assert events == ["own-1", "own-2", "own-3"]
    assert "Tiếp nhận hồ sơ" in text and "Hoàn thành bước, chuyển tiếp" in text and "06/03/2026 14:00" in text
    at = datetime.fromisoformat("2026-03-09T10:00:00+07:00")
    rows = [{"event_id": f"bulk-{i}", "case_id": OWN_CASE, "type": "step.started", "occurred_at": at + timedelta(
        seconds=i), "recorded_at": at, "payload": {"step": "review", "reason": "<b>r</b>"},
        "notes": "step review is not active"} for i in range(120)]
    with console.world.eiso.engine.begin() as conn:
        conn.execute(insert(JournalEntry), rows)
    first = browser.get(f"/console/cases/{OWN_CASE}").text
    assert len(re.findall(r'<tr data-event="', first)) == 100
    following = re.search(r'href="(/console/cases/[^"]+\?after=(\d+)#timeline)" rel="next"', first)
    assert following is not None
    second = browser.get(html.unescape(following.group(1))).text
    assert re.findall(r'<tr data-event="([^"]+)">', second)[-1] == "bulk-119"
    assert len(re.findall(r'<tr data-event="', second)) == 23
    assert "Lý do: &lt;b&gt;r&lt;/b&gt;" in second and "Hệ thống ghi chú: step review is not active" in second
    assert 'rel="next"' not in second


def test_form_04_for_the_late_case_and_not_for_one_that_does_not_qualify(console: Console) -> None:
    browser = console.browser(LEAD)
    case_page = browser.get(f"/console/cases/{OWN_CASE}").text
    assert f'href="/console/cases/{OWN_CASE}/apology"' in case_page
    slip = console.world.call(LEAD, "GET", f"/cases/{OWN_CASE}/apology").json()
    assert slip["situation"] == "overdue"
    answer = browser.get(f"/console/cases/{OWN_CASE}/apology")
    assert answer.status_code == 200
    for line in ("PHIẾU XIN LỖI VÀ HẸN LẠI NGÀY TRẢ KẾT QUẢ", "CỘNG HÒA XÃ HỘI CHỦ NGHĨA VIỆT NAM",
                 f"Mã hồ sơ: {OWN_CASE}", 'data-situation="overdue"', "quá hạn 24,0 giờ làm việc",
                 "Ngày hẹn trả kết quả: 09/03/2026 08:00", "Test procedure (5 working days)", "data-print"):
        assert line in answer.text, line
    ingest(console, event("n-1", "case.received", "2026-03-11 08:00", "CALM-1", OWN_AGENCY),
           event("d-1", "case.received", "2026-03-02 08:00", "DONE-1", OWN_AGENCY),
           event("d-2", "case.result_ready", "2026-03-03 08:00", "DONE-1", OWN_AGENCY))
    for case_id in ("CALM-1", "DONE-1"):
        assert console.world.call(LEAD, "GET", f"/cases/{case_id}/apology").status_code == 409
        refused = browser.get(f"/console/cases/{case_id}/apology")
        assert refused.status_code == 409 and "không thuộc trường hợp phải lập phiếu xin lỗi" in refused.text
        assert "/apology" not in browser.get(f"/console/cases/{case_id}").text


def test_form_04_with_the_apology_made_shows_the_reason_and_new_appointment(console: Console) -> None:
    ingest(console, event("x-1", "case.received", "2026-03-09 08:00", "EXT-1", OWN_AGENCY),
           event("x-2", "case.extended", "2026-03-12 08:00", "EXT-1", OWN_AGENCY,
                 due_at="2026-03-20T17:00:00+07:00", reason="Chờ <i>văn bản</i> của Sở"))
    text = console.browser(LEAD).get("/console/cases/EXT-1/apology").text
    assert 'data-situation="extended"' in text and "Lý do: Chờ &lt;i&gt;văn bản&lt;/i&gt; của Sở" in text
    assert "sẽ trả kết quả giải quyết hồ sơ vào ngày 20/03/2026" in text
    assert "12/03/2026 08:00 — đủ sớm" in text


@pytest.mark.parametrize(("params", "field"), [
    ({"received_from": "01/01/0001"}, "received_from"),
    ({"received_to": "31/12/9999"}, "received_to"),
    ({"received_from": "0001-01-01"}, "received_from"),
    ({"received_from": "30/02/2026"}, "received_from"),
    ({"received_from": "10/03/2026", "received_to": "09/03/2026"}, "received_to"),
    ({"agency": "<script>alert(1)</script>"}, "agency"),
    ({"agency": "%"}, "agency"),
    ({"case_id": "X" * 10_000}, "case_id"),
    ({"procedure": "P" * 65}, "procedure"),
    ({"status": "lost"}, "status"),
    ({"timeliness": "=1+1"}, "timeliness"),
    ({"overdue": "perhaps"}, "overdue"),
])
def test_bad_filters_answer_the_page_with_a_message_beside_the_field(console: Console, params: dict[str, str],
                                                                     field: str) -> None:
    answer = console.browser(LEAD).get("/console/cases", params=params)
    assert answer.status_code == 422 and answer.headers["content-type"].startswith("text/html")
    assert f'aria-describedby="e-{field}"' in answer.text or f'id="f-{field}"' in answer.text
    assert re.search(rf'id="f-{field}".*?<p class="error"', answer.text, re.S), field
    assert "<script>alert" not in answer.text and "Traceback" not in answer.text
    assert not ROW.findall(answer.text)


@pytest.mark.parametrize("query", ["limit=0", "limit=501", "offset=-1", "offset=1e9", "limit=%E2%91%A0"])
def test_bad_paging_answers_422_not_500(console: Console, query: str) -> None:
    answer = console.browser(LEAD).get(f"/console/cases?{query}")
    assert answer.status_code == 422 and "Số trang hoặc số dòng không hợp lệ" in answer.text


def test_hostile_text_is_refused_or_shown_escaped(console: Console) -> None:
    browser = console.browser(LEAD)
    markup = browser.get("/console/cases", params={"procedure": '"><script>alert(1)</script>', "case_id": "<b>"})
    assert markup.status_code == 200 and not ROW.findall(markup.text)
    assert "<script>alert(1)" not in markup.text and "&#34;&gt;&lt;script&gt;" in markup.text
    assert browser.get("/console/cases?procedure=a%00b").status_code == 422  # the API's guard, before the page
    assert browser.get("/console/cases/" + "X" * 10_000).status_code == 404
    assert browser.get("/console/cases?case_id=%EF%BF%BF").status_code == 200


def test_markup_in_a_case_id_shows_escaped_and_its_page_is_reachable(console: Console) -> None:
    case_id = '<img src=x onerror="alert(1)">/2026&1'
    ingest(console, event("m-1", "case.received", "2026-03-10 08:00", case_id, OWN_AGENCY))
    browser = console.browser(LEAD)
    listing = browser.get("/console/cases").text
    assert "<img src=x" not in listing and "&lt;img src=x onerror=&#34;alert(1)&#34;&gt;/2026&amp;1" in listing
    link = f'/console/cases/{quote(case_id, safe="/")}'
    assert f'href="{link}"' in listing
    page = browser.get(link)
    assert page.status_code == 200 and "<img src=x" not in page.text
    assert "&lt;img src=x onerror=&#34;alert(1)&#34;&gt;/2026&amp;1" in page.text
    path = re.search(r'id="case-path">(.*?)</script>', page.text, re.S)
    assert path is not None and "<img" not in path.group(1)
    assert json.loads(path.group(1))["xml"] == link + "/diagram.bpmn"
    assert browser.get(link + "/diagram.bpmn").status_code == 200


def test_the_pages_speak_english_on_the_switch(console: Console) -> None:
    browser = console.browser(LEAD)
    browser.get("/console/lang/en?next=/console/")
    text = browser.get(f"/console/cases/{OWN_CASE}").text
    assert "Process control slip (Form 05)" in text and "Late" in text and "SOCIALIST REPUBLIC OF VIET NAM" in text
    assert "Overdue now" in browser.get("/console/cases").text
