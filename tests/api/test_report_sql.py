"""The reports counted in SQL give the figures of the rule counted in Python, on SQLite and PostgreSQL.

Attainment (``ontime.sums``) against ``ontime.counts`` per case; the bottleneck report and the step
statistics (the working time kept on each step row, median and 90th percentile in SQL: ``Ranked``)
against ``worked`` and ``spread`` per completed step; and the same again once some rows have no kept
working time (steps completed before migration 0015), which are counted in Python.
"""

from __future__ import annotations

import random
import statistics
from collections import Counter, defaultdict
from collections.abc import Iterator
from datetime import date, datetime
from typing import Any

import pytest
from sqlalchemy import Column, Integer, MetaData, String, Table, create_engine, insert, select, true, update
from sqlmodel import Session

from engine.api.deps import Principal
from engine.api.reporting.attainment import counted as attainment  # counted now, never a kept answer
from engine.api.reporting.bottlenecks import counted as bottlenecks
from engine.api.reporting.common import ReportQuery
from engine.api.roles import Role
from engine.api.scope import AgencyScope
from engine.bootstrap import App
from engine.core.states import StepStatus, Timeliness
from engine.reporting import ontime
from engine.reporting.period import Period
from engine.reporting.steps import (
    Parts,
    Ranked,
    StepTables,
    hours,
    ordered_spread,
    p90,
    spread,
    step_statistics,
    worked,
)
from engine.simulation import Deviation, Simulator
from engine.store.cases import CASES, STEPS
from tests.conftest import BUNDLED

ADMIN = Principal("admin", Role.admin, AgencyScope(everything=True))


@pytest.fixture
def month(app: App) -> App:
    """A simulated March 2026 (80 cases, deviations included) known up to the 25th, watched on 1 April."""
    for path in BUNDLED:
        app.catalog.deploy(path.read_bytes(), path.name, datetime.fromisoformat("2026-02-01T00:00:00+07:00"))
    procedures = [app.catalog.get(v.code, v.version) for v in app.catalog.versions()]
    deviation = Deviation(supplement=0.2, suspension=0.2, skip_step=0.3, withdrawn=0.05, rejected=0.05)
    cut = datetime.fromisoformat("2026-03-25T00:00:00+07:00")  # what happened later is not known yet
    for event in Simulator(procedures, app.calendar, seed=11, deviation=deviation).month(date(2026, 3, 1), 80):
        if datetime.fromisoformat(event["occurred_at"]) < cut:
            app.service.ingest_object(event, "sim")
    app.service.watch(datetime.fromisoformat("2026-04-01T00:00:00+07:00"))
    return app


def period(app: App, start: str, end: str) -> Period:
    zone = app.calendar.zone
    return Period(datetime.fromisoformat(start).replace(tzinfo=zone), datetime.fromisoformat(end).replace(tzinfo=zone))


def one_agency(app: App) -> Principal:
    with app.engine.connect() as conn:
        agencies = sorted({a for (a,) in conn.execute(select(CASES.c.agency))})
    assert len(agencies) > 1
    return Principal("leader", Role.leader, AgencyScope.of([agencies[0]]))


def forget_some_working_times(app: App) -> None:
    """Every other completed step loses its kept working time, as a step completed before migration 0015."""
    with app.engine.begin() as conn:
        keys = conn.execute(select(STEPS.c.case_id, STEPS.c.seq).where(STEPS.c.worked_seconds.is_not(None))
                            .order_by(STEPS.c.case_id, STEPS.c.seq)).all()
        for case_id, seq in keys[::2]:
            conn.execute(update(STEPS).where(STEPS.c.case_id == case_id, STEPS.c.seq == seq)
                         .values(worked_seconds=None))


# -- the kept working time ------------------------------------------------------------------------
def test_each_completed_step_keeps_its_working_time(month: App) -> None:
    with month.engine.connect() as conn:
        rows = conn.execute(select(STEPS.c.completed_at, STEPS.c.activated_at, STEPS.c.worked_seconds)).all()
    completed = [r for r in rows if r.completed_at is not None]
    assert len(completed) > 100
    assert all(r.worked_seconds == worked(month.calendar, r.activated_at, r.completed_at) for r in completed)
    assert all(r.worked_seconds is None for r in rows if r.completed_at is None)


# -- median and 90th percentile in SQL ------------------------------------------------------------
def test_the_90th_percentile_index_is_nine_tenths_in_integers() -> None:
    for n in range(1, 20_001):
        assert min(n - 1, int(0.9 * n)) == 9 * n // 10


@pytest.fixture
def probe(database_url: str) -> Iterator[tuple[Table, Any]]:
    engine = create_engine(database_url)
    metadata = MetaData()
    table = Table("ranked_probe", metadata, Column("id", Integer, primary_key=True), Column("grp", String(8)),
                  Column("seconds", Integer))
    metadata.create_all(engine)
    try:
        yield table, engine
    finally:
        engine.dispose()


def test_sql_median_and_90th_percentile_are_the_python_ones(probe: tuple[Table, Any]) -> None:
    table, engine = probe
    rng = random.Random(5)
    groups = {f"g{n}": [rng.choice([0, 1800, 3600, rng.randrange(100_000)]) for _ in range(n)]
              for n in [*range(1, 32), 40, 50, 100, 1000]}
    groups["ties"] = [7200] * 10 + [3600] * 3
    rows = [{"grp": g, "seconds": s} for g, values in groups.items() for s in values]
    with engine.begin() as conn:
        conn.execute(insert(table), [{"id": i, **r} for i, r in enumerate(rows)])
        ranked = Ranked(table.c.seconds, [table.c.grp])
        sub = select(table.c.grp, table.c.seconds, ranked.rank, ranked.size).subquery()
        found = {}
        for grp, *pieces in conn.execute(select(sub.c.grp, *Ranked.aggregates(sub.c, sub.c.seconds))
                                         .group_by(sub.c.grp)):
            parts = Parts()
            parts.add(*pieces)
            found[grp] = parts.spread()
        if engine.dialect.name == "postgresql":  # its ordered-set aggregates give the same
            ordered = {grp: (median, high) for grp, median, high in conn.execute(
                select(table.c.grp, *ordered_spread(table.c.seconds)).group_by(table.c.grp))}
            assert ordered == found
    assert found == {g: (statistics.median(sorted(v)), p90(sorted(v))) for g, v in groups.items()}
    assert found["g4"] == spread(sorted(groups["g4"]))
    assert found["ties"] == (7200, 7200)


# -- attainment ---------------------------------------------------------------------------------
def python_attainment(app: App, user: Principal, span: Period, objective: float) -> dict[str, Any]:
    """The rule per case in Python (``ontime.counts``), grouped by month, agency and procedure."""
    with app.engine.connect() as conn:
        cases = [c for c in conn.execute(select(CASES)).all() if user.scope.covers(c.agency)]
    rows, totals = [], []
    for month_name, start, end in span.months(app.calendar.zone):
        groups: dict[tuple[str, str], Counter[str]] = defaultdict(Counter)
        for case in cases:
            counted = +Counter(ontime.counts(case, start, end))
            if counted:
                groups[(case.agency, case.procedure)].update(counted)
        for (agency, procedure), counts in sorted(groups.items()):
            row = {name: counts[name] for name in ontime.COUNTS}
            rows.append({"month": month_name, "agency": agency, "procedure": procedure, **row,
                         **ontime.summary(row, objective)})
        total = sum(groups.values(), Counter())
        row = {name: total[name] for name in ontime.COUNTS}
        totals.append({"month": month_name, "agency": "*", "procedure": "*", **row, **ontime.summary(row, objective)})
    return {"rows": rows, "totals": totals}


@pytest.mark.parametrize("span", [("2026-03-01", "2026-04-01"), ("2026-02-20", "2026-04-10"),
                                  ("2026-03-10", "2026-03-17")])
def test_attainment_in_sql_is_the_rule_in_python(month: App, span: tuple[str, str]) -> None:
    bounds = period(month, *span)
    for user in (ADMIN, one_agency(month)):
        with Session(month.engine) as session:
            report = attainment(session, user, ReportQuery(), bounds, month.calendar.zone, 0.9)
        expected = python_attainment(month, user, bounds, 0.9)
        assert [r.model_dump() for r in report.rows] == expected["rows"]
        assert [r.model_dump() for r in report.totals] == expected["totals"]
        if user is ADMIN and span == ("2026-03-01", "2026-04-01"):  # the month has each kind of figure
            assert all(sum(getattr(r, name) for r in report.rows) > 0 for name in ("received", "resolved",
                                                                                    "open_overdue"))


# -- bottlenecks ----------------------------------------------------------------------------------
def python_bottlenecks(app: App, user: Principal, span: Period) -> list[dict[str, Any]]:
    """Each completed step's working time by the calendar, in Python; median and ``p90`` per procedure and step."""
    with app.engine.connect() as conn:
        rows = conn.execute(select(STEPS, CASES.c.procedure_version, CASES.c.procedure_scope)
                            .join(CASES, CASES.c.case_id == STEPS.c.case_id)
                            .where(STEPS.c.status == StepStatus.COMPLETED, STEPS.c.completed_at >= span.start,
                                   STEPS.c.completed_at < span.end)).all()
    times: dict[tuple[str, str], list[int]] = defaultdict(list)
    over: Counter[tuple[str, str]] = Counter()
    late: Counter[tuple[str, str]] = Counter()
    allowance: dict[tuple[str, str], int | None] = {}
    for row in rows:
        if not user.scope.covers(row.agency):
            continue
        key = (row.procedure, row.step)
        seconds = worked(app.calendar, row.activated_at, row.completed_at)
        times[key].append(seconds)
        version = app.catalog.get(row.procedure, row.procedure_version, row.procedure_scope)
        found = version.definition.steps.get(row.step)
        allowed = None if found is None else found.allowance_seconds
        over[key] += allowed is not None and seconds > allowed
        late[key] += row.timeliness == Timeliness.LATE
        allowance[key] = allowed  # one version per procedure here
    out = []
    for key, values in times.items():
        median, high = spread(sorted(values))
        allowed = allowance[key]
        out.append({"procedure": key[0], "step": key[1], "completed": len(values), "median_hours": hours(median),
                    "p90_hours": hours(high), "median_ratio": round(median / allowed, 3) if allowed else None,
                    "p90_ratio": round(high / allowed, 3) if allowed else None, "over_allowance": over[key],
                    "late_steps": late[key]})
    return sorted(out, key=lambda r: (r["procedure"], r["step"]))


def sql_bottlenecks(app: App, user: Principal, span: Period) -> list[dict[str, Any]]:
    with Session(app.engine) as session:
        report = bottlenecks(session, user, ReportQuery(), span, app.calendar, app.catalog)
    fields = ("procedure", "step", "completed", "median_hours", "p90_hours", "median_ratio", "p90_ratio",
              "over_allowance", "late_steps")
    return sorted(({f: getattr(r, f) for f in fields} for r in report.steps), key=lambda r: (r["procedure"], r["step"]))


def test_bottlenecks_in_sql_are_the_rule_in_python(month: App) -> None:
    span = period(month, "2026-03-01", "2026-04-01")
    leader = one_agency(month)
    for user in (ADMIN, leader):
        expected = python_bottlenecks(month, user, span)
        assert len(expected) > 3 and any(r["over_allowance"] for r in expected)
        assert sql_bottlenecks(month, user, span) == expected
    # A procedure with a second version (for one agency): each step row's version is read from its case.
    month.catalog.deploy(BUNDLED[0].read_bytes(), BUNDLED[0].name, datetime.fromisoformat("2026-02-02T00:00:00+07:00"),
                         agencies=["000.00.99.H10"])
    for user in (ADMIN, leader):
        assert sql_bottlenecks(month, user, span) == python_bottlenecks(month, user, span)
    forget_some_working_times(month)
    for user in (ADMIN, leader):
        assert sql_bottlenecks(month, user, span) == python_bottlenecks(month, user, span)


# -- step statistics ------------------------------------------------------------------------------
def python_step_figures(app: App, code: str, span: Period) -> dict[str, tuple[int, int, float | None, float | None]]:
    with app.engine.connect() as conn:
        rows = conn.execute(select(STEPS.c.step, STEPS.c.activated_at, STEPS.c.completed_at, STEPS.c.timeliness)
                            .join(CASES, CASES.c.case_id == STEPS.c.case_id)
                            .where(CASES.c.procedure == code, CASES.c.procedure_version == 1,
                                   STEPS.c.status == StepStatus.COMPLETED, STEPS.c.completed_at >= span.start,
                                   STEPS.c.completed_at < span.end)).all()
    times: dict[str, list[int]] = defaultdict(list)
    late: Counter[str] = Counter()
    for row in rows:
        times[row.step].append(worked(app.calendar, row.activated_at, row.completed_at))
        late[row.step] += row.timeliness == Timeliness.LATE
    out: dict[str, tuple[int, int, float | None, float | None]] = {}
    for step, values in times.items():
        median, high = spread(sorted(values))
        out[step] = (len(values), late[step], hours(median), hours(high))
    return out


def sql_step_figures(app: App, code: str, span: Period) -> dict[str, tuple[int, int, float | None, float | None]]:
    with Session(app.engine) as session:
        found = step_statistics(session, StepTables(steps=STEPS, cases=CASES), true(), code, 1, "*", span,
                                app.calendar, app.catalog, datetime.fromisoformat("2026-04-01T00:00:00+07:00"))
    return {s.step: (s.completed, s.completed_late, s.median_hours, s.p90_hours) for s in found if s.completed}


def test_step_statistics_in_sql_are_the_rule_in_python(month: App) -> None:
    span = period(month, "2026-03-01", "2026-04-01")
    codes = sorted({v.code for v in month.catalog.versions()})
    expected = {code: python_step_figures(month, code, span) for code in codes}
    assert sum(len(e) for e in expected.values()) > 5
    assert {code: sql_step_figures(month, code, span) for code in codes} == expected
    forget_some_working_times(month)
    assert {code: sql_step_figures(month, code, span) for code in codes} == expected
