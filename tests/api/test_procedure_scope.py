"""Agencies own their procedures (issue 10, section 3): deployments scoped to agencies, the most
specific one followed, process owners kept to their agencies; and file names safe in headers (item 12).

The seeded world (tests/api/support.py) has both procedures deployed for every agency at
2026-03-01 08:00 and its users bound to ``000.00.12.H10`` (USER_AGENCY), which covers
``000.31.12.H10`` (OWN_AGENCY) but not ``000.00.13.H10`` (OTHER_AGENCY).
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import text

from engine.api.roles import Role
from engine.api.users import create_user
from tests.api.support import OTHER_AGENCY, OWN_AGENCY, PROCEDURE, USER_AGENCY, World, event

A, PO = Role.admin, Role.process_owner
SOURCE = PROCEDURE.read_bytes()
# B's version: a 1,000-working-day statutory limit, the kind of version whose due fell in the year 5863.
LONG = SOURCE.replace(b'name="statutoryLimit" value="P5D"', b'name="statutoryLimit" value="P1000D"')
TEN_DAYS = SOURCE.replace(b'name="statutoryLimit" value="P5D"', b'name="statutoryLimit" value="P10D"')
TWENTY_DAYS = SOURCE.replace(b'name="statutoryLimit" value="P5D"', b'name="statutoryLimit" value="P20D"')


def owner_of(world: World, agency: str, name: str) -> Any:
    """A process owner bound to ``agency``: its own token, so a call on its behalf."""
    token = create_user(world.eiso.engine, name, PO, [agency], world.clock.now())

    def call(method: str, url: str, **kwargs: Any) -> Any:
        return world.client.request(method, url, headers={"Authorization": f"Bearer {token}"}, **kwargs)
    return call


def deploy(call: Any, source: bytes, *agencies: str, name: str = "procedure.bpmn") -> Any:
    return call("POST", "/procedures", params=[("agency", a) for a in agencies],
                files={"file": (name, source, "application/xml")})


def receive(world: World, case_id: str, agency: str, when: str = "2026-03-12 09:00") -> dict[str, Any]:
    answer = world.call(A, "POST", "/events", json=[event(f"{case_id}-r", "case.received", when, case_id, agency)])
    assert answer.status_code == 200 and answer.json()["results"][0]["status"] == "applied", answer.text
    slip: dict[str, Any] = world.call(A, "GET", f"/cases/{case_id}").json()
    return slip


def followed(slip: dict[str, Any]) -> tuple[str, int]:
    return slip["procedure_scope"], slip["procedure_version"]


def procedure_audit(world: World) -> list[tuple[str, str, str]]:
    items = world.call(Role.auditor, "GET", "/audit", params={"entity": "procedure"}).json()["items"]
    return [(e["action"], e["entity_key"], e["actor"]) for e in items]


def test_a_process_owner_of_agency_b_changes_nothing_agency_a_follows(world: World) -> None:
    """The issue's attack: B deploys a new version of the code A's cases follow, then retires A's version."""
    owner_b = owner_of(world, OTHER_AGENCY, "owner-b")
    listed_before = world.call(A, "GET", "/procedures").json()
    audit_before = procedure_audit(world)

    every = deploy(owner_b, LONG)
    assert every.status_code == 403 and "only admin" in every.json()["detail"]
    for agencies in ([OWN_AGENCY], [USER_AGENCY], [OTHER_AGENCY, OWN_AGENCY]):
        refused = deploy(owner_b, LONG, *agencies)
        assert refused.status_code == 403, refused.text
        assert "outside your agencies" in refused.json()["detail"]
    for scope in ([], [("agency", OWN_AGENCY)]):
        retired = owner_b("POST", "/procedures/9.000001/versions/1/retire", params=scope)
        assert retired.status_code == 403, retired.text
    assert world.call(A, "GET", "/procedures").json() == listed_before  # nothing written
    assert procedure_audit(world) == audit_before

    own = deploy(owner_b, LONG, OTHER_AGENCY)  # within its own agency: allowed, numbered in its scope
    assert own.status_code == 201, own.text
    assert (own.json()["scope"], own.json()["agencies"], own.json()["version"]) == (OTHER_AGENCY, [OTHER_AGENCY], 1)

    a_case = receive(world, "A-NEXT", OWN_AGENCY)
    assert followed(a_case) == ("*", 1)
    assert a_case["due_at"] == "2026-03-19T09:00:00+07:00"  # five working days, not a thousand
    b_case = receive(world, "B-NEXT", OTHER_AGENCY)
    assert followed(b_case) == (OTHER_AGENCY, 1)
    assert world.call(A, "GET", "/procedures/9.000001/versions/1").json()["in_force"] is True
    assert owner_b("POST", f"/procedures/9.000001/versions/1/retire?agency={OTHER_AGENCY}").json()["changed"] is True
    assert procedure_audit(world)[len(audit_before):] == [
        ("procedure.deploy", f"9.000001[{OTHER_AGENCY}]/1", "owner-b"),
        ("procedure.retire", f"9.000001[{OTHER_AGENCY}]/1", "owner-b")]


def test_a_case_follows_the_most_specific_deployment_in_force_at_receipt(world: World) -> None:
    department = deploy(lambda *a, **k: world.call(A, *a, **k), TEN_DAYS, USER_AGENCY)
    unit = deploy(lambda *a, **k: world.call(A, *a, **k), TWENTY_DAYS, OWN_AGENCY)
    assert (department.status_code, unit.status_code) == (201, 201)
    assert department.json()["version"] == unit.json()["version"] == 1  # numbered per code and scope

    assert followed(receive(world, "UNIT-1", OWN_AGENCY)) == (OWN_AGENCY, 1)  # 000.31.12.H10 itself
    assert followed(receive(world, "UNIT-2", "001.31.12.H10")) == (OWN_AGENCY, 1)  # a part of that unit
    assert followed(receive(world, "DEPT-1", "000.45.12.H10")) == (USER_AGENCY, 1)  # another unit of department 12
    assert followed(receive(world, "ELSE-1", OTHER_AGENCY)) == ("*", 1)  # another department: every agency
    # Received before the scoped deployments (2026-03-12 08:00): they were not in force then.
    assert followed(receive(world, "EARLY-1", OWN_AGENCY, "2026-03-11 09:00")) == ("*", 1)

    again = world.call(A, "POST", "/procedures", params={"agency": OWN_AGENCY}, files={"file": ("u.bpmn", SOURCE)})
    assert again.status_code == 201 and (again.json()["scope"], again.json()["version"]) == (OWN_AGENCY, 2)
    same = world.call(A, "POST", "/procedures", params={"agency": OWN_AGENCY}, files={"file": ("u.bpmn", SOURCE)})
    assert same.status_code == 200 and same.json()["created"] is False
    assert followed(receive(world, "UNIT-3", OWN_AGENCY)) == (OWN_AGENCY, 2)

    listed = world.call(PO, "GET", "/procedures", params={"code": "9.000001"}).json()
    assert [(v["scope"], v["version"], v["agencies"]) for v in listed] == [
        ("*", 1, []), (USER_AGENCY, 1, [USER_AGENCY]), (OWN_AGENCY, 1, [OWN_AGENCY]), (OWN_AGENCY, 2, [OWN_AGENCY])]
    one = world.call(PO, "GET", "/procedures/9.000001/versions/2", params={"agency": OWN_AGENCY})
    assert one.status_code == 200 and one.json()["statutory_limit_working_hours"] == 40.0
    assert world.call(PO, "GET", "/procedures/9.000001/versions/2").status_code == 404  # every agency has no v2

    # Retiring the unit's versions sends its next case back to the department's.
    for version in (1, 2):
        assert world.call(A, "POST", f"/procedures/9.000001/versions/{version}/retire",
                          params={"agency": OWN_AGENCY}).json()["changed"] is True
    assert followed(receive(world, "UNIT-4", OWN_AGENCY)) == (USER_AGENCY, 1)
    summary = world.call(A, "GET", "/cases", params={"agency": OWN_AGENCY}).json()["items"]
    assert {(c["case_id"], c["procedure_scope"]) for c in summary} >= {("UNIT-3", OWN_AGENCY), ("UNIT-4", USER_AGENCY)}


def test_process_owners_deploy_and_retire_within_their_agencies(world: World) -> None:
    mine = world.call(PO, "POST", "/procedures", params={"agency": OWN_AGENCY},  # covered by USER_AGENCY
                      files={"file": ("mine.bpmn", TEN_DAYS)})
    assert mine.status_code == 201, mine.text
    form = world.call(PO, "POST", "/procedures", data={"agency": [USER_AGENCY, OWN_AGENCY]},  # multipart fields
                      files={"file": ("form.bpmn", TWENTY_DAYS)})
    assert form.status_code == 201, form.text
    assert form.json()["scope"] == USER_AGENCY  # OWN_AGENCY lies below it: one scope, one key
    assert world.call(PO, "POST", f"/procedures/9.000001/versions/1/retire?agency={OWN_AGENCY}").status_code == 200
    assert world.call(PO, "POST", "/procedures/9.000002/versions/1/retire").status_code == 403  # every agency
    assert world.call(A, "POST", "/procedures/9.000002/versions/1/retire").json()["changed"] is True
    bad = world.call(PO, "POST", "/procedures", params={"agency": "a b"}, files={"file": ("x.bpmn", SOURCE)})
    assert bad.status_code == 422 and "agency" in bad.json()["detail"]
    many = [f"{n:03d}.31.12.H10" for n in range(21)]
    too_many = world.call(A, "POST", "/procedures", params=[("agency", a) for a in many],
                          files={"file": ("x.bpmn", SOURCE)})
    assert too_many.status_code == 422


def test_file_names_are_cleaned_and_sent_back_safely(world: World) -> None:
    names = {
        "crlf": ("evil\r\nX-Injected: yes.bpmn", "evil__X-Injected_ yes.bpmn"),
        "quotes": ('say "hi"; it\'s.bpmn', "say _hi__ it_s.bpmn"),
        "path": ("..\\..\\windows/../e.bpmn", "e.bpmn"),
        "vietnamese": ("Quy trình cấp đổi.bpmn", "Quy trình cấp đổi.bpmn"),
    }
    for n, (given, kept) in enumerate(names.values()):
        deployed = world.eiso.catalog.deploy(SOURCE.replace(b'value="9.000001"', f'value="9.10{n}"'.encode()),
                                             given, world.clock.now())
        assert deployed.filename == kept
    crlf = world.call(PO, "GET", "/procedures/9.100/versions/1/bpmn")
    assert crlf.status_code == 200 and "x-injected" not in crlf.headers
    assert crlf.headers["content-disposition"] == (
        "attachment; filename=\"evil__X-Injected_ yes.bpmn\"; filename*=UTF-8''evil__X-Injected_%20yes.bpmn")
    vietnamese = world.call(PO, "GET", "/procedures/9.103/versions/1/bpmn")
    assert vietnamese.headers["content-disposition"] == (
        "attachment; filename=\"Quy trinh cap doi.bpmn\"; "
        "filename*=UTF-8''Quy%20tr%C3%ACnh%20c%E1%BA%A5p%20%C4%91%E1%BB%95i.bpmn")
    raw = world.call(A, "POST", "/procedures", params={"filename": "x\r\ny\".bpmn"}, content=TEN_DAYS,
                     headers={"Content-Type": "application/xml"})
    assert raw.status_code == 201 and raw.json()["filename"] == "x__y_.bpmn"

    # A name stored before names were cleaned still makes a well-formed header.
    with world.eiso.engine.begin() as conn:
        conn.execute(text("UPDATE procedure_version SET filename = :name WHERE code = '9.101'"),
                     {"name": 'old\r\nSet-Cookie: a=b; "q".bpmn'})
    old = world.call(PO, "GET", "/procedures/9.101/versions/1/bpmn")
    assert old.status_code == 200 and "set-cookie" not in old.headers
    assert "\r" not in old.headers["content-disposition"] and old.content == SOURCE.replace(
        b'value="9.000001"', b'value="9.101"')


def test_a_reader_sees_only_the_procedures_that_concern_their_agencies(world: World) -> None:
    """Another agency's own procedures are neither listed nor read; every-agency ones and those of a
    province that covers the reader's agencies are."""
    province = "000.00.00.H10"  # covers the user's department (000.00.12.H10)
    def admin(method: str, url: str, **kwargs: Any) -> Any:
        return world.call(A, method, url, **kwargs)
    assert deploy(admin, TEN_DAYS, OTHER_AGENCY).status_code == 201
    assert deploy(admin, TWENTY_DAYS, province).status_code == 201
    reader = owner_of(world, USER_AGENCY, "reader-b")
    seen = {(v["code"], v["scope"], v["version"]) for v in reader("GET", "/procedures").json()}
    assert ("9.000001", OTHER_AGENCY, 1) not in seen
    assert ("9.000001", province, 1) in seen and ("9.000001", "*", 1) in seen
    assert reader("GET", "/procedures/9.000001/versions/1", params={"agency": OTHER_AGENCY}).status_code == 404
    assert reader("GET", "/procedures/9.000001/versions/1/bpmn", params={"agency": OTHER_AGENCY}).status_code == 404
    assert reader("GET", "/procedures/9.000001/versions/1/bpmn", params={"agency": province}).status_code == 200
    everything = {(v["code"], v["scope"]) for v in world.call(Role.auditor, "GET", "/procedures").json()}
    assert ("9.000001", OTHER_AGENCY) in everything
