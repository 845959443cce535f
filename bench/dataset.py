"""The million-case data set: real cases, cloned with PostgreSQL's COPY.

Run after ``eval "$(scripts/services up)"``:

    python3 bench/dataset.py --cases 1000000 --keep

A few hundred template cases are received and worked through the real engine (``CaseService``,
the bundled procedures, events from ``engine.simulation``) as of now, and the watcher raises what
is overdue at that instant. Their rows (case, steps, journal, snapshot, nonconformities) are read
back and cloned with new dossier codes, new agencies (one of many communes for the communes'
procedures) and a time shift of up to ``--spread`` seconds back: every instant moves, in the
columns and inside the journal payloads and snapshots, so a clone is exactly the case the engine
would have made of the shifted events. That holds because the benchmark calendar works round the
clock (no holidays, no cut-off): working time is then plain time and a shift preserves every
allowance. Events after now are left out, so most cases are open; a share is already late.

``load(url, cases)`` returns a ``DatasetInfo``; ``verify`` applies each sampled template's next
event and a later watcher pass to a clone and to its template and compares what happened.
A benchmark, not a test: no threshold.
"""

from __future__ import annotations

import argparse
import json
import multiprocessing
import random
import re
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import psycopg
from sqlalchemy import Table, create_engine, select

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench.environment import drop_database, fresh_database, machine  # noqa: E402
from engine.bootstrap import App, build  # noqa: E402
from engine.core.clock import ManualClock  # noqa: E402
from engine.core.events import parse_event  # noqa: E402
from engine.settings import CalendarSettings, DatabaseSettings, EngineSettings, Settings  # noqa: E402
from engine.simulation import Simulator  # noqa: E402
from engine.store.cases import CASES, JOURNAL, NCS, SNAPSHOTS, STEPS  # noqa: E402

# Working time round the clock: a shift in plain time is a shift in working time.
CALENDAR = CalendarSettings(hours="00:00-23:59:59", weekdays="mon-sun", cutoff="none", overrides=None,
                            public_holidays=False)
CALENDAR_ENV = {"EISO_CALENDAR_HOURS": "00:00-23:59:59", "EISO_CALENDAR_WEEKDAYS": "mon-sun",
                "EISO_CALENDAR_CUTOFF": "none", "EISO_CALENDAR_PUBLIC_HOLIDAYS": "false"}
DEPARTMENTS = ("000.00.12.H10", "000.00.13.H10")
FINISHED = {"case.result_ready", "case.returned", "case.withdrawn", "case.rejected", "case.stopped"}
TABLES: tuple[Table, ...] = (CASES, STEPS, JOURNAL, SNAPSHOTS, NCS)
SEQ_COLUMNS = {("journal", "seq"), ("cases", "journal_seq"), ("case_snapshot", "journal_seq")}
_ISO = r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(?:\.\d{1,6})?(?:[+-]\d{2}:\d{2}|Z)"
LITERAL, CASE, AGENCY, TIME = range(4)
Piece = tuple[str, int, Any]


def settings(url: str) -> Settings:
    """The benchmarks' settings: ``url``, the round-the-clock calendar, no outbox."""
    return Settings(database=DatabaseSettings(url=url), calendar=CALENDAR, engine=EngineSettings(outbox=False))


def communes(count: int) -> list[str]:
    """``count`` distinct unit codes under department 12 (``NNN.NN.12.H10``: the agency code format)."""
    return [f"{n // 60:03d}.{31 + n % 60:02d}.12.H10" for n in range(count)]


@dataclass
class Template:
    """One engine-made case as COPY text with holes: {0} the dossier code, {1} the agency, then its
    instants, then its journal sequence numbers."""

    case_id: str
    agency: str
    seqs: list[int]
    instants: list[datetime]
    blocks: dict[str, str]
    rows: dict[str, int]
    future: list[dict[str, Any]]

    def render(self, case_id: str, agency: str, shift: timedelta, seq_base: int) -> dict[str, str]:
        values: list[Any] = [case_id, agency]
        values.extend((instant + shift).isoformat() for instant in self.instants)
        values.extend(range(seq_base, seq_base + len(self.seqs)))
        return {name: block.format(*values) for name, block in self.blocks.items()}


@dataclass
class Clone:
    case_id: str
    template: str
    shift_seconds: int


@dataclass
class DatasetInfo:
    url: str
    cases: int
    templates: int
    as_of: datetime
    agencies: list[str]
    rows: dict[str, int]
    engine_seconds: float
    copy_seconds: float
    index_seconds: float
    open_cases: int = 0
    late_cases: int = 0
    samples: list[Clone] = field(default_factory=list)
    futures: dict[str, list[dict[str, Any]]] = field(default_factory=dict)

    @property
    def total_rows(self) -> int:
        return sum(self.rows.values())

    @property
    def seconds(self) -> float:
        return self.engine_seconds + self.copy_seconds + self.index_seconds

    @property
    def rows_per_second(self) -> float:
        return self.total_rows / max(self.copy_seconds + self.index_seconds, 1e-9)


def psycopg_url(url: str) -> str:
    return url.replace("postgresql+psycopg://", "postgresql://", 1)


# -- the templates: real cases through the real engine ------------------------------------------
def make_templates(app: App, count: int, seed: int, as_of: datetime, window_days: int, closed_share: float
                   ) -> dict[str, list[dict[str, Any]]]:
    """Receive and work ``count`` simulated cases up to ``as_of``; their events after it, by case."""
    for path in sorted((ROOT / "bpmn").glob("*.bpmn")):
        app.catalog.deploy(path.read_bytes(), path.name, as_of - timedelta(days=120))
    procedures = [app.catalog.get(v.code, v.version) for v in app.catalog.versions()]
    simulator = Simulator(procedures, app.calendar, seed)
    today = app.calendar.local(as_of).date()
    days = [today - timedelta(days=n) for n in range(window_days)]
    past: list[dict[str, Any]] = []
    futures: dict[str, list[dict[str, Any]]] = {}
    closed_quota = int(count * closed_share)
    while len(futures) < count:
        events = simulator.case_events(days)
        before = [e for e in events if datetime.fromisoformat(e["occurred_at"]) <= as_of]
        if not before or before[0]["type"] != "case.received":
            continue
        if {e["type"] for e in before} & FINISHED:  # its clock has stopped: resolved, returned, withdrawn...
            if closed_quota == 0:
                continue
            closed_quota -= 1
        past.extend(before)
        futures[before[0]["case_id"]] = [e for e in events if datetime.fromisoformat(e["occurred_at"]) > as_of]
    past.sort(key=lambda e: datetime.fromisoformat(e["occurred_at"]))
    for start in range(0, len(past), 500):
        app.service.ingest_batch([parse_event(e) for e in past[start:start + 500]])
    app.service.watch(as_of)
    return futures


def _field(value: Any) -> str:
    if value is None:
        return "\\N"
    if isinstance(value, bool):
        return "t" if value else "f"
    if isinstance(value, datetime):
        text_value = value.isoformat()
    elif isinstance(value, dict | list):
        text_value = json.dumps(value, ensure_ascii=False)
    else:
        text_value = str(value)
    return (text_value.replace("\\", "\\\\").replace("\t", "\\t").replace("\n", "\\n").replace("\r", "\\r"))


def _pieces(line: str, case_id: str, agency: str) -> list[Piece]:
    """A COPY line cut where the dossier code, the agency and every instant stand."""
    pattern = re.compile(f"({re.escape(case_id)})|({re.escape(agency)})|({_ISO})")
    pieces: list[Piece] = []
    last = 0
    for match in pattern.finditer(line):
        literal = line[last:match.start()]
        if match.group(1):
            pieces.append((literal, CASE, None))
        elif match.group(2):
            pieces.append((literal, AGENCY, None))
        else:
            pieces.append((literal, TIME, datetime.fromisoformat(match.group(3))))
        last = match.end()
    pieces.append((line[last:], LITERAL, None))
    return pieces


def read_templates(url: str, futures: dict[str, list[dict[str, Any]]]) -> list[Template]:
    engine = create_engine(url)
    ids = list(futures)
    rows: dict[str, dict[str, list[Any]]] = {t.name: {} for t in TABLES}
    with engine.connect() as conn:
        for table in TABLES:
            order = [table.c.seq] if table is JOURNAL else []
            for row in conn.execute(select(table).where(table.c.case_id.in_(ids)).order_by(*order)).mappings():
                rows[table.name].setdefault(row["case_id"], []).append(dict(row))
    engine.dispose()
    return [_template(case_id, rows, futures[case_id]) for case_id in ids]


def _template(case_id: str, rows: dict[str, dict[str, list[Any]]], future: list[dict[str, Any]]) -> Template:
    """The case's rows as ``str.format`` blocks, one per table (NUL marks stand for holes meanwhile)."""
    agency = rows["cases"][case_id][0]["agency"]
    seqs = [r["seq"] for r in rows["journal"].get(case_id, [])]
    instants: dict[str, tuple[int, datetime]] = {}
    staged: dict[str, str] = {}
    counts: dict[str, int] = {}
    for table in TABLES:
        lines = []
        for row in rows[table.name].get(case_id, []):
            fields = []
            for column in table.columns:
                if (table.name, column.name) in SEQ_COLUMNS:
                    fields.append(f"\x00S{seqs.index(row[column.name])}\x00")
                    continue
                out = []
                for literal, kind, arg in _pieces(_field(row[column.name]), case_id, agency):
                    out.append(literal.replace("{", "{{").replace("}", "}}"))
                    if kind == CASE:
                        out.append("{0}")
                    elif kind == AGENCY:
                        out.append("{1}")
                    elif kind == TIME:
                        key = arg.isoformat()
                        instants.setdefault(key, (len(instants), arg))
                        out.append(f"\x00T{instants[key][0]}\x00")
                fields.append("".join(out))
            lines.append("\t".join(fields) + "\n")
        staged[table.name] = "".join(lines)
        counts[table.name] = len(lines)
    first_seq = 2 + len(instants)
    blocks = {}
    for name, staged_block in staged.items():
        block = re.sub("\x00T(\\d+)\x00", lambda m: f"{{{2 + int(m.group(1))}}}", staged_block)
        blocks[name] = re.sub("\x00S(\\d+)\x00", lambda m: f"{{{first_seq + int(m.group(1))}}}", block)
    ordered = [instant for _, instant in sorted(instants.values(), key=lambda item: item[0])]
    return Template(case_id, agency, seqs, ordered, blocks, counts, future)


def render(pieces: list[Piece], case_id: str, agency: str, shift: timedelta) -> str:
    out: list[str] = []
    for literal, kind, arg in pieces:
        out.append(literal)
        if kind == CASE:
            out.append(case_id)
        elif kind == AGENCY:
            out.append(agency)
        elif kind == TIME:
            out.append((arg + shift).isoformat())
    return "".join(out)


# -- the clones: rendered by worker processes while the main one runs COPY --------------------
@dataclass
class Chunk:
    blocks: dict[str, str]
    rows: dict[str, int]
    samples: list[Clone]


_TEMPLATES: list[Template] = []


def _adopt(templates: list[Template]) -> None:
    _TEMPLATES[:] = templates


def render_chunk(job: tuple[int, int, int, int, int, int, list[str]]) -> Chunk:
    """Clones ``first`` .. ``first + count - 1``: the n-th is made from template n modulo their number."""
    first, count, seq_base, seed, spread, samples, agencies = job
    templates = _TEMPLATES
    rng = random.Random(seed * 1_000_003 + first)
    blocks: dict[str, list[str]] = {t.name: [] for t in TABLES}
    rows = dict.fromkeys(blocks, 0)
    picked: list[Clone] = []
    for n in range(first, first + count):
        template = templates[n % len(templates)]
        agency = template.agency if template.agency in DEPARTMENTS else rng.choice(agencies)
        case_id = f"{agency}-{template.case_id.rsplit('-', 2)[1]}-{n + 1:07d}"
        clone = Clone(case_id, template.case_id, -rng.randint(0, spread))
        for name, block in template.render(case_id, agency, timedelta(seconds=clone.shift_seconds),
                                           seq_base).items():
            blocks[name].append(block)
            rows[name] += template.rows[name]
        seq_base += len(template.seqs)
        if n < samples and template.future:
            picked.append(clone)
    return Chunk({name: "".join(parts) for name, parts in blocks.items()}, rows, picked)


def copy_clones(url: str, templates: list[Template], count: int, seed: int, spread: int,
                agencies: list[str], samples: int, chunk: int = 5_000, processes: int = 2
                ) -> tuple[dict[str, int], list[Clone]]:
    rows = {t.name: 0 for t in TABLES}
    picked: list[Clone] = []
    per_cycle = [len(t.seqs) for t in templates]
    with psycopg.connect(psycopg_url(url)) as conn:
        conn.execute("SET synchronous_commit = off")
        found = conn.execute("SELECT coalesce(max(seq), 0) + 1 FROM journal").fetchone()
        assert found is not None
        seq_base = int(found[0])
        jobs = []
        for first in range(0, count, chunk):
            jobs.append((first, min(chunk, count - first), seq_base, seed, spread, samples, agencies))
            seq_base += sum(per_cycle[n % len(templates)] for n in range(first, min(first + chunk, count)))
        context = multiprocessing.get_context("fork")
        with context.Pool(processes, initializer=_adopt, initargs=(templates,)) as pool:
            for made in pool.imap(render_chunk, jobs):
                _copy(conn, made.blocks)
                for name, number in made.rows.items():
                    rows[name] += number
                picked.extend(made.samples)
        conn.execute("SELECT setval(pg_get_serial_sequence('journal', 'seq'), %s)", (seq_base,))
        conn.commit()
    return rows, picked


def _copy(conn: psycopg.Connection[Any], blocks: dict[str, str]) -> None:
    with conn.cursor() as cur:
        for table in TABLES:
            if not blocks[table.name]:
                continue
            columns = ", ".join(f'"{c.name}"' for c in table.columns)
            with cur.copy(f"COPY {table.name} ({columns}) FROM STDIN") as copy:
                copy.write(blocks[table.name])
    conn.commit()


# -- indexes: dropped during COPY, built once after -------------------------------------------
def drop_indexes(url: str) -> list[str]:
    """Drop the secondary indexes of the cloned tables (not primary keys or unique constraints)."""
    names = [t.name for t in TABLES]
    with psycopg.connect(psycopg_url(url), autocommit=True) as conn:
        found = conn.execute(
            "SELECT i.indexname, i.indexdef FROM pg_indexes i WHERE i.schemaname = 'public' "
            "AND i.tablename = ANY(%s) AND NOT EXISTS (SELECT 1 FROM pg_constraint c WHERE c.conname = i.indexname)",
            (names,)).fetchall()
        for name, _ in found:
            conn.execute(f'DROP INDEX "{name}"')
    return [definition for _, definition in found]


def build_indexes(url: str, definitions: Sequence[str]) -> None:
    with psycopg.connect(psycopg_url(url), autocommit=True) as conn:
        conn.execute("SET maintenance_work_mem = '256MB'")
        for definition in definitions:
            conn.execute(definition)
        conn.execute("VACUUM ANALYZE")


def counts(url: str, at: datetime) -> tuple[int, int]:
    """Open cases (not resolved, not closed), and open cases past their due at ``at``."""
    with psycopg.connect(psycopg_url(url)) as conn:
        row = conn.execute(
            "SELECT count(*) FILTER (WHERE resolved_at IS NULL AND closed_at IS NULL), "
            "count(*) FILTER (WHERE resolved_at IS NULL AND closed_at IS NULL AND due_at < %s) FROM cases",
            (at,)).fetchone()
    assert row is not None
    return int(row[0]), int(row[1])


def load(url: str, cases: int = 1_000_000, *, templates: int = 400, seed: int = 1, as_of: datetime | None = None,
         window_days: int = 4, closed_share: float = 0.1, spread: int = 900, communes_count: int = 100,
         samples: int = 10) -> DatasetInfo:
    """Fill the empty database at ``url`` with ``cases`` cases (``templates`` of them run by the engine)."""
    as_of = (as_of or datetime.now(UTC)).replace(microsecond=0)
    templates = min(templates, cases)
    begun = time.perf_counter()
    app = build(settings(url), clock=ManualClock(as_of))
    futures = make_templates(app, templates, seed, as_of, window_days, closed_share)
    app.engine.dispose()
    made = read_templates(url, futures)
    engine_seconds = time.perf_counter() - begun
    agencies = communes(communes_count)
    begun = time.perf_counter()
    definitions = drop_indexes(url)
    rows, picked = copy_clones(url, made, cases - templates, seed, spread, agencies, samples)
    copy_seconds = time.perf_counter() - begun
    begun = time.perf_counter()
    build_indexes(url, definitions)
    index_seconds = time.perf_counter() - begun
    open_cases, late = counts(url, as_of)
    return DatasetInfo(url=url, cases=cases, templates=templates, as_of=as_of,
                       agencies=sorted(set(agencies) | set(DEPARTMENTS)), rows=rows, engine_seconds=engine_seconds,
                       copy_seconds=copy_seconds, index_seconds=index_seconds, open_cases=open_cases,
                       late_cases=late, samples=picked, futures=futures)


# -- the proof: a clone behaves as its template -------------------------------------------------
def clone_event(event: dict[str, Any], template: str, clone: Clone) -> dict[str, Any]:
    agency = clone.case_id.rsplit("-", 2)[0]
    pieces = _pieces(json.dumps(event, ensure_ascii=False), template, event["agency"])
    return dict(json.loads(render(pieces, clone.case_id, agency, timedelta(seconds=clone.shift_seconds))))


def verify(info: DatasetInfo) -> list[str]:
    """Apply each sample's next event, then a watcher pass a day later, to the clone and to its
    template; return every difference (none when the clones are real cases)."""
    problems: list[str] = []
    for clone in info.samples:
        event = info.futures[clone.template][0]
        shift = timedelta(seconds=clone.shift_seconds)
        at = datetime.fromisoformat(event["occurred_at"])
        seen = []
        for case_id, payload, moved in ((clone.template, event, timedelta(0)),
                                        (clone.case_id, clone_event(event, clone.template, clone), shift)):
            app = build(settings(info.url), clock=ManualClock(at + moved), migrate=False)
            outcome = app.service.ingest_object(payload, "verify")
            raised = app.service.watch_case(case_id, at + moved + timedelta(days=1))
            with app.engine.connect() as conn:
                row = conn.execute(select(CASES.c.status, CASES.c.due_at, CASES.c.event_count)
                                   .where(CASES.c.case_id == case_id)).one()
                steps = conn.execute(select(STEPS.c.step, STEPS.c.status, STEPS.c.due_at)
                                     .where(STEPS.c.case_id == case_id).order_by(STEPS.c.seq)).all()
            app.engine.dispose()
            seen.append({
                "outcome": (outcome.status, outcome.step, sorted((n.type, n.step) for n in outcome.nonconformities)),
                "case": (row.status, row.due_at - moved if row.due_at else None, row.event_count),
                "steps": [(s.step, s.status, s.due_at - moved if s.due_at else None) for s in steps],
                "watch": sorted((n.type, n.step, round((n.delay_seconds or 0) / 60)) for n in raised),
            })
        for aspect in ("outcome", "case", "steps", "watch"):
            if seen[0][aspect] != seen[1][aspect]:
                problems.append(f"{clone.case_id} (from {clone.template}) {aspect}: {seen[1][aspect]} "
                                f"!= {seen[0][aspect]}")
    return problems


def summary(info: DatasetInfo | None = None, **kwargs: Any) -> list[dict[str, Any]]:
    if info is None:
        info, _ = run(**kwargs)
    per_million = info.seconds * 1_000_000 / info.cases
    return [
        {"target": f"load {info.cases:,} cases ({info.total_rows:,} rows) with COPY",
         "measured": f"{info.seconds:.0f} s ({info.rows_per_second:,.0f} rows/s copied and indexed)",
         "goal": "COPY, not one insert at a time; minutes for 1,000,000 cases",
         "met": per_million < 15 * 60},
    ]


def run(cases: int, url: str | None = None, keep: bool = False, check: bool = True, **options: Any
        ) -> tuple[DatasetInfo, list[str]]:
    import os

    base = url or os.environ.get("EISO_DATABASE_URL", "")
    if not base.startswith("postgresql"):
        sys.exit('start the services first: eval "$(scripts/services up)"')
    target = fresh_database(base)
    try:
        info = load(target, cases, **options)
        problems = verify(info) if check else []
    finally:
        if not keep:
            drop_database(target)
    return info, problems


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--cases", type=int, default=1_000_000)
    parser.add_argument("--templates", type=int, default=400, help="cases run by the engine, then cloned")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--spread", type=int, default=900, help="clones move up to this many seconds back")
    parser.add_argument("--keep", action="store_true", help="keep the database and print its URL")
    parser.add_argument("--no-verify", action="store_true")
    args = parser.parse_args()
    info, problems = run(args.cases, keep=args.keep, check=not args.no_verify, templates=args.templates,
                         seed=args.seed, spread=args.spread)
    print(f"machine: {machine()}")
    print(f"data set as of {info.as_of.isoformat()}: {info.cases:,} cases, {info.open_cases:,} open, "
          f"{info.late_cases:,} open and past due, {len(info.agencies)} agencies, {info.templates} templates")
    print(f"{'table':<16}{'rows':>12}")
    for name, count in info.rows.items():
        print(f"{name:<16}{count:>12,}")
    print(f"engine (templates) {info.engine_seconds:.1f} s; COPY {info.copy_seconds:.1f} s; "
          f"indexes and ANALYZE {info.index_seconds:.1f} s; {info.rows_per_second:,.0f} rows/s")
    print(f"verified {len(info.samples)} clones against their templates: "
          f"{'same behaviour' if not problems else f'{len(problems)} difference(s)'}")
    for problem in problems:
        print(f"  {problem}")
    if args.keep:
        print(f"database kept: {info.url}")
    if problems:
        sys.exit(1)


if __name__ == "__main__":
    main()
