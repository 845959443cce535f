"""Case snapshots carry SpiffWorkflow's serializer version and are migrated on restore.

The fixture ``tests/fixtures/snapshots/spiffworkflow-3.1.2.json`` is a case of the bundled
building-permit procedure stopped half-way (steps done, one late; two parallel steps active; the case
suspended) and snapshotted by SpiffWorkflow 3.1.2, the release before the installed one; see
``make_fixture.py`` beside it for how it was written and how to write it again.
"""

from __future__ import annotations

import copy
import json
from functools import cache
from pathlib import Path
from typing import Any

import pytest
from SpiffWorkflow.bpmn.serializer import BpmnWorkflowSerializer
from SpiffWorkflow.bpmn.serializer import workflow as spiff_serializer
from SpiffWorkflow.bpmn.serializer.migration.version_migration import MIGRATIONS

from engine.core.case import Case
from engine.core.events import parse_event
from engine.core.handling import CaseHandler
from engine.core.procedure import LoadedProcedure
from engine.core.workflow import SERIALIZER_VERSION, VERSION_KEY, CaseWorkflow, SnapshotVersionError
from engine.procedures.loader import load_procedure
from engine.store.cases import LiveCase, snapshot_row
from tests.unit.engine_harness import calendar

ROOT = Path(__file__).resolve().parents[2]
FIXTURE = ROOT / "tests" / "fixtures" / "snapshots" / "spiffworkflow-3.1.2.json"


@cache
def _fixture_text() -> str:
    return FIXTURE.read_text(encoding="utf-8")


def fixture() -> dict[str, Any]:
    """A fresh copy each time: a test that edits it must not change what the next one reads."""
    loaded: dict[str, Any] = json.loads(_fixture_text())
    return loaded


@cache
def procedure() -> LoadedProcedure:
    path = ROOT / fixture()["procedure"]
    return load_procedure(path.read_bytes(), path.name)


def from_scratch(events: list[dict[str, Any]]) -> CaseHandler:
    handler, _ = CaseHandler.receive(parse_event(events[0]), procedure(), 1, calendar())
    for obj in events[1:]:
        handler.apply(parse_event(obj))
    return handler


def restored(state: dict[str, Any]) -> CaseHandler:
    return CaseHandler(Case.from_dict(state["case"]), CaseWorkflow.restore(procedure(), state["workflow"]),
                       procedure(), calendar())


def outcome(handler: CaseHandler) -> dict[str, Any]:
    """Everything the case says (steps, dues, timeliness, nonconformities) but SpiffWorkflow's random task ids."""
    case = handler.case.to_dict()
    for step in case["steps"]:
        del step["task_id"]
    return {"case": case, "status": handler.case.status, "ready": handler.workflow.ready_steps(),
            "completed": handler.workflow.is_completed()}


def test_the_fixture_was_written_by_the_previous_release_in_its_own_format() -> None:
    written_by = fixture()["written_by"]
    assert written_by["spiffworkflow"].startswith("3.1.")
    assert fixture()["state"]["workflow"][VERSION_KEY] == written_by["serializer_version"] == "1.4"
    # the installed SpiffWorkflow has moved on and knows how to migrate from it
    assert SERIALIZER_VERSION != "1.4"
    assert "1.4" in MIGRATIONS


def test_a_snapshot_carries_the_serializers_real_version() -> None:
    real = BpmnWorkflowSerializer().VERSION
    assert real == spiff_serializer.VERSION
    assert real == SERIALIZER_VERSION
    live = LiveCase(from_scratch(fixture()["events_before"]), event_count=5, since_snapshot=0)
    row = snapshot_row(live, live.case.received_at)
    assert row["serializer_version"] == row["state"]["workflow"][VERSION_KEY] == real


# "1.5": the literal every snapshot was labelled with before the version was read from the serializer,
# whichever SpiffWorkflow wrote it (3.1.x writes the format of "1.4").
@pytest.mark.parametrize("label", ["1.4", "1.5"], ids=["real-version", "legacy-literal"])
def test_an_old_snapshot_restores_and_continues_to_the_same_result(label: str) -> None:
    old = fixture()
    old["state"]["workflow"][VERSION_KEY] = label
    as_read = copy.deepcopy(old["state"])
    handler = restored(old["state"])
    assert old["state"] == as_read, "restoring must not edit the snapshot it was given"

    half_way = from_scratch(old["events_before"])
    assert outcome(handler) == outcome(half_way)
    assert handler.workflow.ready_steps() == old["ready_steps"] == ["inspect_site", "consult_police"]
    assert handler.case.status == "suspended"

    for obj in old["events_after"]:
        handler.apply(parse_event(obj))
    scratch = from_scratch(old["events_before"] + old["events_after"])
    assert outcome(handler) == outcome(scratch)
    assert handler.case.status == "returned"
    assert handler.case.timeliness == "late"
    assert sorted((n.type, n.step or "") for n in handler.case.nonconformities.values()) == [
        ("case_late", ""), ("missing_apology", ""),
        ("step_late", "approve"), ("step_late", "assign"), ("step_late", "consult_police")]

    # and it is written back in the installed format
    assert handler.workflow.snapshot()[VERSION_KEY] == SERIALIZER_VERSION


@pytest.mark.parametrize("label", ["9.0", "0.9", ""])
def test_a_version_the_installed_serializer_cannot_read_is_refused_by_name(label: str) -> None:
    state = fixture()["state"]
    state["workflow"][VERSION_KEY] = label
    with pytest.raises(SnapshotVersionError) as raised:
        restored(state)
    message = str(raised.value)
    assert repr(label) in message
    assert SERIALIZER_VERSION in message and "1.4" in message  # what it can read


def test_a_snapshot_without_a_version_is_refused_by_name() -> None:
    state = fixture()["state"]
    del state["workflow"][VERSION_KEY]
    with pytest.raises(SnapshotVersionError, match="no SpiffWorkflow serializer version"):
        restored(state)


def test_restore_runs_the_serializers_own_migration_with_the_procedure_spec(monkeypatch: pytest.MonkeyPatch
                                                                            ) -> None:
    """What the next SpiffWorkflow upgrade looks like: an older version with an entry in MIGRATIONS.

    The entry stands for a format in which each task kept its data under another key; SpiffWorkflow's
    migrations read the process spec, which a case snapshot leaves out, so it is lent to them.
    """
    seen: list[str] = []

    def from_older(dct: dict[str, Any]) -> None:
        seen.append(dct["spec"]["name"])
        for task in dct["tasks"].values():
            task["data"] = task.pop("older_data")

    monkeypatch.setitem(MIGRATIONS, "1.4-older", from_older)
    state = fixture()["state"]
    for task in state["workflow"]["tasks"].values():
        task["older_data"] = task.pop("data")
    state["workflow"][VERSION_KEY] = "1.4-older"

    handler = restored(state)
    assert seen == [procedure().spec.name]
    assert outcome(handler) == outcome(from_scratch(fixture()["events_before"]))


def test_a_failing_migration_is_reported_as_an_unreadable_snapshot(monkeypatch: pytest.MonkeyPatch) -> None:
    def broken(dct: dict[str, Any]) -> None:
        raise KeyError("old_attribute")

    monkeypatch.setitem(MIGRATIONS, "1.4-broken", broken)
    state = fixture()["state"]
    state["workflow"][VERSION_KEY] = "1.4-broken"
    with pytest.raises(SnapshotVersionError, match=r"'1\.4-broken' could not be migrated to .*KeyError"):
        restored(state)
