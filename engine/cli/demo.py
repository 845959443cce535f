"""``eiso simulate`` and ``eiso demo``."""

from __future__ import annotations

import io
import sys
import time
from datetime import date, datetime
from datetime import time as clock_time
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.progress import BarColumn, Progress, TaskProgressColumn, TextColumn, TimeRemainingColumn

from engine.bootstrap import build, make_calendar
from engine.cli.cases import print_report
from engine.cli.ingesting import ingest_stream
from engine.cli.output import Format, console, errors, fail, styled
from engine.core.procedure import LoadedProcedure
from engine.procedures.loader import ProcedureInvalid, load_procedure
from engine.reporting.formats import Language
from engine.settings import DatabaseSettings, Settings
from engine.simulation import Simulator, iter_lines


def _month(text: str | None) -> date:
    if text is None:
        today = date.today()
        return date(today.year - (today.month == 1), (today.month - 2) % 12 + 1, 1)
    try:
        year, month = (int(x) for x in text.split("-")[:2])
        return date(year, month, 1)
    except ValueError:
        fail(f"--month expects YYYY-MM, got {text!r}")
        raise


def _bundled_procedures(directory: Path) -> list[LoadedProcedure]:
    files = sorted(directory.glob("*.bpmn"))
    if not files:
        fail(f"no BPMN file in {directory}")
    loaded = []
    for path in files:
        try:
            loaded.append(load_procedure(path.read_bytes(), path.name))
        except ProcedureInvalid as err:
            fail("; ".join(str(p) for p in err.problems))
    return loaded


def _simulate_with_progress(simulator: Simulator, first: date, cases: int) -> list[dict[str, Any]]:
    with Progress(TextColumn("simulating"), BarColumn(), TaskProgressColumn(), TimeRemainingColumn(),
                  console=errors, transient=True) as progress:
        task = progress.add_task("simulate", total=cases)
        events = simulator.month(first, cases, progress=lambda done: progress.update(task, completed=done))
    return events


def simulate(
    cases: Annotated[int, typer.Option("--cases", min=1, max=2_000_000, help="Number of cases")] = 1000,
    seed: Annotated[int, typer.Option("--seed", help="Same seed, same stream")] = 1,
    month: Annotated[str | None, typer.Option("--month", help="YYYY-MM; default: last month")] = None,
    out: Annotated[Path | None, typer.Option("--out", "-o", help="File to write (default standard output)")] = None,
    procedures: Annotated[Path | None, typer.Option("--procedures", help="Folder of BPMN files")] = None,
) -> None:
    """Write a month of one-stop-shop case events as JSON Lines, reproducibly."""
    settings = Settings()
    simulator = Simulator(_bundled_procedures(procedures or settings.engine.procedures_dir),
                          make_calendar(settings.calendar), seed)
    events = _simulate_with_progress(simulator, _month(month), cases)
    stream = out.open("w", encoding="utf-8") if out else sys.stdout
    try:
        for line in iter_lines(events):
            stream.write(line + "\n")
    finally:
        if out:
            stream.close()
    errors.print(f"{len(events)} events of {cases} cases written to {out or 'standard output'}")


def demo(
    cases: Annotated[int, typer.Option("--cases", min=10, max=100_000)] = 2000,
    seed: Annotated[int, typer.Option("--seed")] = 2026,
    month: Annotated[str | None, typer.Option("--month", help="YYYY-MM; default: last month")] = None,
    database: Annotated[Path, typer.Option("--db", help="SQLite file for the demo (recreated)")] = Path(
        ".eiso/demo.db"),
    lang: Annotated[str, typer.Option("--lang", help="vi or en headings")] = "vi",
) -> None:
    """A month of simulated traffic through the real engine into SQLite, then the report."""
    begun = time.monotonic()
    for suffix in ("", "-wal", "-shm"):
        Path(str(database) + suffix).unlink(missing_ok=True)
    settings = Settings(database=DatabaseSettings(url=f"sqlite:///{database}"))
    eiso = build(settings)
    first = _month(month)
    procedures = sorted(settings.engine.procedures_dir.glob("*.bpmn"))
    deployed_at = datetime.combine(first, clock_time(0), eiso.calendar.zone)
    for path in procedures:
        eiso.catalog.deploy(path.read_bytes(), path.name, deployed_at)
    console.print(styled(("eiso demo", "bold"), f": {len(procedures)} procedures deployed into {database}"))
    versions = eiso.catalog.versions()
    simulator = Simulator([eiso.catalog.get(v.code, v.version, v.scope) for v in versions], eiso.calendar, seed)
    events = _simulate_with_progress(simulator, first, cases)
    console.print(f"simulated {cases} cases in {first:%m/%Y}: {len(events)} events")
    stream = io.StringIO("\n".join(iter_lines(events)) + "\n")
    ingest_stream(eiso, stream, "simulated-stream", quiet=False, total=len(stream.getvalue().encode()))
    month_end = datetime.combine(date(first.year + (first.month == 12), first.month % 12 + 1, 1), clock_time(0),
                                 eiso.calendar.zone)
    watched = eiso.service.watch(month_end)
    console.print(f"watcher as of {month_end.isoformat()}: {len(watched.nonconformities)} more overdue "
                  "nonconformities")
    print_report(eiso, deployed_at, month_end, None, None, None, Format.table,
                 Language.en if lang == "en" else Language.vi)
    console.print(f"done in {time.monotonic() - begun:.1f} s. Explore it with EISO_DATABASE_URL=sqlite:///{database} "
                  "and `eiso nc list`, `eiso cases show <case id>`, `eiso report --from YYYY-MM-01`")
