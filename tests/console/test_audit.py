"""The audit log page: the API's entries (``GET /audit``'s query and scope rule), newest first, filtered,
with each entry's before/after as a readable, escaped diff; for the API's audit readers only."""

from __future__ import annotations

import re
from typing import Any

from engine.api.roles import AUDIT_READERS, Role
from tests.api.support import OTHER_CASE, OWN_CASE, nc_key
from tests.console.support import Console

KEY, OTHER_KEY = nc_key(OWN_CASE), nc_key(OTHER_CASE)
SEC, LEAD, AUD, ADMIN = Role.iso_secretary, Role.leader, Role.auditor, Role.admin
ENTRY = re.compile(r'<tr data-action="([^"]+)" data-entry="(\d+)">')


def steps(console: Console) -> None:
    """A correction and a cause on the users' record (by the ISO secretary), a correction on the other
    agency's (by the administrator, who sees every agency)."""
    world = console.world
    for role, key, command, body in (
            (SEC, KEY, "correction", {"correction": "<b>done</b>"}),
            (SEC, KEY, "cause", {"cause": "why", "category": "staff"}),
            (ADMIN, OTHER_KEY, "correction", {"correction": "done elsewhere"})):
        answer = world.call(role, "POST", f"/nonconformities/{key}/{command}", json=body)
        assert answer.status_code == 200, answer.text


def entries(console: Console, role: Role, query: str = "") -> list[tuple[str, int]]:
    page = console.browser(role).get("/console/audit" + (f"?{query}" if query else ""))
    assert page.status_code == 200, (query, page.text[-500:])
    return [(action, int(number)) for action, number in ENTRY.findall(page.text)]


def api_log(console: Console, role: Role, **params: Any) -> list[tuple[str, int]]:
    items = console.world.call(role, "GET", "/audit", params={"limit": 500, **params}).json()["items"]
    return [(item["action"], item["id"]) for item in items]


def test_the_log_is_the_apis_newest_first(console: Console) -> None:
    steps(console)
    shown = entries(console, AUD)
    assert shown == list(reversed(api_log(console, AUD)))[:50]
    assert [number for _, number in shown] == sorted((number for _, number in shown), reverse=True)
    assert shown[0][0] == "nonconformity.correction" and shown[1][0] == "nonconformity.cause"
    page = console.browser(AUD).get("/console/audit").text
    first = page[page.index(f'data-entry="{shown[0][1]}"'):page.index(f'data-entry="{shown[1][1]}"')]
    for words in ("admin-user", "quản trị", "Ghi nhận khắc phục", "Điểm không phù hợp", OTHER_KEY, "000.00.13.H10",
                  "12/03/2026 08:00", "Mới phát sinh", "Đã khắc phục", "done elsewhere"):
        assert words in first, words
    assert f'href="/console/nonconformities/{OTHER_KEY}"' in first


def test_the_diff_is_readable_and_escaped(console: Console) -> None:
    steps(console)
    page = console.browser(AUD).get("/console/audit", params={"entity_key": KEY}).text
    assert "<b>done</b>" not in page and "&lt;b&gt;done&lt;/b&gt;" in page
    assert "Nội dung khắc phục" in page and "Nhóm nguyên nhân" in page and "Cán bộ, công chức" in page
    cause = page[page.index('data-action="nonconformity.cause"'):]
    cause = cause[:cause.index("</table>")]
    assert 'data-field="cause"' in cause and 'data-field="correction"' not in cause  # only what changed


def test_filters(console: Console) -> None:
    steps(console)
    only = {action for action, _ in entries(console, AUD, "entity=nonconformity")}
    assert only == {"nonconformity.correction", "nonconformity.cause"}
    assert {a for a, _ in entries(console, AUD, "entity=user")} == {"user.create"}
    assert entries(console, AUD, f"entity_key={KEY}") == list(reversed(api_log(console, AUD, entity_key=KEY)))
    assert len(entries(console, AUD, f"entity_key={KEY}")) == 2
    by_admin = entries(console, AUD, "actor=admin-user")
    assert [a for a, _ in by_admin] == ["nonconformity.correction"]
    assert [a for a, _ in entries(console, AUD, "action=nonconformity.cause")] == ["nonconformity.cause"]
    assert entries(console, AUD, "from=12/03/2026&to=12/03/2026") == entries(console, AUD, "entity=nonconformity")
    assert entries(console, AUD, "from=13/03/2026") == []
    assert len(entries(console, AUD, "to=01/03/2026")) == len(api_log(console, AUD, to="2026-03-02"))
    # One entry per page, a link to the next.
    page = console.browser(AUD).get("/console/audit?entity=nonconformity&limit=1").text
    assert len(ENTRY.findall(page)) == 1 and "offset=1" in page and 'rel="next"' in page


def test_bad_filters_are_named_beside_their_field(console: Console) -> None:
    browser = console.browser(AUD)
    for query, field in (("from=31/02/2026", "from"), ("to=01/01/0001", "to"), ("from=12/03/2026&to=01/03/2026", "to"),
                         ("entity_key=" + "k" * 401, "entity_key"), ("actor=" + "a" * 201, "actor"),
                         ("entity=%3Cb%3E", "entity")):
        page = browser.get("/console/audit?" + query)
        assert page.status_code == 422, query
        assert f'id="f-{field}"' in page.text and 'class="error"' in page.text and not ENTRY.search(page.text), query
    assert browser.get("/console/audit?limit=0").status_code == 422
    hostile = browser.get("/console/audit", params={"actor": '"><script>alert(1)</script>'})
    assert hostile.status_code == 200 and "<script>alert(1)" not in hostile.text


def test_only_audit_readers_see_the_log(console: Console) -> None:
    for role in Role:
        answer = console.browser(role).get("/console/audit")
        assert answer.status_code == (200 if role in AUDIT_READERS else 403), role
    assert Role.process_owner not in AUDIT_READERS  # the API's rule: the process owner does not read the log
    assert "Vai trò của bạn không được làm việc này" in console.browser(Role.process_owner).get("/console/audit").text


def test_an_agency_bound_reader_sees_its_agencies_entries_and_those_of_no_agency(console: Console) -> None:
    steps(console)
    bound = entries(console, LEAD)
    assert bound == list(reversed(api_log(console, LEAD)))[:50]
    page = console.browser(LEAD).get("/console/audit").text
    assert KEY in page and OTHER_KEY not in page and "done elsewhere" not in page
    assert "user.create" in page  # entries with no agency (users, procedures) are shown to every audit reader
    assert entries(console, LEAD, f"entity_key={OTHER_KEY}") == []
    assert len(entries(console, AUD, f"entity_key={OTHER_KEY}")) == 1
