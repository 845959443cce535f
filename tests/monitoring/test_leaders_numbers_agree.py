"""What leaders see is one definition: the collector's gauges, the reporting views and ``eiso report`` agree.

domain.md and engine/reports.py: late = still open past the due + finished after it; a case awaiting
a supplement has its clock stopped and no due: it is not late now.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from prometheus_client import CollectorRegistry
from sqlalchemy import text

from engine.bootstrap import App
from engine.core.clock import ManualClock
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


def _rates(pairs: list[tuple[str, int, int]]) -> dict[str, tuple[int, int]]:
    """Per agency: (in time, judged), summed over procedures; agencies with nothing judged left out."""
    out: dict[str, tuple[int, int]] = {}
    for agency, in_time, judged in pairs:
        before = out.get(agency, (0, 0))
        out[agency] = (before[0] + in_time, before[1] + judged)
    return {agency: counts for agency, counts in out.items() if counts[1]}


def _cli_month(url: str, start: datetime, end: datetime) -> dict[str, tuple[int, int]]:
    """``eiso report --format json`` for one month, run as a user runs it (settings from the environment)."""
    from typer.testing import CliRunner

    from engine.cli.app import app as cli
    from engine.cli.context import get_app

    get_app.cache_clear()  # the command builds its own application, from EISO_DATABASE_URL
    try:
        result = CliRunner().invoke(cli, ["report", "--from", start.isoformat(), "--to", end.isoformat(),
                                          "--format", "json"], env={"EISO_DATABASE_URL": url})
    finally:
        get_app.cache_clear()
    assert result.exit_code == 0, result.output
    groups = json.loads(result.stdout)["groups"]
    return _rates([(g["agency"], g["early"] + g["on_time"], g["resolved"] + g["open_overdue"]) for g in groups])


def test_a_simulated_month_gives_one_rate_in_the_cli_the_api_the_gauge_and_the_view(
        postgres_database: str, tmp_path: Path) -> None:
    """Issue 11: the four on-time computations are one. Every agency, every month from the simulated one to the
    last complete month: ``eiso report``, ``GET /reports/attainment``, the collector's gauges and the view
    ``v_monthly_timeliness`` count the same cases in time and judged (hence the same rate)."""
    from fastapi.testclient import TestClient

    from engine.api import create_app
    from engine.api.roles import Role
    from engine.api.users import create_user
    from engine.reporting.period import Period
    from tests.monitoring.support import MONTH, simulate

    app = make_app(postgres_database)
    try:
        outcomes = [app.service.ingest_line(line, "t").status for line in simulate(tmp_path / "month.jsonl", 200)]
        assert outcomes.count("applied") > 1000  # the simulation repeats some events on purpose (duplicates)
        zone = app.calendar.zone
        first = datetime.fromisoformat(f"{MONTH}-01T00:00:00").replace(tzinfo=zone)
        this_month = datetime.now(zone).replace(day=1, hour=0, minute=0, second=0, microsecond=0)
        months = Period(first, this_month).months(zone)  # complete months only: the view ends the current at now()
        assert len(months) >= 2
        token = create_user(app.engine, "leader", Role.admin, [], app.clock.now())
        api = TestClient(create_app(app)).get("/reports/attainment", headers={"Authorization": f"Bearer {token}"},
                                              params={"from": first.date().isoformat(),
                                                      "to": this_month.date().isoformat()})
        assert api.status_code == 200, api.text
        with app.engine.connect() as conn:
            view = list(conn.execute(text("SELECT month, agency, early + on_time AS in_time, judged "
                                          "FROM v_monthly_timeliness")))
        clock = app.clock
        assert isinstance(clock, ManualClock)
        registry = CollectorRegistry()
        install(app, registry, database=True)
        seen = 0
        for name, start, end in months:
            cli = _cli_month(postgres_database, start, end)
            from_api = _rates([(r["agency"], r["early"] + r["on_time"], r["resolved"] + r["open_overdue"])
                               for r in api.json()["rows"] if r["month"] == name])
            from_view = _rates([(r.agency, int(r.in_time), int(r.judged)) for r in view if r.month == start])
            clock.set(end - timedelta(microseconds=1))  # the gauges count the month so far: all of it
            from_gauge = {}
            for agency in {*cli, *from_api, *from_view}:
                judged = registry.get_sample_value("eiso_cases_judged_month", {"agency": agency}) or 0
                in_time = registry.get_sample_value("eiso_cases_in_time_month", {"agency": agency}) or 0
                if judged:
                    from_gauge[agency] = (int(in_time), int(judged))
                    assert registry.get_sample_value("eiso_on_time_ratio", {"agency": agency}) == pytest.approx(
                        in_time / judged)
            assert cli == from_api == from_gauge == from_view, name
            seen += sum(judged for _, judged in cli.values())
        assert seen > 200  # every case judged in its month, and the carried-over ones again
    finally:
        app.engine.dispose()
