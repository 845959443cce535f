"""A log written by a process-mining tool (pm4py's XES exporter; pm4py is test-only) needs no column mapping."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo

from engine.application.history.mapping import ActivityMap, ColumnMapping
from engine.application.history.replay import ReplayOptions, replay_trace
from engine.application.history.xes import read_xes

HCM = ZoneInfo("Asia/Ho_Chi_Minh")


def test_pm4py_written_xes_replays_with_the_default_mapping(tmp_path: Path) -> None:
    import pandas as pd
    import pm4py  # the test extra has it: never skipped

    frame = pd.DataFrame({
        "case:concept:name": ["K-1", "K-1", "K-1", "K-2"],
        "concept:name": ["Tiếp nhận", "Thẩm định", "Thẩm định", "Tiếp nhận"],
        "lifecycle:transition": ["complete", "start", "complete", "complete"],
        "time:timestamp": pd.to_datetime(["2026-03-02T01:00:00Z", "2026-03-03T01:00:00Z", "2026-03-05T03:00:00Z",
                                          "2026-03-02T02:00:00Z"], utc=True),
        "case:agency": ["000.00.12.H10"] * 4,
        "case:procedure": ["1.001806"] * 4,
    })
    path = tmp_path / "exported.xes"
    pm4py.write_xes(frame, str(path))
    traces = {t.case_id: t for t in read_xes(path, ColumnMapping().case_id)}
    assert set(traces) == {"K-1", "K-2"}
    options = ReplayOptions(ColumnMapping(), ActivityMap({"Tiếp nhận": "receive_dossier", "Thẩm định": "appraise"}),
                            HCM, "ef" * 32)
    case = replay_trace(traces["K-1"], options)
    assert (case.agency, case.procedure) == ("000.00.12.H10", "1.001806")
    assert [(e.type, e.step, e.occurred_at.astimezone(HCM)) for e in case.events] == [
        ("case.received", None, datetime(2026, 3, 2, 8, 0, tzinfo=HCM)),
        ("step.completed", "receive_dossier", datetime(2026, 3, 2, 8, 0, tzinfo=HCM)),
        ("step.started", "appraise", datetime(2026, 3, 3, 8, 0, tzinfo=HCM)),
        ("step.completed", "appraise", datetime(2026, 3, 5, 10, 0, tzinfo=HCM)),
    ]
