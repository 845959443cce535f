"""National public-service portal payloads (Cổng Dịch vụ công quốc gia) to contract case events.

The one-stop-shop system syncs each dossier to the national portal with ``DongBoHoSoMC``
(the dossier and its status) and ``CapNhatTienDoHoSoMC`` (a progress entry of the process
control slip). A one-stop-shop that sends us the same payloads, one dossier object per
message, gets them mapped here onto the contract's case events (contract section 2). The
mapping is pure: no I/O besides reading the TOML configuration, standard library only.

Times are local ``yyyyMMddHHmmss`` in Asia/Ho_Chi_Minh and become RFC 3339 with ``+07:00``
(Vietnam has kept UTC+7 without daylight saving since 1975). An empty string or null is
"not set", as the portal's payloads write unset dates.

Payload fields read (anything else is ignored):

==============================  =========================================================
``MaHoSo``                      dossier code -> ``case_id`` (required)
``MaTTHC``                      national procedure code -> ``procedure``
``MaDonVi`` / ``MaCoQuan``      unit / agency code -> ``agency`` (first present; else the
                                mapping's ``default_agency``)
``TrangThaiHoSo``               dossier status 1-10 (table below); absent in a pure
                                progress update
``TrangThaiHoSoTruoc``          previous status (optional): 5 or 6 tells a return to 4
``TiepTucXuLy``                 1 = processing continues after the financial obligation
``NgayTiepNhan``                time of receipt
``NgayHenTra``                  appointment date on the receipt
``NgayKetThucXuLy``             time processing ended (result ready, refusal, stop)
``NgayTra``                     time the result was returned
``ThoiDiemXuLy``                time of the progress entry / of the status change
``PhongBanXuLy``                processing unit of the progress entry
``MaBuocXuLy``                  the one-stop-shop's step code of the progress entry
``NguoiXuLy``                   officer -> ``actor.officer``
``NoiDungXuLy`` / ``GhiChu``    what was done -> ``reason`` of status events
``DanhSachGiaHan``              extensions: entries with ``NgayHenTraTruoc`` (old
                                appointment), ``NgayHenTraMoi`` (new one), ``NgayGiaHan``
                                or ``ThoiDiem`` (when), ``LyDo`` (why)
``DanhSachHoSoBoSung``          supplements: entries with ``NgayBoSung`` (requested),
                                ``NgayTiepNhanBoSung`` (supplement received),
                                ``NgayHenTraTruoc`` / ``NgayHenTraMoi``, ``NoiDungBoSung``
``DuLieuHoSo``                  case data (object) -> ``data`` of every event (gateways)
==============================  =========================================================

Status (``TrangThaiHoSo``) to events:

====  ==================================  ===============================================
code  meaning                             events (``occurred_at`` from the first field set)
====  ==================================  ===============================================
1     registered online, not received     none: ``[]``
2     received                            ``case.received`` (NgayTiepNhan;
                                          ``due_at`` = NgayHenTra)
3     not received / refused              ``case.rejected`` (NgayKetThucXuLy,
                                          ThoiDiemXuLy, NgayTiepNhan)
4     being processed                     progress entry -> ``step.completed`` of the mapped
                                          step (ThoiDiemXuLy); back from 5 ->
                                          ``case.supplement_received``; back from 6 ->
                                          ``case.resumed`` (see below)
5     supplement requested                ``case.supplement_requested`` (ThoiDiemXuLy,
                                          last DanhSachHoSoBoSung.NgayBoSung)
6     financial obligation requested      ``case.suspended`` (ThoiDiemXuLy)
7     citizen withdrew                    ``case.withdrawn`` (NgayKetThucXuLy, ThoiDiemXuLy)
8     processing stopped                  ``case.stopped`` (NgayKetThucXuLy, ThoiDiemXuLy)
9     processed, result at the One-Stop   ``case.result_ready`` (NgayKetThucXuLy,
                                          ThoiDiemXuLy)
10    result returned                     ``case.returned`` (NgayTra), preceded by
                                          ``case.result_ready`` (NgayKetThucXuLy) when set
====  ==================================  ===============================================

Progress entries: ``PhongBanXuLy`` and/or ``MaBuocXuLy`` with ``ThoiDiemXuLy`` is one unit
handing the dossier over, so ``step.completed`` of the BPMN step that the mapping gives for
the procedure (``MaBuocXuLy`` is looked up first, then ``PhongBanXuLy``; names compare
case-, space- and Unicode-form-insensitively). Only payloads with status 4 or without a
status complete steps: in other statuses those fields say who requested, suspended,
refused or ended, not a handover; likewise in a payload that returns to 4 from 5 or 6
(``TrangThaiHoSoTruoc`` 5 or 6, or ``TiepTucXuLy`` 1), where they say who took the
supplement or the fee in. ``TrangThaiHoSoTruoc`` is the status before this payload's
change: leave it out (or equal to ``TrangThaiHoSo``) on payloads that change nothing.
A unit that does several steps of a procedure (e.g. the head of section assigns and
reviews) cannot be told apart by its name: the one-stop-shop must send ``MaBuocXuLy`` for
those steps.

Returning to 4 (the portal sends only the new status, so the mapping is told the old one):
``case.supplement_received`` when ``TrangThaiHoSoTruoc`` = 5 or when the last
``DanhSachHoSoBoSung`` entry has ``NgayTiepNhanBoSung`` (occurred_at: that date, else
ThoiDiemXuLy); ``case.resumed`` when ``TrangThaiHoSoTruoc`` = 6 or ``TiepTucXuLy`` = 1
(occurred_at: ThoiDiemXuLy). Because the supplement list travels with every later
payload, the same ``case.supplement_received`` comes again with the same ``event_id`` and
the engine drops it.

Extensions: every ``DanhSachGiaHan`` entry, and every ``DanhSachHoSoBoSung`` entry whose
``NgayHenTraMoi`` differs from its ``NgayHenTraTruoc`` and that has no
``NgayTiepNhanBoSung``, is a ``case.extended`` with ``due_at`` = NgayHenTraMoi and
``occurred_at`` = NgayGiaHan, else ThoiDiem, else the payload's ThoiDiemXuLy. A supplement
entry with ``NgayTiepNhanBoSung`` is not an apology: its new appointment is the time limit
counted again from the complete dossier, which the engine computes itself from
``case.supplement_received``; reading it as ``case.extended`` would report an extension
that never was (and a ``repeated_extension`` on the real apology).

``event_id`` is ``portal:`` + the first 32 hex digits of SHA-256 over the dossier code, the
type, the occurrence time and the step; for ``case.extended`` over the dossier code, the
type and the entry's old and new appointment (the lists are re-sent with every later
payload, sometimes without a date of their own). Re-delivering a payload, or a later
payload repeating an earlier fact, gives the same ids, which the engine's idempotency
drops. Events of one payload are ordered by time (receipt, returns to processing,
handovers, extensions, pauses, result, closing at equal times).
"""

from __future__ import annotations

import hashlib
import re
import tomllib
import unicodedata
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any, Literal

from engine.bundled import PORTAL_STEPS, config_file

#: Local time of the portal's payloads. Vietnam: UTC+7, no daylight saving since 1975.
PORTAL_ZONE = timezone(timedelta(hours=7), "Asia/Ho_Chi_Minh")
PORTAL_TIME_FORMAT = "%Y%m%d%H%M%S"
DEFAULT_CONFIG = Path("config") / "portal-steps.toml"
ID_PREFIX = "portal:"

_TIME_RE = re.compile(r"[0-9]{14}")
_STEP_ID_RE = re.compile(r"[A-Za-z_][A-Za-z0-9_.-]*")
_PROCEDURE_RE = re.compile(r"[0-9]+\.[0-9]+")

STATUS_MEANINGS: dict[int, str] = {
    1: "registered online, not yet received",
    2: "received",
    3: "not received / refused",
    4: "being processed",
    5: "supplement requested",
    6: "financial obligation requested",
    7: "withdrawn by the citizen",
    8: "processing stopped",
    9: "processed, result at the One-Stop unit",
    10: "result returned",
}

# Order of events of one payload at equal times.
_PRIORITY = {
    "case.received": 0,
    "case.supplement_received": 1,
    "case.resumed": 1,
    "step.completed": 2,
    "case.extended": 3,
    "case.supplement_requested": 4,
    "case.suspended": 4,
    "case.result_ready": 5,
    "case.returned": 6,
    "case.withdrawn": 6,
    "case.rejected": 6,
    "case.stopped": 6,
}


class PortalPayloadError(ValueError):
    """The payload cannot be mapped; the message names the dossier (MaHoSo) and the field."""

    def __init__(self, message: str, case_id: str | None = None, field: str | None = None):
        self.case_id = case_id
        self.field = field
        super().__init__(message)


class PortalConfigError(ValueError):
    """The step mapping (``config/portal-steps.toml``) is wrong; the message names the entry."""


def _key(text: str) -> str:
    """Names as the one-stop-shop may spell them: any Unicode form, case or spacing."""
    return " ".join(unicodedata.normalize("NFC", text).casefold().split())


class PortalMapping:
    """How this agency's portal payloads name things.

    ``steps``: per national procedure code, a mapping from a step code (``MaBuocXuLy``) or a
    processing unit name (``PhongBanXuLy``) to the BPMN element id of the step.
    ``default_agency``: the agency code when a payload has neither ``MaDonVi`` nor ``MaCoQuan``.
    """

    def __init__(self, steps: Mapping[str, Mapping[str, str]] | None = None, default_agency: str | None = None,
                 source: str = "the portal step mapping"):
        self.source = source
        if default_agency is not None and (not isinstance(default_agency, str) or not default_agency.strip()):
            raise PortalConfigError(f"{source}: default_agency must be a non-empty string, got {default_agency!r}")
        self.default_agency = default_agency.strip() if default_agency else None
        self._steps: dict[str, dict[str, str]] = {}
        self._names: dict[str, dict[str, str]] = {}
        for procedure, table in (steps or {}).items():
            if not isinstance(procedure, str) or not _PROCEDURE_RE.fullmatch(procedure.strip()):
                raise PortalConfigError(f"{source}: {procedure!r} is not a national procedure code like '1.001806'")
            if not isinstance(table, Mapping):
                raise PortalConfigError(f"{source}: procedures.{procedure!r} must be a table of name = step id")
            lookup: dict[str, str] = {}
            names: dict[str, str] = {}
            for name, step in table.items():
                where = f"{source}: procedures.{procedure!r}.{name!r}"
                if not isinstance(name, str) or not name.strip():
                    raise PortalConfigError(f"{where}: a step code or unit name must be a non-empty string")
                if not isinstance(step, str) or not _STEP_ID_RE.fullmatch(step):
                    raise PortalConfigError(f"{where}: {step!r} is not a BPMN element id")
                key = _key(name)
                if key in lookup and lookup[key] != step:
                    raise PortalConfigError(f"{where}: the same name as {names[key]!r} maps to {lookup[key]!r}, "
                                            f"not {step!r}")
                lookup[key] = step
                names.setdefault(key, name)
            self._steps[procedure.strip()] = lookup
            self._names[procedure.strip()] = names

    def __repr__(self) -> str:
        return f"PortalMapping(source={self.source!r}, procedures={sorted(self._steps)})"

    @property
    def procedures(self) -> list[str]:
        return sorted(self._steps)

    def steps(self, procedure: str) -> dict[str, str]:
        """The configured names of one procedure, as written, and their step ids."""
        names = self._names.get(procedure, {})
        return {names[key]: step for key, step in self._steps.get(procedure, {}).items()}

    def step_for(self, procedure: str, name: str) -> str | None:
        """The step id of a step code or unit name for ``procedure``, or ``None``."""
        return self._steps.get(procedure, {}).get(_key(name))

    def has_procedure(self, procedure: str) -> bool:
        return procedure in self._steps

    # -- loading -------------------------------------------------------------------------
    @classmethod
    def from_dict(cls, obj: Mapping[str, Any], source: str = "the portal step mapping") -> PortalMapping:
        """From the TOML document's shape: ``default_agency`` and ``[procedures."<code>"]`` tables."""
        unknown = sorted(set(obj) - {"default_agency", "procedures"})
        if unknown:
            raise PortalConfigError(f"{source}: unknown key(s) {', '.join(map(repr, unknown))} "
                                    "(expected default_agency and [procedures.\"<code>\"] tables)")
        procedures = obj.get("procedures", {})
        if not isinstance(procedures, Mapping):
            raise PortalConfigError(f"{source}: procedures must be a table of [procedures.\"<code>\"] tables")
        return cls(procedures, default_agency=obj.get("default_agency"), source=source)

    @classmethod
    def from_toml(cls, path: str | Path) -> PortalMapping:
        path = Path(path)
        try:
            with path.open("rb") as handle:
                obj = tomllib.load(handle)
        except OSError as err:
            raise PortalConfigError(f"{path}: cannot read the portal step mapping: {err.strerror or err}") from None
        except tomllib.TOMLDecodeError as err:
            raise PortalConfigError(f"{path}: not valid TOML: {err}") from None
        return cls.from_dict(obj, source=str(path))

    @classmethod
    def default(cls) -> PortalMapping:
        """``config/portal-steps.toml`` of the working directory, else the one shipped with eiso.

        Without either file: an empty mapping, so status changes still map and every progress
        entry fails with a message that names the missing file.
        """
        for candidate in (Path.cwd() / DEFAULT_CONFIG, config_file(PORTAL_STEPS)):
            if candidate.is_file():
                return cls.from_toml(candidate)
        return cls(source=f"{DEFAULT_CONFIG} (not found)")


def detect_format(obj: Any) -> Literal["contract", "portal"]:
    """``portal`` for a national-portal payload (it has ``MaHoSo``), else ``contract``."""
    return "portal" if isinstance(obj, dict) and "MaHoSo" in obj else "contract"


# -- mapping -----------------------------------------------------------------------------
@dataclass(frozen=True)
class _Draft:
    type: str
    occurred_at: datetime
    step: str | None = None
    due_at: datetime | None = None
    actor: dict[str, str] | None = None
    reason: str | None = None
    identity: tuple[str, ...] | None = None  # what makes the event_id, when not (type, time, step)


class _Payload:
    """Field access with errors that name the dossier and the field."""

    def __init__(self, obj: dict[str, Any]):
        self.obj = obj
        raw = obj.get("MaHoSo")
        if not isinstance(raw, str) or not raw.strip():
            raise PortalPayloadError(f"portal payload: MaHoSo (dossier code) must be a non-empty string, "
                                     f"got {raw!r}", None, "MaHoSo")
        self.case_id = raw.strip()

    def fail(self, field: str, problem: str) -> PortalPayloadError:
        return PortalPayloadError(f"dossier {self.case_id!r}: {field} {problem}", self.case_id, field)

    def text(self, name: str, source: Mapping[str, Any] | None = None, label: str | None = None) -> str | None:
        value = (self.obj if source is None else source).get(name)
        if value is None or (isinstance(value, str) and not value.strip()):
            return None
        if isinstance(value, bool) or not isinstance(value, str | int):
            raise self.fail(label or name, f"must be text, got {value!r}")
        return str(value).strip()

    def time(self, name: str, source: Mapping[str, Any] | None = None, label: str | None = None) -> datetime | None:
        value = (self.obj if source is None else source).get(name)
        if value is None or (isinstance(value, str) and not value.strip()):
            return None
        text = str(value).strip() if isinstance(value, str | int) and not isinstance(value, bool) else None
        if text is None or not _TIME_RE.fullmatch(text):
            raise self.fail(label or name, f"must be a local time yyyyMMddHHmmss (e.g. 20260302081500), "
                                           f"got {value!r}")
        try:
            local = datetime.strptime(text, PORTAL_TIME_FORMAT)
        except ValueError:
            raise self.fail(label or name, f"is not a valid date and time: {value!r}") from None
        return local.replace(tzinfo=PORTAL_ZONE)

    def first_time(self, *names: str) -> datetime | None:
        for name in names:
            found = self.time(name)
            if found is not None:
                return found
        return None

    def required_time(self, status: int, *names: str) -> datetime:
        found = self.first_time(*names)
        if found is None:
            fields = " or ".join(names)
            raise self.fail(names[0], f"is missing: TrangThaiHoSo {status} ({STATUS_MEANINGS[status]}) "
                                      f"needs {fields}")
        return found

    def status(self, name: str) -> int | None:
        value = self.obj.get(name)
        if value is None or (isinstance(value, str) and not value.strip()):
            return None
        code: int | None = None
        if isinstance(value, int) and not isinstance(value, bool):
            code = value
        elif isinstance(value, str) and value.strip().isdigit():
            code = int(value.strip())
        if code not in STATUS_MEANINGS:
            raise self.fail(name, f"must be a status code 1-10, got {value!r}")
        return code

    def flag(self, name: str) -> bool:
        value = self.obj.get(name)
        return value is True or value == 1 or (isinstance(value, str) and value.strip().lower() in ("1", "true"))

    def entries(self, name: str) -> Iterator[tuple[int, dict[str, Any]]]:
        value = self.obj.get(name)
        if value is None or value == "":
            return
        if not isinstance(value, list):
            raise self.fail(name, f"must be a list of objects, got {type(value).__name__}")
        for index, entry in enumerate(value):
            if not isinstance(entry, dict):
                raise self.fail(f"{name}[{index}]", f"must be an object, got {type(entry).__name__}")
            yield index, entry

    def actor(self) -> dict[str, str] | None:
        actor = {key: value for key, value in (("unit", self.text("PhongBanXuLy")),
                                               ("officer", self.text("NguoiXuLy"))) if value}
        return actor or None

    def reason(self) -> str | None:
        return self.text("NoiDungXuLy") or self.text("GhiChu")


def map_portal_message(obj: dict[str, Any], mapping: PortalMapping) -> list[dict[str, Any]]:
    """The contract events of one portal payload (one dossier), ordered; ``[]`` when there are none.

    Raises ``PortalPayloadError`` naming ``MaHoSo`` and the offending field.
    """
    if not isinstance(obj, dict):
        raise PortalPayloadError(f"a portal payload must be a JSON object, got {type(obj).__name__}")
    p = _Payload(obj)
    status = p.status("TrangThaiHoSo")
    if status == 1:
        return []
    previous = p.status("TrangThaiHoSoTruoc")
    unit = p.text("PhongBanXuLy")
    code = p.text("MaBuocXuLy")
    has_lists = any(obj.get(name) not in (None, "", []) for name in ("DanhSachGiaHan", "DanhSachHoSoBoSung"))
    if status is None and unit is None and code is None and not has_lists:
        raise p.fail("TrangThaiHoSo", "is missing and the payload has no progress entry (PhongBanXuLy or "
                                      "MaBuocXuLy with ThoiDiemXuLy) nor DanhSachGiaHan: nothing to map")
    procedure = p.text("MaTTHC")
    drafts: list[_Draft] = []
    if status is not None:
        drafts.extend(_status_events(p, status, previous))
    transition = status == 4 and (previous in (5, 6) or p.flag("TiepTucXuLy"))
    if status in (None, 4) and not transition and (unit is not None or code is not None):
        drafts.append(_handover(p, mapping, procedure, unit, code))
    drafts.extend(_extensions(p))
    if not drafts:
        return []
    if procedure is None:
        raise p.fail("MaTTHC", "(national procedure code) is missing")
    agency = p.text("MaDonVi") or p.text("MaCoQuan") or mapping.default_agency
    if agency is None:
        raise p.fail("MaDonVi", f"is missing (and MaCoQuan too), and {mapping.source} sets no default_agency")
    data = obj.get("DuLieuHoSo")
    if data is not None and not isinstance(data, dict):
        raise p.fail("DuLieuHoSo", f"(case data) must be an object, got {type(data).__name__}")
    drafts.sort(key=lambda d: (d.occurred_at, _PRIORITY[d.type]))
    events: list[dict[str, Any]] = []
    for draft in drafts:
        event: dict[str, Any] = {
            "event_id": _event_id(p.case_id, draft),
            "type": draft.type,
            "case_id": p.case_id,
            "agency": agency,
            "procedure": procedure,
            "occurred_at": draft.occurred_at.isoformat(),
        }
        if draft.step is not None:
            event["step"] = draft.step
        if draft.due_at is not None:
            event["due_at"] = draft.due_at.isoformat()
        if data:
            event["data"] = dict(data)
        if draft.actor:
            event["actor"] = dict(draft.actor)
        if draft.reason:
            event["reason"] = draft.reason
        events.append(event)
    return events


def _status_events(p: _Payload, status: int, previous: int | None) -> list[_Draft]:
    actor, reason = p.actor(), p.reason()
    if status == 2:
        return [_Draft("case.received", p.required_time(2, "NgayTiepNhan"), due_at=p.time("NgayHenTra"),
                       actor=actor)]
    if status == 3:
        at = p.required_time(3, "NgayKetThucXuLy", "ThoiDiemXuLy", "NgayTiepNhan")
        return [_Draft("case.rejected", at, actor=actor, reason=reason)]
    if status == 4:
        return _back_to_processing(p, previous)
    if status == 5:
        asked = p.first_time("ThoiDiemXuLy") or _last_entry_time(p, "DanhSachHoSoBoSung", "NgayBoSung")
        if asked is None:
            raise p.fail("ThoiDiemXuLy", "is missing: TrangThaiHoSo 5 (supplement requested) needs ThoiDiemXuLy "
                                         "or a DanhSachHoSoBoSung entry with NgayBoSung")
        return [_Draft("case.supplement_requested", asked, actor=actor, reason=reason or _last_supplement_text(p))]
    if status == 6:
        return [_Draft("case.suspended", p.required_time(6, "ThoiDiemXuLy"), actor=actor, reason=reason)]
    if status in (7, 8):
        kind = "case.withdrawn" if status == 7 else "case.stopped"
        return [_Draft(kind, p.required_time(status, "NgayKetThucXuLy", "ThoiDiemXuLy"), actor=actor,
                       reason=reason)]
    if status == 9:
        return [_Draft("case.result_ready", p.required_time(9, "NgayKetThucXuLy", "ThoiDiemXuLy"), actor=actor)]
    # 10: returned; the end of processing, when given, is the result_ready a lost status-9 sync would have given.
    drafts = [_Draft("case.returned", p.required_time(10, "NgayTra"), actor=actor)]
    finished = p.time("NgayKetThucXuLy")
    if finished is not None:
        drafts.append(_Draft("case.result_ready", finished))
    return drafts


def _back_to_processing(p: _Payload, previous: int | None) -> list[_Draft]:
    drafts: list[_Draft] = []
    last_received = _last_entry_time(p, "DanhSachHoSoBoSung", "NgayTiepNhanBoSung")
    if previous == 5 or last_received is not None:
        at = last_received or p.time("ThoiDiemXuLy")
        if at is None:
            raise p.fail("ThoiDiemXuLy", "is missing: a return from TrangThaiHoSo 5 (supplement received) needs "
                                         "ThoiDiemXuLy or DanhSachHoSoBoSung[].NgayTiepNhanBoSung")
        drafts.append(_Draft("case.supplement_received", at))
    if previous == 6 or p.flag("TiepTucXuLy"):
        at = p.time("ThoiDiemXuLy")
        if at is None:
            raise p.fail("ThoiDiemXuLy", "is missing: a return from TrangThaiHoSo 6 (TrangThaiHoSoTruoc 6 or "
                                         "TiepTucXuLy 1) needs ThoiDiemXuLy")
        drafts.append(_Draft("case.resumed", at))
    return drafts


def _handover(p: _Payload, mapping: PortalMapping, procedure: str | None, unit: str | None,
              code: str | None) -> _Draft:
    at = p.time("ThoiDiemXuLy")
    if at is None:
        raise p.fail("ThoiDiemXuLy", f"is missing: the progress entry of {unit or code!r} needs the time the "
                                     "unit handed the dossier over")
    if procedure is None:
        raise p.fail("MaTTHC", "(national procedure code) is missing: needed to map the progress entry to a step")
    step = None
    if code is not None:
        step = mapping.step_for(procedure, code)
    if step is None and unit is not None:
        step = mapping.step_for(procedure, unit)
    if step is None:
        field = "PhongBanXuLy" if unit is not None else "MaBuocXuLy"
        named = " / ".join(f"{name} {value!r}" for name, value in (("MaBuocXuLy", code), ("PhongBanXuLy", unit))
                           if value is not None)
        where = (f"add it under [procedures.\"{procedure}\"]" if mapping.has_procedure(procedure)
                 else f"procedure {procedure} has no [procedures.\"{procedure}\"] table")
        raise p.fail(field, f"is not mapped to a BPMN step: {named} of procedure {procedure} is unknown to "
                            f"{mapping.source} ({where})")
    return _Draft("step.completed", at, step=step, actor=p.actor())


def _extensions(p: _Payload) -> list[_Draft]:
    drafts: list[_Draft] = []
    for name in ("DanhSachGiaHan", "DanhSachHoSoBoSung"):
        for index, entry in p.entries(name):
            label = f"{name}[{index}]"
            old = p.time("NgayHenTraTruoc", entry, f"{label}.NgayHenTraTruoc")
            new = p.time("NgayHenTraMoi", entry, f"{label}.NgayHenTraMoi")
            if name == "DanhSachHoSoBoSung":
                if old is None or new is None or old == new:
                    continue
                if p.time("NgayTiepNhanBoSung", entry, f"{label}.NgayTiepNhanBoSung") is not None:
                    continue  # the recount after a supplement, not an apology
            if new is None:
                raise p.fail(f"{label}.NgayHenTraMoi", "(the new appointment) is missing")
            at = (p.time("NgayGiaHan", entry, f"{label}.NgayGiaHan") or p.time("ThoiDiem", entry, f"{label}.ThoiDiem")
                  or p.time("ThoiDiemXuLy"))
            if at is None:
                raise p.fail(f"{label}.NgayGiaHan", "is missing (and ThoiDiem, and the payload's ThoiDiemXuLy): "
                                                    "the extension needs the time it was made")
            reason = (p.text("LyDo", entry, f"{label}.LyDo") or p.text("LyDoGiaHan", entry, f"{label}.LyDoGiaHan")
                      or p.text("NoiDungBoSung", entry, f"{label}.NoiDungBoSung"))
            identity = ("case.extended", old.isoformat() if old else "", new.isoformat())
            drafts.append(_Draft("case.extended", at, due_at=new, reason=reason, identity=identity))
    return drafts


def _last_entry_time(p: _Payload, name: str, field: str) -> datetime | None:
    found: datetime | None = None
    for index, entry in p.entries(name):
        found = p.time(field, entry, f"{name}[{index}].{field}")
    return found


def _last_supplement_text(p: _Payload) -> str | None:
    found: str | None = None
    for index, entry in p.entries("DanhSachHoSoBoSung"):
        found = p.text("NoiDungBoSung", entry, f"DanhSachHoSoBoSung[{index}].NoiDungBoSung")
    return found


def _event_id(case_id: str, draft: _Draft) -> str:
    parts = draft.identity or (draft.type, draft.occurred_at.isoformat(), draft.step or "")
    digest = hashlib.sha256("\x1f".join((case_id, *parts)).encode("utf-8")).hexdigest()
    return ID_PREFIX + digest[:32]
