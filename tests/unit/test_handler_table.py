"""Every event type of the contract has its rule, found through one explicit table (issue 11)."""

from __future__ import annotations

import inspect

from engine.core.events import EVENT_TYPES
from engine.core.handling import EVENT_HANDLERS, CaseHandler


def test_every_event_type_has_a_handler() -> None:
    assert set(EVENT_HANDLERS) == set(EVENT_TYPES)


def test_every_handler_is_a_rule_of_the_case_handler() -> None:
    for event_type, handler in EVENT_HANDLERS.items():
        assert inspect.getattr_static(CaseHandler, handler.__name__) is handler, event_type
        assert list(inspect.signature(handler).parameters) == ["self", "event"], event_type
