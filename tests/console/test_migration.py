"""Migrating running cases from the console (issue 13, item 1): the form on a version's page, the preview (the
API's dry run) with each step's old and new due, "Migrate" after the preview, the agency scope and the roles.

The world (tests/api/support.py): version 1 of 9.000001 for every agency; OWN_CASE (agency OWN_AGENCY, covered by
the users' USER_AGENCY) and OTHER_CASE (OTHER_AGENCY), both waiting at consult and review since Friday 6 March
2026 14:00. By hand, in working time (07:30-11:30, 13:00-17:00): consult (P1D = 8 h) is due Monday 9 March 14:00
(3 h on Friday, 5 h on Monday); review (PT4H) Monday 9 March 08:30 (3 h on Friday, 1 h on Monday). Version 2
makes consult P2D: due Tuesday 10 March 14:00 (3 h + 8 h + 5 h); review's allowance is unchanged, so its due too.
"""

from __future__ import annotations

import html
import re
from typing import Any

from engine.api.roles import Role
from tests.api.support import OTHER_AGENCY, OTHER_CASE, OWN_AGENCY, OWN_CASE, PROCEDURE
from tests.console.support import Console, csrf_of

A, PO, SEC, LEAD = Role.admin, Role.process_owner, Role.iso_secretary, Role.leader
SOURCE = PROCEDURE.read_bytes()
CONSULT_LONGER = SOURCE.replace(b'<camunda:property name="deadline" value="P1D"/>',
                                b'<camunda:property name="deadline" value="P2D"/>')
VERSION_2 = "/console/procedures/9.000001/versions/2"
MIGRATE = VERSION_2 + "/migrate"
CASE_ROWS = re.compile(r'<tbody class="migration-case (moved|stayed)" data-case="([^"]+)">(.*?)</tbody>', re.S)
STEP = re.compile(r'<td data-step="([^"]+)">[^<]*</td>\s*<td data-field="due_before">([^<]*)</td>\s*'
                  r'<td data-field="due_after"[^>]*>([^<]*)</td>', re.S)
PREVIEWED = re.compile(r'name="previewed" value="([0-9a-f]+)"')


def deploy_version_2(console: Console) -> None:
    answer = console.world.call(A, "POST", "/procedures",
                                files={"file": ("v2.bpmn", CONSULT_LONGER, "application/xml")})
    assert answer.status_code == 201, answer.text
    assert answer.json()["version"] == 2


def post(console: Console, role: Role, data: dict[str, str], url: str = MIGRATE) -> Any:
    values = {"to": "2", "from": "", "agencies": "", "map": "", **data}
    return console.form(role, url, values)


def cases_of(page: str) -> dict[str, tuple[str, dict[str, tuple[str, str]], str]]:
    """Per case of the result table: moved or stayed, each step's (due before, due after), and the row's text."""
    return {case_id: (result, {step: (before, after) for step, before, after in STEP.findall(body)},
                      html.unescape(re.sub(r"<[^>]+>", " ", body)))
            for result, case_id, body in CASE_ROWS.findall(page)}


def field_error(page: str, name: str) -> str:
    found = re.search(rf'<p class="error" id="e-mig-{name}" role="alert">(.*?)</p>', page, re.S)
    assert found is not None, f"no error beside {name}"
    return html.unescape(found.group(1))


def version_of(console: Console, case_id: str) -> int:
    version: int = console.world.call(A, "GET", f"/cases/{case_id}").json()["procedure_version"]
    return version


def test_the_preview_shows_each_steps_new_due_and_migrate_moves_the_case(console: Console) -> None:
    deploy_version_2(console)
    version_page = console.browser(A).get(VERSION_2)
    assert version_page.status_code == 200
    assert f'action="{MIGRATE}"' in version_page.text and 'name="map"' in version_page.text

    preview = post(console, A, {"agencies": OWN_AGENCY, "action": "preview"})
    assert preview.status_code == 200, preview.text
    found = cases_of(preview.text)
    assert set(found) == {OWN_CASE}  # the agencies field: only OWN_CASE
    result, steps, text = found[OWN_CASE]
    assert result == "moved" and "sẽ chuyển" in text and "1 → 2" in text
    assert steps == {"consult": ("09/03/2026 14:00", "10/03/2026 14:00"),
                     "review": ("09/03/2026 08:30", "09/03/2026 08:30")}
    assert version_of(console, OWN_CASE) == 1  # a preview writes nothing

    digest = PREVIEWED.search(preview.text)
    assert digest is not None
    done = post(console, A, {"agencies": OWN_AGENCY, "action": "migrate", "previewed": digest.group(1)})
    assert done.status_code == 200, done.text
    assert "1 hồ sơ đã chuyển, 0 hồ sơ ở lại." in done.text
    assert cases_of(done.text)[OWN_CASE][1]["consult"] == ("09/03/2026 14:00", "10/03/2026 14:00")
    assert version_of(console, OWN_CASE) == 2 and version_of(console, OTHER_CASE) == 1
    case_page = console.browser(A).get(f"/console/cases/{OWN_CASE}")
    assert "9.000001 phiên bản 2" in case_page.text
    assert "Chuyển sang phiên bản quy trình mới" in case_page.text  # the journal row in the timeline


def test_migrate_moves_only_what_was_previewed(console: Console) -> None:
    deploy_version_2(console)
    preview = post(console, A, {"agencies": OWN_AGENCY, "action": "preview"})
    digest = PREVIEWED.search(preview.text)
    assert digest is not None
    changed = post(console, A, {"agencies": "", "action": "migrate", "previewed": digest.group(1)})
    assert changed.status_code == 200
    assert "Các ô đã thay đổi sau lần xem trước" in changed.text
    assert set(cases_of(changed.text)) == {OWN_CASE, OTHER_CASE}  # the new preview, of every agency
    assert version_of(console, OWN_CASE) == 1 and version_of(console, OTHER_CASE) == 1
    forged = post(console, A, {"action": "migrate"})  # no preview at all
    assert "Các ô đã thay đổi sau lần xem trước" in forged.text
    assert version_of(console, OWN_CASE) == 1


def test_an_agency_bound_owner_cannot_migrate_another_agencys_cases(console: Console) -> None:
    deploy_version_2(console)  # for every agency: the owner does not manage that deployment
    preview = post(console, PO, {"action": "preview"})
    assert preview.status_code == 200, preview.text
    found = cases_of(preview.text)
    assert set(found) == {OWN_CASE}  # OTHER_CASE is not even listed
    assert found[OWN_CASE][0] == "stayed"
    assert "quy trình áp dụng cho đơn vị bạn không quản lý" in found[OWN_CASE][2]
    assert OTHER_CASE not in preview.text

    refused = post(console, PO, {"agencies": OTHER_AGENCY, "action": "migrate"})
    assert refused.status_code == 422
    message = field_error(refused.text, "agencies")
    assert message.startswith("Bạn chỉ chuyển được hồ sơ của đơn vị mình") and OTHER_AGENCY in message
    assert OTHER_CASE not in refused.text
    assert version_of(console, OTHER_CASE) == 1 and version_of(console, OWN_CASE) == 1


def test_a_secretary_or_leader_gets_no_form_and_a_post_is_refused(console: Console) -> None:
    deploy_version_2(console)
    for role in (SEC, LEAD):
        browser = console.browser(role)
        version_page = browser.get(VERSION_2)
        assert version_page.status_code == 200
        assert "/migrate" not in version_page.text and 'name="map"' not in version_page.text
        assert browser.get(MIGRATE).status_code == 403
        token = csrf_of(version_page.text)  # the language switch's form carries the session's token
        answer = browser.post(MIGRATE, data={"csrf": token, "to": "2", "from": "", "agencies": "", "map": "",
                                             "action": "migrate"}, follow_redirects=False)
        assert answer.status_code == 403, answer.text
    assert version_of(console, OWN_CASE) == 1


def test_a_bad_map_is_shown_beside_the_field(console: Console) -> None:
    deploy_version_2(console)
    unknown = post(console, A, {"map": '[steps]\nconsul = "consult"\n', "action": "preview"})
    assert unknown.status_code == 422
    assert "'consul'" in field_error(unknown.text, "map")
    assert 'consul = &#34;consult&#34;' in unknown.text or "consul = &quot;consult&quot;" in unknown.text  # kept
    not_toml = post(console, A, {"map": "consult -> review", "action": "migrate"})
    assert not_toml.status_code == 422
    assert field_error(not_toml.text, "map").startswith("Bảng ánh xạ không hợp lệ, chưa chuyển hồ sơ nào:")
    bad_version = post(console, A, {"to": "two", "from": "0", "action": "preview"})
    assert bad_version.status_code == 422
    assert field_error(bad_version.text, "to") == field_error(bad_version.text, "from") == \
        "Số phiên bản phải là số nguyên dương."
    missing = post(console, A, {"to": "7", "action": "preview"})
    assert missing.status_code == 422 and "no version 7" in field_error(missing.text, "to")
    assert "Traceback" not in unknown.text + not_toml.text + bad_version.text + missing.text
    assert version_of(console, OWN_CASE) == 1 and version_of(console, OTHER_CASE) == 1


def test_the_preview_in_english(console: Console) -> None:
    deploy_version_2(console)
    browser = console.browser(A)
    browser.get("/console/lang/en", follow_redirects=False)
    preview = post(console, A, {"action": "preview"})
    assert "Preview: cases moving to version 2 (nothing written)" in preview.text
    assert "2 case(s) would move, 0 stay." in preview.text
    assert cases_of(preview.text)[OTHER_CASE][1]["consult"] == ("09/03/2026 14:00", "10/03/2026 14:00")
