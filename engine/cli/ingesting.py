"""Applying a JSON Lines stream with a progress bar and a per-outcome summary."""

from __future__ import annotations

from collections import Counter
from typing import TextIO

from rich.progress import BarColumn, Progress, TaskProgressColumn, TextColumn, TimeRemainingColumn

from engine.bootstrap import App
from engine.cli.output import errors, print_table
from engine.service import PARKED, REFUSED


def ingest_stream(eiso: App, stream: TextIO, source: str, quiet: bool, total: int | None) -> int:
    """Apply every line; report refused ones on stderr. Exit code 1 when any line was refused."""
    counts: Counter[str] = Counter()
    raised: Counter[str] = Counter()
    problems: list[str] = []
    progress = Progress(TextColumn("ingesting"), BarColumn(), TaskProgressColumn(), TimeRemainingColumn(),
                        console=errors, transient=True, disable=quiet or total is None)
    with progress:
        task = progress.add_task("ingest", total=total)
        for number, line in enumerate(stream, start=1):
            progress.advance(task, len(line.encode("utf-8", "replace")))
            if not line.strip():
                continue
            outcome = eiso.service.ingest_line(line, f"{source}:{number}")
            counts[outcome.status] += 1
            for record in outcome.nonconformities:
                raised[record.type] += 1
            if outcome.status == REFUSED:
                problems.append(f"{source}:{number}: refused {outcome.reason}")
            elif outcome.status == PARKED and not quiet:
                problems.append(f"{source}:{number}: parked event {outcome.event_id!r}: {outcome.reason}")
    for problem in problems:
        errors.print(problem, highlight=False, markup=False)
    rows = [{"outcome": k, "events": counts[k]} for k in ("applied", "duplicate", "parked", "refused")]
    print_table(rows, ["outcome", "events"], title=f"{source}: {sum(counts.values())} event(s)")
    if raised and not quiet:
        print_table([{"type": t, "changes": n} for t, n in sorted(raised.items())], ["type", "changes"],
                    title="nonconformities raised or updated")
    return 1 if counts[REFUSED] else 0
