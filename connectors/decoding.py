"""Kafka message values to contract events, per topic format (the contract's JSON, or the portal's)."""

from __future__ import annotations

import json
from importlib.resources import files
from pathlib import Path
from typing import Any

from connectors.portal import PortalConfigError, PortalMapping, PortalPayloadError, map_portal_message
from connectors.settings import KafkaSettings
from engine.core.events import CaseEvent, EventInvalid, parse_event, parse_event_line

MAX_MESSAGE_BYTES = 1_000_000
EVENT_SCHEMA = "case-event.schema.json"


def event_schema() -> dict[str, Any]:
    """The contract's JSON Schema of a case event, as shipped in the package (connectors/schemas/)."""
    schema: dict[str, Any] = json.loads((files("connectors") / "schemas" / EVENT_SCHEMA).read_text(encoding="utf-8"))
    return schema


class Decoder:
    def __init__(self, portal_steps: Path | None = None):
        self._portal_steps = portal_steps
        self._portal: Any = None

    def decode(self, value: bytes, fmt: str) -> list[CaseEvent]:
        if len(value) > MAX_MESSAGE_BYTES:
            raise EventInvalid([f"message of {len(value)} bytes is larger than {MAX_MESSAGE_BYTES}"])
        if fmt == "contract":
            return [parse_event_line(value)]
        return self._portal_events(value)

    def _portal_events(self, value: bytes) -> list[CaseEvent]:
        try:
            obj = json.loads(value)
        except (ValueError, UnicodeDecodeError) as err:
            raise EventInvalid([f"not valid JSON: {err}"]) from None
        if not isinstance(obj, dict):
            raise EventInvalid([f"a portal payload must be a JSON object, got {type(obj).__name__}"])
        try:
            mapped = map_portal_message(obj, self._mapping())
        except PortalPayloadError as err:
            raise EventInvalid([str(err)], event_id=str(obj.get("MaHoSo") or "") or None) from None
        return [parse_event(event) for event in mapped]

    def check_portal_mapping(self) -> None:
        """Load the portal's step mapping now, so a broken file stops the worker at start, clearly."""
        self._mapping()

    def _mapping(self) -> Any:
        if self._portal is None:
            steps = self._portal_steps or KafkaSettings().portal_steps
            try:
                self._portal = PortalMapping.from_toml(steps) if steps else PortalMapping.default()
            except PortalConfigError as err:  # the file is named; say how to use another one
                raise PortalConfigError(f"{err} (EISO_KAFKA_PORTAL_STEPS names another file)") from None
        return self._portal
