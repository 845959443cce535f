"""The published JSON Schema of case events agrees with the engine's parser (engine/core/events.py)."""

from __future__ import annotations

import copy
import json
from datetime import date
from functools import cache
from pathlib import Path
from typing import Any

import jsonschema
import pytest

from engine.core.calendar import WorkingCalendar
from engine.core.events import AGENCY_CODE_PATTERN, EVENT_TYPES, EventInvalid, parse_event
from engine.procedures.loader import load_procedure
from engine.simulation import Simulator

ROOT = Path(__file__).resolve().parents[2]
SCHEMA_PATH = ROOT / "connectors" / "schemas" / "case-event.schema.json"


@cache
def validator() -> Any:
    schema = json.loads(SCHEMA_PATH.read_text(encoding="utf-8"))
    cls = jsonschema.Draft202012Validator
    cls.check_schema(schema)
    return cls(schema, format_checker=cls.FORMAT_CHECKER)


def schema_accepts(obj: Any) -> bool:
    return validator().is_valid(obj)


def parser_accepts(obj: Any) -> bool:
    try:
        parse_event(obj)
    except EventInvalid:
        return False
    return True


@cache
def simulated() -> list[dict[str, Any]]:
    calendar = WorkingCalendar()
    procedures = [load_procedure(path.read_bytes(), path.name) for path in sorted((ROOT / "bpmn").glob("*.bpmn"))]
    return Simulator(procedures, calendar, seed=20260302).month(date(2026, 3, 1), cases=300)


def good() -> dict[str, Any]:
    return {
        "event_id": "e-1", "type": "step.completed", "case_id": "000.00.12.H10-260302-0001",
        "agency": "000.00.12.H10", "procedure": "1.001806", "occurred_at": "2026-03-02T08:15:00+07:00",
        "step": "assign", "due_at": "2026-03-16T08:00:00+07:00", "data": {"eligible": True},
        "actor": {"unit": "Trưởng phòng", "officer": "Nguyễn Văn An"}, "reason": "ok", "extra_field": 1,
    }


def test_schema_is_draft_2020_12_with_the_contract_types() -> None:
    schema = json.loads(SCHEMA_PATH.read_text(encoding="utf-8"))
    assert schema["$schema"] == "https://json-schema.org/draft/2020-12/schema"
    assert set(schema["properties"]["type"]["enum"]) == EVENT_TYPES
    assert len(schema["properties"]["type"]["enum"]) == 13
    assert set(schema["required"]) == {"event_id", "type", "case_id", "agency", "procedure", "occurred_at"}
    assert schema.get("additionalProperties", True) is True


def test_every_simulated_event_validates() -> None:
    events = simulated()
    assert len(events) > 1000
    assert {e["type"] for e in events} >= EVENT_TYPES - {"case.stopped"}
    for event in events:
        errors = [e.message for e in validator().iter_errors(event)]
        assert not errors, (event, errors)
        assert parser_accepts(event)


def test_a_full_event_and_a_minimal_one_validate() -> None:
    assert schema_accepts(good()) and parser_accepts(good())
    minimal = {k: good()[k] for k in ("event_id", "type", "case_id", "agency", "procedure", "occurred_at")}
    minimal["type"] = "case.received"
    assert schema_accepts(minimal) and parser_accepts(minimal)
    for value in ("2026-03-02T01:15:00Z", "2026-03-02T08:15:00.250+07:00", "2026-03-01T20:15:00-05:00"):
        assert schema_accepts({**minimal, "occurred_at": value}) and parser_accepts({**minimal, "occurred_at": value})
    nulls = {**minimal, "step": None, "due_at": None, "data": None, "actor": None, "reason": None}
    assert schema_accepts(nulls) and parser_accepts(nulls)


def _without(name: str) -> dict[str, Any]:
    obj = good()
    del obj[name]
    return obj


REFUSED: dict[str, Any] = {
    **{f"missing {name}": _without(name)
       for name in ("event_id", "type", "case_id", "agency", "procedure", "occurred_at")},
    "unknown type": {**good(), "type": "case.archived"},
    "type not a string": {**good(), "type": 3},
    "step.completed without step": _without("step"),
    "step.started without step": {**_without("step"), "type": "step.started"},
    "step.completed with null step": {**good(), "step": None},
    "step.completed with empty step": {**good(), "step": ""},
    "occurred_at without offset": {**good(), "occurred_at": "2026-03-02T08:15:00"},
    "occurred_at a date only": {**good(), "occurred_at": "2026-03-02"},
    "occurred_at portal format": {**good(), "occurred_at": "20260302081500"},
    "occurred_at not a date": {**good(), "occurred_at": "yesterday"},
    "occurred_at a number": {**good(), "occurred_at": 1772414100},
    "occurred_at null": {**good(), "occurred_at": None},
    "due_at without offset": {**good(), "due_at": "2026-03-16T08:00:00"},
    "empty case_id": {**good(), "case_id": ""},
    "blank agency": {**good(), "agency": "   "},
    "numeric procedure": {**good(), "procedure": 1.001806},
    "event_id too long": {**good(), "event_id": "x" * 501},
    "data not an object": {**good(), "data": ["a"]},
    "data a string": {**good(), "data": "x=1"},
    "actor not an object": {**good(), "actor": "Trưởng phòng"},
    "reason not a string": {**good(), "reason": 42},
    "not an object": ["event"],
    # the server's rules on identifiers, agency codes, years and NUL (issue 10: 2.2, 2.8, 2.10, 2.17)
    "occurred_at in 1969": {**good(), "occurred_at": "1969-12-31T23:59:59+07:00"},
    "occurred_at in 2201": {**good(), "occurred_at": "2201-01-01T00:00:00+07:00"},
    "occurred_at in year 1": {**good(), "occurred_at": "0001-01-01T00:00:00+07:00"},
    "occurred_at in 9999": {**good(), "occurred_at": "9999-12-31T23:00:00-05:00"},
    "due_at in 3000": {**good(), "due_at": "3000-01-01T00:00:00+07:00"},
    "agency percent": {**good(), "agency": "%"},
    "agency with a space": {**good(), "agency": "a b"},
    "agency invented": {**good(), "agency": "A"},
    "agency lower case": {**good(), "agency": "000.00.12.h10"},
    "agency with a final newline": {**good(), "agency": "000.00.12.H10\n"},
    "case_id with a trailing space": {**good(), "case_id": "D-1 "},
    "event_id with a leading space": {**good(), "event_id": " e-1"},
    "procedure with a final newline": {**good(), "procedure": "1.001806\n"},
    "step with a control character": {**good(), "step": "as\x07sign"},
    "type with surrounding spaces": {**good(), "type": " step.completed "},
    "reason with NUL": {**good(), "reason": "a\x00b"},
    # longer than the store keeps (a 500 on PostgreSQL before)
    "event_id longer than 175": {**good(), "event_id": "e" * 176},
    "case_id longer than 200": {**good(), "case_id": "C" * 201},
    "procedure longer than 32": {**good(), "procedure": "1." + "0" * 31},
    "step longer than 255": {**good(), "step": "s" * 256},
}


@pytest.mark.parametrize("name", sorted(REFUSED))
def test_what_the_parser_refuses_the_schema_refuses(name: str) -> None:
    obj = copy.deepcopy(REFUSED[name])
    assert not parser_accepts(obj), name
    assert not schema_accepts(obj), name


@pytest.mark.parametrize("event_type", sorted(EVENT_TYPES))
def test_each_type_is_accepted_by_both(event_type: str) -> None:
    obj = {**good(), "type": event_type}
    assert schema_accepts(obj) and parser_accepts(obj)
    if event_type.startswith("step."):
        assert not schema_accepts(_strip_step(obj)) and not parser_accepts(_strip_step(obj))
    else:
        assert schema_accepts(_strip_step(obj)) and parser_accepts(_strip_step(obj))


def _strip_step(obj: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in obj.items() if k != "step"}


def test_mutations_of_simulated_events_agree() -> None:
    """Each required field dropped, or its value broken, from real events: both refuse."""
    breakers: list[Any] = [None, "", 7, "  "]
    for event in simulated()[:200]:
        for name in ("event_id", "type", "case_id", "agency", "procedure", "occurred_at"):
            dropped = {k: v for k, v in event.items() if k != name}
            assert not parser_accepts(dropped) and not schema_accepts(dropped)
            for value in breakers:
                broken = {**event, name: value}
                assert not parser_accepts(broken) and not schema_accepts(broken), (name, value)


def test_the_schema_states_the_agency_code_pattern_of_the_core() -> None:
    schema = json.loads(SCHEMA_PATH.read_text(encoding="utf-8"))
    patterns = [part.get("pattern") for part in schema["$defs"]["agency"]["allOf"]]
    assert AGENCY_CODE_PATTERN.removesuffix("$") + "$(?!\\n)" in patterns


@pytest.mark.parametrize("when", ["1970-01-01T00:00:00+07:00", "2200-12-31T23:59:59-05:00", "2026-03-02T08:15:00Z"])
def test_the_boundary_years_are_accepted_by_both(when: str) -> None:
    obj = {**good(), "occurred_at": when, "due_at": when}
    assert schema_accepts(obj) and parser_accepts(obj)


def test_inner_spaces_and_unicode_in_identifiers_are_accepted_by_both() -> None:
    obj = {**good(), "case_id": "Hồ sơ 000.00.12.H10-260302-0001", "step": "thẩm định", "event_id": "e 1"}
    assert schema_accepts(obj) and parser_accepts(obj)
