"""A case snapshot stored by SpiffWorkflow 3.1.2 is read back from the database and the case goes on.

The unit tests (tests/unit/test_snapshot_versions.py) restore the fixture in the pure core; here it
sits in ``case_snapshot`` as an older installation left it, on SQLite and PostgreSQL, and the store
rebuilds the case from it plus the journal rows after it.
"""

from __future__ import annotations

import json
from typing import Any

from sqlmodel import Session, col, select

from engine.bootstrap import App
from engine.store.queries import Presenter, case_detail, nonconformity_list
from engine.store.tables import CaseSnapshot, JournalEntry
from tests.conftest import ROOT
from tests.unit.test_snapshot_versions import fixture

OLD = fixture()
CASE_ID = OLD["events_before"][0]["case_id"]
SCRATCH_ID = CASE_ID + "-S"


def renamed(obj: dict[str, Any]) -> dict[str, Any]:
    """The same event for the case run from scratch: its own case id and event ids."""
    return {**obj, "case_id": SCRATCH_ID, "event_id": "scratch-" + obj["event_id"]}


def seen(app: App, case_id: str) -> str:
    """What a user reads of the case and its nonconformities, with the ids made comparable."""
    presenter = Presenter(app.calendar)
    detail = case_detail(app.engine, case_id, presenter)
    ncs = sorted((n for n in nonconformity_list(app.engine, presenter) if n["case_id"] == case_id),
                 key=lambda n: json.dumps(n, sort_keys=True))
    text = json.dumps([detail, ncs], sort_keys=True, ensure_ascii=False)
    return text.replace(SCRATCH_ID, CASE_ID).replace("scratch-", "")


def test_a_snapshot_stored_by_the_previous_spiffworkflow_restores_and_continues(app: App) -> None:
    path = ROOT / OLD["procedure"]
    app.catalog.deploy(path.read_bytes(), path.name, app.clock.now())
    for obj in OLD["events_before"]:
        assert app.service.ingest_object(obj, "test").status == "applied"
    with Session(app.engine) as session:
        last = session.exec(select(JournalEntry).where(JournalEntry.case_id == CASE_ID)
                            .order_by(col(JournalEntry.seq).desc())).first()
        assert last is not None
        assert session.get(CaseSnapshot, CASE_ID) is None  # five events: none taken yet
        # as the older installation stored it: its state, its serializer's version, after the fifth event
        session.add(CaseSnapshot(case_id=CASE_ID, journal_seq=last.seq, serializer_version="1.4",
                                 state=OLD["state"], taken_at=app.clock.now()))
        session.commit()
    app.service.forget_cache()

    for obj in OLD["events_after"]:
        assert app.service.ingest_object(obj, "test").status == "applied"
    for obj in OLD["events_before"] + OLD["events_after"]:
        assert app.service.ingest_object(renamed(obj), "test").status == "applied"

    assert seen(app, CASE_ID) == seen(app, SCRATCH_ID)
    assert '"step_late"' in seen(app, CASE_ID)
    with Session(app.engine) as session:
        rewritten = session.get(CaseSnapshot, CASE_ID)  # the case closed: snapshotted again, in today's format
        assert rewritten is not None
        assert rewritten.serializer_version == rewritten.state["workflow"]["serializer_version"] != "1.4"
