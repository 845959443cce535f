"""The on-time rule is one definition: its Python reading and its SQL reading agree on every case shape."""

from __future__ import annotations

import itertools
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from types import SimpleNamespace

import pytest
from sqlalchemy import Column, Integer, MetaData, String, Table, create_engine, insert, select

from engine.reporting import ontime
from engine.reporting.formats import Language
from engine.reporting.labels import LABELS
from engine.store.tables import UTCDateTime

T = [datetime(2026, 3, 1, tzinfo=UTC) + timedelta(days=7 * i) for i in range(6)]
START, END = T[1], T[4]  # instants before, at, inside, at the end of and after the period
INSTANTS = [None, T[0], T[1], T[2], T[4], T[5]]
TERMS = {**ontime.COUNTS, "in_time": ontime.IN_TIME, "judged": ontime.JUDGED}


def _shapes() -> list[dict[str, object]]:
    rows = []
    for number, (received, due, resolved, closed, timeliness) in enumerate(itertools.product(
            INSTANTS[1:], INSTANTS, INSTANTS, INSTANTS, (None, "early", "on_time", "late"))):
        rows.append({"id": number, "received_at": received, "due_at": due, "resolved_at": resolved,
                     "closed_at": closed, "timeliness": timeliness})
    return rows


@pytest.fixture
def probe(database_url: str) -> Iterator[tuple[Table, object]]:
    engine = create_engine(database_url)
    metadata = MetaData()
    table = Table("ontime_probe", metadata, Column("id", Integer, primary_key=True),
                  *(Column(name, UTCDateTime()) for name in ("received_at", "due_at", "resolved_at", "closed_at")),
                  Column("timeliness", String(16)))
    metadata.create_all(engine)
    with engine.begin() as conn:
        conn.execute(insert(table), _shapes())
    try:
        yield table, engine
    finally:
        engine.dispose()


def test_python_and_sql_readings_agree_on_every_case_shape(probe: tuple[Table, object]) -> None:
    table, engine = probe
    shapes = _shapes()
    for name, term in TERMS.items():
        expected = {s["id"] for s in shapes if ontime.holds(term, SimpleNamespace(**s), START, END)}
        with engine.connect() as conn:  # type: ignore[attr-defined]
            found = set(conn.execute(select(table.c.id).where(ontime.sql(term, table.c, START, END))).scalars())
        assert found == expected, name
        assert expected, name  # every term holds for some shape: the grid exercises it


def _case(**instants: object) -> SimpleNamespace:
    base = {"received_at": T[0], "due_at": None, "resolved_at": None, "closed_at": None, "timeliness": None}
    return SimpleNamespace(**(base | instants))


@pytest.mark.parametrize(("case", "expected"), [
    (_case(due_at=T[2]), {"open_overdue": 1}),  # carried over, open past its due at the end
    (_case(due_at=None), {}),  # awaiting a supplement: clock stopped, no due, not late
    (_case(due_at=T[2], resolved_at=T[2], timeliness="late"), {"resolved": 1, "late": 1}),
    (_case(due_at=T[5], resolved_at=T[2]), {"resolved": 1, "on_time": 1}),  # no timeliness recorded: on time
    (_case(due_at=T[2], closed_at=T[2]), {}),  # withdrawn before the end: not judged
    (_case(due_at=T[2], resolved_at=T[5], timeliness="late"), {"open_overdue": 1}),  # late later: open at the end
    (_case(received_at=T[2], due_at=T[5]), {"received": 1}),
])
def test_the_definition_of_domain_md(case: SimpleNamespace, expected: dict[str, int]) -> None:
    counts = ontime.counts(case, START, END)
    assert {k: v for k, v in counts.items() if v} == expected


@pytest.mark.parametrize(("in_time", "judged", "objective", "shown"), [
    (9477, 10000, 0.95, "94.8"),  # rounded half up to one decimal
    (9496, 10000, 0.95, "94.9"),  # 94.96 % would read 95.0 %: never reads as meeting 95 %
    (9496, 10000, None, "95.0"),
    (9500, 10000, 0.95, "95.0"),
    (2, 3, 0.95, "66.7"),
])
def test_a_rate_reads_to_one_decimal_and_never_as_meeting_an_objective_it_misses(
        in_time: int, judged: int, objective: float | None, shown: str) -> None:
    row = {"early": in_time, "on_time": 0, "resolved": judged, "open_overdue": 0}
    assert ontime.shown_percent(row, objective) == Decimal(shown)
    assert ontime.summary(row, 0.95)["meets_objective"] is (in_time / judged >= 0.95)


def test_vietnamese_writes_a_decimal_comma_english_a_point() -> None:
    assert LABELS[Language.vi].percent(Decimal("94.8")) == "94,8%"
    assert LABELS[Language.en].percent(Decimal("94.8")) == "94.8%"
    assert LABELS[Language.vi].yes_no(True) == "có" and LABELS[Language.vi].yes_no(False) == "không"
