"""Procedures over HTTP: upload (multipart or raw), refusal with per-element problems, versions, XML, retire."""

from __future__ import annotations

from typing import Any

from engine.api.roles import Role
from engine.api.settings import ApiSettings
from engine.procedures.loader import validate_source
from tests.api.support import PROCEDURE, World, event, make_world

PO = Role.process_owner
ADMIN = Role.admin  # deploys and retires for every agency (a process owner only for their agencies)
SOURCE = PROCEDURE.read_bytes()
BROKEN = (SOURCE.replace(b'name="deadline" value="P2D"', b'name="deadline" value="P1M"')
          .replace(b"fee_exempt == true and applicant_age &gt;= 60", b"__import__('os').system('id')"))
BOMB = b"""<?xml version="1.0"?>
<!DOCTYPE lolz [<!ENTITY lol "lol"><!ENTITY lol2 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;">
<!ENTITY lol3 "&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;">]>
<bpmn:definitions xmlns:bpmn="http://www.omg.org/spec/BPMN/20100524/MODEL">&lol3;</bpmn:definitions>"""


def upload(world: World, source: bytes, name: str = "procedure.bpmn", role: Role = ADMIN) -> Any:
    return world.call(role, "POST", "/procedures", files={"file": (name, source, "application/xml")})


def versions(world: World) -> list[dict[str, Any]]:
    listed: list[dict[str, Any]] = world.call(PO, "GET", "/procedures").json()
    return listed


def test_upload_list_download_retire(bare_world: World) -> None:
    world = bare_world
    first = upload(world, SOURCE, "test-procedure.bpmn")
    assert first.status_code == 201, first.text
    assert first.json()["created"] is True and first.json()["code"] == "9.000001" and first.json()["version"] == 1
    same = upload(world, SOURCE, "test-procedure.bpmn")
    assert same.status_code == 200 and same.json()["created"] is False
    changed = SOURCE.replace(b'value="PT4H"/><camunda:property name="unit" value="Head of section"',
                             b'value="PT6H"/><camunda:property name="unit" value="Head of section"')
    raw = world.call(ADMIN, "POST", "/procedures", params={"filename": "v2.bpmn"}, content=changed,
                     headers={"Content-Type": "application/xml"})
    assert raw.status_code == 201 and raw.json()["version"] == 2 and raw.json()["filename"] == "v2.bpmn"
    listed = versions(world)
    assert [(v["code"], v["version"], v["in_force"]) for v in listed] == [("9.000001", 1, True), ("9.000001", 2, True)]
    assert listed[0]["statutory_limit_working_hours"] == 40.0
    xml = world.call(Role.auditor, "GET", "/procedures/9.000001/versions/2/bpmn")
    assert xml.status_code == 200 and xml.content == changed
    assert xml.headers["content-type"] == "application/xml"
    assert 'filename="v2.bpmn"' in xml.headers["content-disposition"]
    retired = world.call(ADMIN, "POST", "/procedures/9.000001/versions/1/retire")
    assert retired.status_code == 200 and retired.json()["changed"] is True
    assert world.call(ADMIN, "POST", "/procedures/9.000001/versions/1/retire").json()["changed"] is False
    assert world.call(PO, "GET", "/procedures", params={"in_force": True}).json()[0]["version"] == 2
    assert world.call(ADMIN, "POST", "/procedures/9.000001/versions/9/retire").status_code == 404
    log = world.call(Role.auditor, "GET", "/audit", params={"entity": "procedure"}).json()["items"]
    assert [(e["action"], e["entity_key"], e["actor"]) for e in log] == [
        ("procedure.deploy", "9.000001/1", "admin-user"),
        ("procedure.deploy", "9.000001/2", "admin-user"),
        ("procedure.retire", "9.000001/1", "admin-user")]


def test_refused_file_answers_422_with_the_validate_commands_problems(bare_world: World) -> None:
    response = upload(bare_world, BROKEN, "broken.bpmn")
    assert response.status_code == 422
    body = response.json()
    expected = [{"file": p.file, "element_id": p.element_id, "message": p.message, "severity": p.severity}
                for p in validate_source(BROKEN, "broken.bpmn")]
    assert body["problems"] == expected
    assert {p["element_id"] for p in body["problems"]} >= {"appraise", "f10"}
    assert "nothing deployed" in body["detail"]
    assert versions(bare_world) == []
    checked = bare_world.call(PO, "POST", "/procedures/validate", files={"file": ("broken.bpmn", BROKEN)})
    assert checked.status_code == 200 and checked.json() == {"valid": False, "problems": expected}


def test_bombs_junk_and_wrong_media_types_are_4xx_and_deploy_nothing(bare_world: World) -> None:
    world = bare_world
    bomb = upload(world, BOMB, "bomb.bpmn")
    assert bomb.status_code == 422 and "DOCTYPE" in bomb.json()["problems"][0]["message"]
    assert upload(world, b"\x89PNG\r\n\x1a\n", "image.png").status_code == 422
    assert upload(world, b"", "empty.bpmn").status_code == 422
    no_file = world.call(ADMIN, "POST", "/procedures", files={"other": ("x.bpmn", SOURCE)})
    assert no_file.status_code == 422 and "'file'" in no_file.json()["detail"]
    text = world.call(ADMIN, "POST", "/procedures", content=SOURCE, headers={"Content-Type": "text/plain"})
    assert text.status_code == 415
    assert versions(world) == []


def test_upload_size_limit(app: Any, clock: Any) -> None:
    world = make_world(app, clock, ApiSettings(max_bpmn_bytes=4096), seed=False)
    with world.client:
        big = upload(world, SOURCE + b"<!--" + b"x" * 5000 + b"-->")
        assert big.status_code == 413 and "4,096 bytes" in big.json()["detail"]
        assert versions(world) == []


def test_default_limit_is_5_mb(bare_world: World) -> None:
    response = upload(bare_world, b" " * (5 * 1024 * 1024 + 1))
    assert response.status_code == 413


def test_deploying_applies_parked_events(bare_world: World) -> None:
    world = bare_world
    received = event("p-1", "case.received", "2026-03-10 08:00", "P-1", "000.31.12.H10")
    assert world.call(Role.admin, "POST", "/events", json=[received]).json()["parked"] == 1
    assert upload(world, SOURCE).json()["parked_events_applied"] == 1
    assert world.call(Role.leader, "GET", "/cases/P-1").status_code == 200
