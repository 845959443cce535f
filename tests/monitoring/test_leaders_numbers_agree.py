"""What leaders see is one definition: the collector's gauges, the reporting views and ``eiso report`` agree.

domain.md and engine/reports.py: late = still open past the due + finished after it; a case awaiting
a supplement has its clock stopped and no due: it is not late now.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime

import pytest
from prometheus_client import CollectorRegistry
from sqlalchemy import text

from engine.bootstrap import App
from engine.reports import Period, build_report
from monitoring import install
from tests.monitoring.support import NOW, make_app

ZONE = "+07:00"
AGENCY = "000.00.01.H10"


def _event(event_id: str, type_: str, when: str, case_id: str) -> str:
    return json.dumps({"event_id": event_id, "type": type_, "case_id": case_id, "agency": AGENCY,
                       "procedure": "1.001193", "occurred_at": f"{when}{ZONE}"})  # a limit of 1 working day


@pytest.fixture
def app(database_url: str) -> Iterator[App]:
    app = make_app(database_url)
    lines = [
        _event("a1", "case.received", "2026-03-02T08:00:00", "OPEN-LATE"),
        _event("b1", "case.received", "2026-03-02T08:00:00", "AWAITING"),
        _event("c1", "case.received", "2026-03-02T08:00:00", "EARLY"),
        _event("c2", "case.result_ready", "2026-03-02T10:00:00", "EARLY"),
        _event("d1", "case.received", "2026-03-02T08:00:00", "LATE"),
        _event("d2", "case.result_ready", "2026-03-10T10:00:00", "LATE"),
        _event("e1", "case.received", "2026-02-02T08:00:00", "FEB-ON-TIME"),
        _event("e2", "case.result_ready", "2026-02-02T10:00:00", "FEB-ON-TIME"),
        _event("f1", "case.received", "2026-02-02T08:00:00", "CARRIED"),  # open past its due at February's end
        _event("f2", "case.result_ready", "2026-03-05T10:00:00", "CARRIED"),
    ]
    for line in lines[:2]:
        assert app.service.ingest_line(line, "t").status == "applied"
    app.service.watch(datetime.fromisoformat("2026-03-20T09:00:00+07:00"))  # flags both overdue
    # The supplement request stops AWAITING's clock: no due any more, though the watcher flagged it.
    for line in [_event("b2", "case.supplement_requested", "2026-03-23T08:00:00", "AWAITING"), *lines[2:]]:
        assert app.service.ingest_line(line, "t").status == "applied"
    try:
        yield app
    finally:
        app.engine.dispose()


def _report(app: App, start: datetime, end: datetime) -> dict[str, int]:
    totals = build_report(app.engine, app.catalog, app.calendar, Period(start, end), objective=0.95)["totals"]
    return {k: totals[k] for k in ("resolved", "early", "on_time", "late", "open_overdue")}


def test_gauges_views_and_report_count_the_same_cases(app: App) -> None:
    registry = CollectorRegistry()
    install(app, registry, database=True)
    month = _report(app, NOW.replace(day=1, hour=0, minute=0), NOW)
    assert month == {"resolved": 3, "early": 1, "on_time": 0, "late": 2, "open_overdue": 1}
    gauge = {"agency": AGENCY}
    assert registry.get_sample_value("eiso_cases_overdue", gauge | {"procedure": "1.001193"}) == 1  # not AWAITING
    assert registry.get_sample_value("eiso_cases_judged_month", gauge) == 4
    assert registry.get_sample_value("eiso_cases_in_time_month", gauge) == 1
    assert registry.get_sample_value("eiso_on_time_ratio", gauge) == 0.25
    steps_overdue = sum(s.value for f in registry.collect() if f.name == "eiso_steps_overdue" for s in f.samples)
    if app.engine.dialect.name != "postgresql":
        return
    now = datetime.now(UTC)
    with app.engine.connect() as conn:
        late_now = [r[0] for r in conn.execute(text("SELECT case_id FROM v_late_cases"))]
        overdue_steps = conn.execute(text("SELECT count(*) FROM v_overdue_steps")).scalar_one()
        monthly = {r.month: r for r in conn.execute(text(
            "SELECT month, sum(resolved) AS resolved, sum(early) AS early, sum(on_time) AS on_time, "
            "sum(late) AS late, sum(open_overdue) AS open_overdue, sum(judged) AS judged "
            "FROM v_monthly_timeliness GROUP BY month"))}
    assert late_now == ["OPEN-LATE"]
    assert _report(app, datetime(2026, 1, 1, tzinfo=UTC), now)["open_overdue"] == len(late_now)
    assert overdue_steps == steps_overdue > 0
    # Months are instants: the first of the month at midnight in the calendar's zone (Grafana reads them right).
    february, march = (datetime.fromisoformat(f"2026-0{m}-01T00:00:00+07:00") for m in (2, 3))
    assert {february, march} <= set(monthly)
    for start, end in ((february, march), (march, datetime.fromisoformat("2026-04-01T00:00:00+07:00"))):
        expected = _report(app, start, end)
        row = monthly[start]
        assert {k: int(getattr(row, k)) for k in expected} == expected, start
        assert int(row.judged) == expected["resolved"] + expected["open_overdue"]
    assert int(monthly[february].open_overdue) == 1  # CARRIED, open past its due on 1 March
