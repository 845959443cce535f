"""National-portal payloads (DongBoHoSoMC / CapNhatTienDoHoSoMC) mapped onto contract events."""

from __future__ import annotations

import json
import unicodedata
from functools import cache
from pathlib import Path
from typing import Any

import jsonschema
import pytest

from connectors.portal import (
    PortalConfigError,
    PortalMapping,
    PortalPayloadError,
    detect_format,
    map_portal_message,
)
from engine.core.events import CaseEvent, parse_event
from engine.core.handling import CaseHandler
from engine.core.procedure import LoadedProcedure
from engine.procedures.loader import load_procedure
from tests.unit.engine_harness import Run, calendar, vn

ROOT = Path(__file__).resolve().parents[2]
CONFIG = ROOT / "config" / "portal-steps.toml"
CASE = "000.00.12.H10-260302-0001"
AGENCY = "000.00.12.H10"


@cache
def mapping() -> PortalMapping:
    return PortalMapping.from_toml(CONFIG)


@cache
def bundled(code: str) -> LoadedProcedure:
    [path] = sorted((ROOT / "bpmn").glob(f"{code}-*.bpmn"))
    return load_procedure(path.read_bytes(), path.name)


@cache
def schema_validator() -> Any:
    schema = json.loads((ROOT / "connectors" / "schemas" / "case-event.schema.json").read_text(encoding="utf-8"))
    cls = jsonschema.Draft202012Validator
    return cls(schema, format_checker=cls.FORMAT_CHECKER)


def payload(status: Any = None, **fields: Any) -> dict[str, Any]:
    obj: dict[str, Any] = {"MaHoSo": CASE, "MaTTHC": "1.001806", "MaDonVi": AGENCY}
    if status is not None:
        obj["TrangThaiHoSo"] = status
    obj.update(fields)
    return obj


def mapped(obj: dict[str, Any], portal: PortalMapping | None = None) -> list[dict[str, Any]]:
    events = map_portal_message(obj, portal or mapping())
    for event in events:  # every mapped event is a contract event, for the parser and the published schema
        parse_event(event)
        assert schema_validator().is_valid(event), event
    return events


def kinds(events: list[dict[str, Any]]) -> list[tuple[str, str, str | None]]:
    return [(e["type"], e["occurred_at"], e.get("step")) for e in events]


# -- statuses ------------------------------------------------------------------------------
def test_1_registered_online_gives_nothing() -> None:
    assert mapped(payload(1, NgayTiepNhan="", NgayHenTra="", ThoiDiemXuLy="20260301200000")) == []
    assert mapped(payload("1")) == []


def test_2_received_with_appointment() -> None:
    [event] = mapped(payload(2, NgayTiepNhan="20260302080000", NgayHenTra="20260316080000",
                             NguoiXuLy="Trần Thị Bình"))
    assert event["type"] == "case.received"
    assert event["case_id"] == CASE and event["agency"] == AGENCY and event["procedure"] == "1.001806"
    assert event["occurred_at"] == "2026-03-02T08:00:00+07:00"
    assert event["due_at"] == "2026-03-16T08:00:00+07:00"
    assert event["actor"] == {"officer": "Trần Thị Bình"}
    assert event["event_id"].startswith("portal:") and len(event["event_id"]) == len("portal:") + 32
    assert "data" not in event


def test_2_without_appointment_and_status_as_text() -> None:
    [event] = mapped(payload("2", NgayTiepNhan="20260302080000", NgayHenTra=""))
    assert event["type"] == "case.received" and "due_at" not in event


def test_3_refused_at_receipt() -> None:
    [event] = mapped(payload(3, NgayTiepNhan="20260302080000", ThoiDiemXuLy="20260302083000",
                             NoiDungXuLy="Hồ sơ không thuộc thẩm quyền"))
    assert kinds([event]) == [("case.rejected", "2026-03-02T08:30:00+07:00", None)]
    assert event["reason"] == "Hồ sơ không thuộc thẩm quyền"
    [event] = mapped(payload(3, NgayTiepNhan="20260302080000"))
    assert event["occurred_at"] == "2026-03-02T08:00:00+07:00"


def test_4_progress_entry_completes_the_mapped_step() -> None:
    [event] = mapped(payload(4, PhongBanXuLy="Bộ phận Một cửa", ThoiDiemXuLy="20260302103000",
                             NguoiXuLy="Lê Văn Cường", NoiDungXuLy="Chuyển Phòng chuyên môn"))
    assert kinds([event]) == [("step.completed", "2026-03-02T10:30:00+07:00", "receive_dossier")]
    assert event["actor"] == {"unit": "Bộ phận Một cửa", "officer": "Lê Văn Cường"}
    assert "reason" not in event


def test_4_step_code_wins_over_the_unit_name() -> None:
    [event] = mapped(payload(4, MaBuocXuLy="THAM_DINH", PhongBanXuLy="Phòng Quản lý chuyên ngành",
                             ThoiDiemXuLy="20260312160000"))
    assert event["step"] == "appraise"
    # An unmapped code with a mapped unit: the unit decides.
    [event] = mapped(payload(4, MaBuocXuLy="B99", PhongBanXuLy="Lãnh đạo Sở", ThoiDiemXuLy="20260317090000"))
    assert event["step"] == "approve"


def test_4_unit_names_compare_loosely() -> None:
    for name in ("bộ phận một cửa", "  BỘ PHẬN   MỘT CỬA ", unicodedata.normalize("NFD", "Bộ phận Một cửa")):
        [event] = mapped(payload(4, PhongBanXuLy=name, ThoiDiemXuLy="20260302103000"))
        assert event["step"] == "receive_dossier", name


def test_4_without_progress_entry_gives_nothing() -> None:
    assert mapped(payload(4, ThoiDiemXuLy="20260302103000")) == []
    assert mapped(payload(4, TrangThaiHoSoTruoc=2)) == []


def test_4_back_from_5_is_supplement_received() -> None:
    [event] = mapped(payload(4, TrangThaiHoSoTruoc=5, ThoiDiemXuLy="20260305140000"))
    assert kinds([event]) == [("case.supplement_received", "2026-03-05T14:00:00+07:00", None)]


def test_supplement_received_from_the_list_is_the_same_event_on_every_later_payload() -> None:
    supplements = [{"NgayBoSung": "20260303090000", "NgayTiepNhanBoSung": "20260305140000",
                    "NgayHenTraTruoc": "20260316080000", "NgayHenTraMoi": "20260319140000"}]
    first = mapped(payload(4, TrangThaiHoSoTruoc=5, ThoiDiemXuLy="20260305140500", DanhSachHoSoBoSung=supplements))
    assert kinds(first) == [("case.supplement_received", "2026-03-05T14:00:00+07:00", None)]
    # The recount's new appointment is not an apology: no case.extended.
    later = mapped(payload(4, MaBuocXuLy="THAM_DINH", ThoiDiemXuLy="20260312160000",
                           DanhSachHoSoBoSung=supplements))
    assert [e["type"] for e in later] == ["case.supplement_received", "step.completed"]
    assert later[0]["event_id"] == first[0]["event_id"]


def test_4_back_from_6_is_resumed() -> None:
    for extra in ({"TrangThaiHoSoTruoc": 6}, {"TiepTucXuLy": 1}, {"TiepTucXuLy": "1"}, {"TiepTucXuLy": True}):
        [event] = mapped(payload(4, ThoiDiemXuLy="20260316080000", **extra))
        assert kinds([event]) == [("case.resumed", "2026-03-16T08:00:00+07:00", None)], extra
    assert mapped(payload(4, ThoiDiemXuLy="20260316080000", TiepTucXuLy=0)) == []


def test_a_return_to_processing_is_no_handover() -> None:
    # The unit in a payload that returns to 4 is the one that took the supplement or the fee in.
    for extra in ({"TiepTucXuLy": 1}, {"TrangThaiHoSoTruoc": 6}, {"TrangThaiHoSoTruoc": 5}):
        events = mapped(payload(4, PhongBanXuLy="Bộ phận Một cửa", ThoiDiemXuLy="20260316080000", **extra))
        assert [e["type"] for e in events] in (["case.resumed"], ["case.supplement_received"]), extra
    # Otherwise a handover comes after a return at the same time (the clock runs again first).
    events = mapped(payload(4, MaBuocXuLy="XEM_XET", ThoiDiemXuLy="20260305140000",
                            DanhSachHoSoBoSung=[{"NgayTiepNhanBoSung": "20260305140000"}]))
    assert [e["type"] for e in events] == ["case.supplement_received", "step.completed"]


def test_5_supplement_requested() -> None:
    [event] = mapped(payload(5, ThoiDiemXuLy="20260303090000", PhongBanXuLy="Bộ phận Một cửa",
                             DanhSachHoSoBoSung=[{"NgayBoSung": "20260303085500", "NoiDungBoSung": "Bản vẽ"}]))
    # The unit that asks for papers does not hand the dossier over: no step.completed.
    assert kinds([event]) == [("case.supplement_requested", "2026-03-03T09:00:00+07:00", None)]
    assert event["reason"] == "Bản vẽ"
    [event] = mapped(payload(5, DanhSachHoSoBoSung=[{"NgayBoSung": "20260303085500"}]))
    assert event["occurred_at"] == "2026-03-03T08:55:00+07:00"


def test_6_financial_obligation_suspends() -> None:
    [event] = mapped(payload(6, ThoiDiemXuLy="20260313080000", PhongBanXuLy="Lãnh đạo Sở",
                             NoiDungXuLy="Chờ nộp phí thẩm định"))
    assert kinds([event]) == [("case.suspended", "2026-03-13T08:00:00+07:00", None)]
    assert event["reason"] == "Chờ nộp phí thẩm định"


@pytest.mark.parametrize(("status", "kind"), [(7, "case.withdrawn"), (8, "case.stopped")])
def test_7_withdrawn_and_8_stopped(status: int, kind: str) -> None:
    [event] = mapped(payload(status, NgayKetThucXuLy="20260304100000", ThoiDiemXuLy="20260304101500",
                             GhiChu="Công dân rút hồ sơ"))
    assert kinds([event]) == [(kind, "2026-03-04T10:00:00+07:00", None)]
    assert event["reason"] == "Công dân rút hồ sơ"
    [event] = mapped(payload(status, ThoiDiemXuLy="20260304101500"))
    assert event["occurred_at"] == "2026-03-04T10:15:00+07:00"


def test_9_result_ready() -> None:
    [event] = mapped(payload(9, NgayKetThucXuLy="20260317143000", ThoiDiemXuLy="20260317150000"))
    assert kinds([event]) == [("case.result_ready", "2026-03-17T14:30:00+07:00", None)]
    [event] = mapped(payload(9, ThoiDiemXuLy="20260317150000", PhongBanXuLy="Văn thư"))
    assert kinds([event]) == [("case.result_ready", "2026-03-17T15:00:00+07:00", None)]


def test_10_returned_with_the_end_of_processing() -> None:
    events = mapped(payload(10, NgayTra="20260318090000", NgayKetThucXuLy="20260317143000"))
    assert kinds(events) == [("case.result_ready", "2026-03-17T14:30:00+07:00", None),
                             ("case.returned", "2026-03-18T09:00:00+07:00", None)]
    ready = mapped(payload(9, NgayKetThucXuLy="20260317143000"))
    assert ready[0]["event_id"] == events[0]["event_id"]  # the engine drops it when status 9 came
    assert kinds(mapped(payload(10, NgayTra="20260318090000"))) == [
        ("case.returned", "2026-03-18T09:00:00+07:00", None)]


@pytest.mark.parametrize(("status", "field"), [(2, "NgayTiepNhan"), (3, "NgayKetThucXuLy"), (5, "ThoiDiemXuLy"),
                                               (6, "ThoiDiemXuLy"), (7, "NgayKetThucXuLy"), (8, "NgayKetThucXuLy"),
                                               (9, "NgayKetThucXuLy"), (10, "NgayTra")])
def test_a_status_without_its_time_names_the_field(status: int, field: str) -> None:
    with pytest.raises(PortalPayloadError) as err:
        map_portal_message(payload(status), mapping())
    assert err.value.field == field and err.value.case_id == CASE
    assert CASE in str(err.value) and field in str(err.value) and f"TrangThaiHoSo {status}" in str(err.value)


@pytest.mark.parametrize("value", [0, 11, "abc", True, 4.5, "-2"])
def test_an_unknown_status_is_refused(value: Any) -> None:
    with pytest.raises(PortalPayloadError, match=r"TrangThaiHoSo must be a status code 1-10") as err:
        map_portal_message(payload(value, ThoiDiemXuLy="20260302103000"), mapping())
    assert CASE in str(err.value)


# -- times ---------------------------------------------------------------------------------
@pytest.mark.parametrize(("local", "rfc3339"), [
    ("20260302081500", "2026-03-02T08:15:00+07:00"),
    ("20260302000000", "2026-03-02T00:00:00+07:00"),
    ("20261231235959", "2026-12-31T23:59:59+07:00"),
    ("20280229120000", "2028-02-29T12:00:00+07:00"),
    (20260302081500, "2026-03-02T08:15:00+07:00"),
    (" 20260302081500 ", "2026-03-02T08:15:00+07:00"),
])
def test_local_times_become_rfc3339_with_vietnam_offset(local: Any, rfc3339: str) -> None:
    [event] = mapped(payload(2, NgayTiepNhan=local))
    assert event["occurred_at"] == rfc3339
    assert parse_event(event).occurred_at.utcoffset().total_seconds() == 7 * 3600  # type: ignore[union-attr]


@pytest.mark.parametrize("bad", ["2026-03-02 08:15:00", "2026030208150", "202603020815000", "20260230081500",
                                 "20261302081500", "20260302250000", "2026O302081500", 2.5, ["20260302081500"]])
def test_a_bad_time_names_the_field(bad: Any) -> None:
    with pytest.raises(PortalPayloadError) as err:
        map_portal_message(payload(2, NgayTiepNhan="20260302080000", NgayHenTra=bad), mapping())
    assert err.value.field == "NgayHenTra"
    assert "NgayHenTra" in str(err.value) and CASE in str(err.value)
    with pytest.raises(PortalPayloadError, match=r"ThoiDiemXuLy"):
        map_portal_message(payload(4, PhongBanXuLy="Văn thư", ThoiDiemXuLy=bad), mapping())


def test_a_bad_time_in_a_list_entry_names_the_entry() -> None:
    obj = payload(4, ThoiDiemXuLy="20260311090000",
                  DanhSachGiaHan=[{"NgayGiaHan": "20260311090000", "NgayHenTraMoi": "20260320170000"},
                                  {"NgayGiaHan": "11/03/2026", "NgayHenTraMoi": "20260321170000"}])
    with pytest.raises(PortalPayloadError) as err:
        map_portal_message(obj, mapping())
    assert err.value.field == "DanhSachGiaHan[1].NgayGiaHan"


# -- ids -----------------------------------------------------------------------------------
def life_cycle() -> list[dict[str, Any]]:
    """A 1.001806 dossier as the one-stop-shop syncs it: registered online, received, supplemented,
    handed from unit to unit, suspended for the fee, finished and returned."""
    supplement_asked = {"NgayBoSung": "20260303090000", "NoiDungBoSung": "Bổ sung bản vẽ hiện trạng"}
    supplement_done = {**supplement_asked, "NgayTiepNhanBoSung": "20260305140000",
                       "NgayHenTraTruoc": "20260316080000", "NgayHenTraMoi": "20260319140000"}
    return [
        payload(1, NgayNopHoSo="20260301200000"),
        payload(2, NgayTiepNhan="20260302080000", NgayHenTra="20260316080000", NguoiXuLy="Trần Thị Bình"),
        payload(4, PhongBanXuLy="Bộ phận Một cửa", ThoiDiemXuLy="20260302103000", NguoiXuLy="Trần Thị Bình"),
        payload(4, MaBuocXuLy="PHAN_CONG", PhongBanXuLy="Phòng Quản lý chuyên ngành",
                ThoiDiemXuLy="20260302150000", NguoiXuLy="Lê Văn Cường", ChucDanh="Trưởng phòng"),
        payload(5, ThoiDiemXuLy="20260303090000", PhongBanXuLy="Phòng Quản lý chuyên ngành",
                DanhSachHoSoBoSung=[supplement_asked]),
        payload(4, TrangThaiHoSoTruoc=5, ThoiDiemXuLy="20260305140500", PhongBanXuLy="Bộ phận Một cửa",
                NgayHenTra="20260319140000", DanhSachHoSoBoSung=[supplement_done]),
        payload(4, MaBuocXuLy="THAM_DINH", PhongBanXuLy="Phòng Quản lý chuyên ngành",
                ThoiDiemXuLy="20260312160000", NguoiXuLy="Phạm Thị Dung", DanhSachHoSoBoSung=[supplement_done],
                DuLieuHoSo={"ket_luan_tham_dinh": "dat"}),
        payload(6, ThoiDiemXuLy="20260313080000", NoiDungXuLy="Chờ nộp phí thẩm định",
                DanhSachHoSoBoSung=[supplement_done]),
        payload(4, TiepTucXuLy=1, ThoiDiemXuLy="20260316080000", DanhSachHoSoBoSung=[supplement_done]),
        payload(4, MaBuocXuLy="XEM_XET", PhongBanXuLy="Phòng Quản lý chuyên ngành",
                ThoiDiemXuLy="20260316100000", DanhSachHoSoBoSung=[supplement_done]),
        payload(4, PhongBanXuLy="Lãnh đạo Sở", ThoiDiemXuLy="20260317090000", NguoiXuLy="Hoàng Văn Em",
                DanhSachHoSoBoSung=[supplement_done]),
        payload(4, PhongBanXuLy="Văn thư", ThoiDiemXuLy="20260317140000", DanhSachHoSoBoSung=[supplement_done]),
        payload(9, NgayKetThucXuLy="20260317143000", ThoiDiemXuLy="20260317143500",
                DanhSachHoSoBoSung=[supplement_done]),
        payload(10, NgayTra="20260318090000", NgayKetThucXuLy="20260317143000",
                DanhSachHoSoBoSung=[supplement_done]),
    ]


def test_ids_are_deterministic_across_redeliveries() -> None:
    first = [mapped(obj) for obj in life_cycle()]
    again = [mapped(json.loads(json.dumps(obj))) for obj in life_cycle()]
    assert first == again
    ids = [e["event_id"] for events in first for e in events]
    assert all(i.startswith("portal:") for i in ids)
    # Distinct facts have distinct ids; a fact repeated by a later payload keeps its id.
    facts = {(e["type"], e["occurred_at"], e.get("step")): e["event_id"] for events in first for e in events}
    assert len(set(facts.values())) == len(facts) == len(set(ids))


def test_ids_differ_between_dossiers_and_facts() -> None:
    [a] = mapped(payload(2, NgayTiepNhan="20260302080000"))
    [b] = mapped({**payload(2, NgayTiepNhan="20260302080000"), "MaHoSo": CASE[:-1] + "2"})
    [c] = mapped(payload(2, NgayTiepNhan="20260302080100"))
    [d] = mapped(payload(2, NgayTiepNhan="20260302080000", NgayHenTra="20260316080000"))
    assert len({a["event_id"], b["event_id"], c["event_id"]}) == 3
    assert d["event_id"] == a["event_id"]  # same receipt, re-sent with its appointment: dropped as a repeat


# -- extensions ----------------------------------------------------------------------------
def test_extension_list_gives_case_extended() -> None:
    entry = {"NgayGiaHan": "20260311090000", "NgayHenTraTruoc": "20260316080000", "NgayHenTraMoi": "20260320170000",
             "LyDo": "Cần thêm thời gian thẩm định"}
    [event] = mapped(payload(4, DanhSachGiaHan=[entry]))
    assert kinds([event]) == [("case.extended", "2026-03-11T09:00:00+07:00", None)]
    assert event["due_at"] == "2026-03-20T17:00:00+07:00"
    assert event["reason"] == "Cần thêm thời gian thẩm định"
    [event] = mapped(payload(DanhSachGiaHan=[{**entry, "NgayGiaHan": None, "ThoiDiem": "20260311093000"}]))
    assert event["occurred_at"] == "2026-03-11T09:30:00+07:00"


def test_extension_without_its_own_date_keeps_its_id_when_resent() -> None:
    entry = {"NgayHenTraTruoc": "20260316080000", "NgayHenTraMoi": "20260320170000"}
    [first] = mapped(payload(4, ThoiDiemXuLy="20260311090000", DanhSachGiaHan=[entry]))
    assert first["occurred_at"] == "2026-03-11T09:00:00+07:00"
    later = mapped(payload(4, MaBuocXuLy="XEM_XET", ThoiDiemXuLy="20260316100000", DanhSachGiaHan=[entry]))
    assert [e["type"] for e in later] == ["step.completed", "case.extended"]
    assert later[1]["event_id"] == first["event_id"]
    with pytest.raises(PortalPayloadError) as err:
        map_portal_message(payload(9, NgayKetThucXuLy="20260317143000", DanhSachGiaHan=[entry]), mapping())
    assert err.value.field == "DanhSachGiaHan[0].NgayGiaHan"


def test_supplement_list_entries_that_move_the_appointment() -> None:
    moved = {"NgayGiaHan": "20260311090000", "NgayHenTraTruoc": "20260316080000", "NgayHenTraMoi": "20260320170000"}
    [event] = mapped(payload(4, DanhSachHoSoBoSung=[moved]))
    assert event["type"] == "case.extended" and event["due_at"] == "2026-03-20T17:00:00+07:00"
    unchanged = {**moved, "NgayHenTraMoi": moved["NgayHenTraTruoc"]}
    assert mapped(payload(4, DanhSachHoSoBoSung=[unchanged])) == []
    assert mapped(payload(4, DanhSachHoSoBoSung=[{"NgayBoSung": "20260303090000"}])) == []


def test_extension_needs_its_new_appointment() -> None:
    with pytest.raises(PortalPayloadError) as err:
        map_portal_message(payload(4, DanhSachGiaHan=[{"NgayGiaHan": "20260311090000"}]), mapping())
    assert err.value.field == "DanhSachGiaHan[0].NgayHenTraMoi"
    with pytest.raises(PortalPayloadError, match=r"DanhSachGiaHan must be a list"):
        map_portal_message(payload(4, DanhSachGiaHan={"NgayHenTraMoi": "20260320170000"}), mapping())


# -- units, agency, data -------------------------------------------------------------------
def test_unknown_unit_is_named() -> None:
    with pytest.raises(PortalPayloadError) as err:
        map_portal_message(payload(4, PhongBanXuLy="Phòng Tài chính - Kế hoạch", ThoiDiemXuLy="20260302103000"),
                           mapping())
    message = str(err.value)
    assert err.value.field == "PhongBanXuLy" and err.value.case_id == CASE
    assert "Phòng Tài chính - Kế hoạch" in message and CASE in message and "1.001806" in message
    assert str(CONFIG) in message


def test_unknown_step_code_is_named() -> None:
    with pytest.raises(PortalPayloadError) as err:
        map_portal_message(payload(4, MaBuocXuLy="B99", ThoiDiemXuLy="20260302103000"), mapping())
    assert err.value.field == "MaBuocXuLy" and "'B99'" in str(err.value)


def test_progress_of_an_unmapped_procedure_is_named() -> None:
    with pytest.raises(PortalPayloadError, match=r"procedure 2\.000001 has no \[procedures\.\"2\.000001\"\]"):
        map_portal_message(payload(4, MaTTHC="2.000001", PhongBanXuLy="Văn thư", ThoiDiemXuLy="20260302103000"),
                           mapping())


def test_progress_entry_needs_its_time() -> None:
    with pytest.raises(PortalPayloadError) as err:
        map_portal_message(payload(4, PhongBanXuLy="Văn thư"), mapping())
    assert err.value.field == "ThoiDiemXuLy" and "Văn thư" in str(err.value)


def test_pure_progress_update_without_status() -> None:
    [event] = mapped(payload(PhongBanXuLy="Văn thư", ThoiDiemXuLy="20260317140000"))
    assert event["step"] == "register_result"


def test_nothing_to_map_is_an_error() -> None:
    with pytest.raises(PortalPayloadError, match=r"nothing to map") as err:
        map_portal_message(payload(ThoiDiemXuLy="20260317140000"), mapping())
    assert err.value.field == "TrangThaiHoSo"


def test_dossier_code_and_procedure_are_required() -> None:
    for bad in ({}, {"MaHoSo": ""}, {"MaHoSo": 12}):
        with pytest.raises(PortalPayloadError, match=r"MaHoSo") as err:
            map_portal_message({**bad, "TrangThaiHoSo": 2, "NgayTiepNhan": "20260302080000"}, mapping())
        assert err.value.field == "MaHoSo"
    with pytest.raises(PortalPayloadError, match=r"MaTTHC") as err:
        map_portal_message({**payload(2, NgayTiepNhan="20260302080000"), "MaTTHC": ""}, mapping())
    assert err.value.field == "MaTTHC"


def test_agency_from_the_payload_or_the_default() -> None:
    base = {"MaHoSo": CASE, "MaTTHC": "1.001806", "TrangThaiHoSo": 2, "NgayTiepNhan": "20260302080000"}
    assert mapped({**base, "MaDonVi": "000.31.12.H10", "MaCoQuan": "000.00.12.H10"})[0]["agency"] == "000.31.12.H10"
    assert mapped({**base, "MaCoQuan": "000.00.12.H10"})[0]["agency"] == "000.00.12.H10"
    with_default = PortalMapping({}, default_agency="000.00.99.H10")
    assert mapped(base, with_default)[0]["agency"] == "000.00.99.H10"
    with pytest.raises(PortalPayloadError, match=r"MaDonVi is missing") as err:
        map_portal_message(base, mapping())
    assert err.value.field == "MaDonVi"


def test_case_data_goes_to_data_and_nothing_else_does() -> None:
    [event] = mapped(payload(2, NgayTiepNhan="20260302080000", ChuHoSo="Nguyễn Văn An", TrichYeuHoSo="Cấp phép",
                             DuLieuHoSo={"needs_site_inspection": False, "total_floor_area_m2": 1800}))
    assert event["data"] == {"needs_site_inspection": False, "total_floor_area_m2": 1800}
    assert "ChuHoSo" not in json.dumps(event, ensure_ascii=False)
    with pytest.raises(PortalPayloadError) as err:
        map_portal_message(payload(2, NgayTiepNhan="20260302080000", DuLieuHoSo="x"), mapping())
    assert err.value.field == "DuLieuHoSo"


def test_not_an_object() -> None:
    with pytest.raises(PortalPayloadError, match=r"JSON object"):
        map_portal_message(["MaHoSo"], mapping())  # type: ignore[arg-type]


def test_detect_format() -> None:
    assert detect_format(payload(2)) == "portal"
    assert detect_format({"event_id": "e1", "type": "case.received", "case_id": CASE}) == "contract"
    assert detect_format([]) == "contract"
    assert detect_format("MaHoSo") == "contract"


# -- configuration -------------------------------------------------------------------------
def test_bundled_config_names_real_steps_of_the_bundled_procedures() -> None:
    portal = mapping()
    assert portal.procedures == ["1.001029", "1.001193", "1.001806", "1.009972"]
    for code in portal.procedures:
        steps = bundled(code).definition.steps
        table = portal.steps(code)
        assert set(table.values()) <= set(steps), (code, set(table.values()) - set(steps))
        # Every counted step can be reached by some code, so every handover can be reported.
        assert {s for s, step in steps.items() if step.counted} <= set(table.values()), code


def test_default_finds_the_bundled_config() -> None:
    assert PortalMapping.default().procedures == mapping().procedures


@pytest.mark.parametrize(("text", "problem"), [
    ('[procedures."1.001806"]\n"Văn thư" = "not an id!"\n', "is not a BPMN element id"),
    ('[procedures."1.001806"]\n"Văn thư" = "register_result"\n"VĂN  THƯ" = "approve"\n', "maps to"),
    ('[procedures."abc"]\n"Văn thư" = "register_result"\n', "not a national procedure code"),
    ('default_agency = ""\n', "default_agency"),
    ('agency = "x"\n', "unknown key"),
    ('[procedures."1.001806"\n', "not valid TOML"),
    ('[procedures."1.001806"]\n"Văn thư" = 3\n', "is not a BPMN element id"),
])
def test_config_errors_name_the_file_and_entry(tmp_path: Path, text: str, problem: str) -> None:
    path = tmp_path / "portal-steps.toml"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(PortalConfigError, match=problem) as err:
        PortalMapping.from_toml(path)
    assert str(path) in str(err.value)
    with pytest.raises(PortalConfigError, match="cannot read"):
        PortalMapping.from_toml(tmp_path / "missing.toml")


def test_the_decoder_reads_portal_messages() -> None:
    from connectors.decoding import Decoder

    value = json.dumps(payload(2, NgayTiepNhan="20260302080000"), ensure_ascii=False).encode()
    [event] = Decoder(CONFIG).decode(value, "portal")
    assert isinstance(event, CaseEvent) and event.type == "case.received"


# -- the whole life cycle through the engine -----------------------------------------------
def run_through_engine(payloads: list[dict[str, Any]], code: str = "1.001806") -> tuple[Run, list[CaseEvent]]:
    """Map, parse, drop repeated event ids (the store's idempotency), then apply in order."""
    seen: set[str] = set()
    applied: list[CaseEvent] = []
    run: Run | None = None
    for obj in payloads:
        for raw in mapped(obj):
            event = parse_event(raw)
            if event.event_id in seen:
                continue
            seen.add(event.event_id)
            applied.append(event)
            if run is None:
                assert event.type == "case.received"
                handler, _ = CaseHandler.receive(event, bundled(code), 1, calendar())
                run = Run(handler, roundtrip=True)
            else:
                run.apply(event)
    assert run is not None
    return run, applied


def test_life_cycle_of_a_1_001806_dossier_ends_early() -> None:
    payloads = life_cycle()
    payloads.insert(8, payloads[7])  # the suspension delivered twice
    run, applied = run_through_engine(payloads)
    assert [(e.type, e.step) for e in applied] == [
        ("case.received", None),
        ("step.completed", "receive_dossier"),
        ("step.completed", "assign"),
        ("case.supplement_requested", None),
        ("case.supplement_received", None),
        ("step.completed", "appraise"),
        ("case.suspended", None),
        ("case.resumed", None),
        ("step.completed", "review"),
        ("step.completed", "approve"),
        ("step.completed", "register_result"),
        ("case.result_ready", None),
        ("case.returned", None),
    ]
    case = run.case
    assert case.promised_at == vn("2026-03-16 08:00")
    # Recounted from the complete dossier (Thu 5 Mar 14:00): 10 working days to Thu 19 Mar 14:00, plus the
    # 8 working hours of the suspension (Fri 13 Mar 08:00 - Mon 16 Mar 08:00).
    assert case.started_at == vn("2026-03-05 14:00")
    assert case.due_at_resolution == vn("2026-03-20 14:00")
    assert case.resolved_at == vn("2026-03-17 14:30")
    assert case.timeliness == "early"
    assert case.status == "returned"
    assert run.nc_summary() == []
    assert [(r.step, r.timeliness) for r in case.steps if r.completed_at] == [
        ("receive_dossier", "on_time"), ("assign", "on_time"), ("appraise", "early"), ("review", "on_time"),
        ("approve", "on_time"), ("register_result", "on_time"),
    ]
    assert case.data == {"ket_luan_tham_dinh": "dat"}


def test_life_cycle_of_a_late_dossier_with_an_apology() -> None:
    apology = {"NgayGiaHan": "20260312090000", "NgayHenTraTruoc": "20260316080000", "NgayHenTraMoi": "20260318170000",
               "LyDo": "Cần thêm thời gian thẩm định"}
    payloads = [
        payload(2, NgayTiepNhan="20260302080000", NgayHenTra="20260316080000"),
        payload(4, MaBuocXuLy="TIEP_NHAN", ThoiDiemXuLy="20260302110000"),
        payload(4, MaBuocXuLy="PHAN_CONG", ThoiDiemXuLy="20260302160000"),
        payload(4, ThoiDiemXuLy="20260312090000", DanhSachGiaHan=[apology]),
        payload(4, MaBuocXuLy="THAM_DINH", ThoiDiemXuLy="20260316090000", DanhSachGiaHan=[apology]),
        payload(4, MaBuocXuLy="XEM_XET", ThoiDiemXuLy="20260316140000", DanhSachGiaHan=[apology]),
        payload(4, PhongBanXuLy="Lãnh đạo Sở", ThoiDiemXuLy="20260317090000", DanhSachGiaHan=[apology]),
        payload(4, PhongBanXuLy="Văn thư", ThoiDiemXuLy="20260317110000", DanhSachGiaHan=[apology]),
        payload(9, NgayKetThucXuLy="20260317113000", DanhSachGiaHan=[apology]),
        payload(10, NgayTra="20260318080000", NgayKetThucXuLy="20260317113000", DanhSachGiaHan=[apology]),
    ]
    run, applied = run_through_engine(payloads)
    assert [e.type for e in applied].count("case.extended") == 1
    case = run.case
    assert case.due_at_resolution == vn("2026-03-16 08:00")
    assert case.extended_due_at == vn("2026-03-18 17:00")
    assert case.timeliness == "late"
    # 16 Mar 08:00 -> 17 Mar 11:30: 7.5 h + 4 h of working time.
    assert case.delay_seconds == 11.5 * 3600
    assert [t for t, _, _ in run.nc_summary()] == ["case_late", "step_late"]
    assert ("step_late", "appraise") in [(t, s) for t, s, _ in run.nc_summary()]
