"""Applying a JSON Lines stream with a progress bar and a per-outcome summary."""

from __future__ import annotations

import json
from collections import Counter
from typing import TextIO

from rich.progress import BarColumn, Progress, TaskProgressColumn, TextColumn, TimeRemainingColumn

from engine.bootstrap import App
from engine.cli.output import errors, fail, print_table
from engine.core.states import EventOutcome
from engine.service import PARKED, REFUSED

NOT_JSON_LINES = 5


def ingest_stream(eiso: App, stream: TextIO, source: str, quiet: bool, total: int | None) -> int:
    """Apply every line; report refused ones on stderr. Exit code 1 when any line was refused."""
    counts: Counter[str] = Counter()
    raised: Counter[str] = Counter()
    problems: list[str] = []
    progress = Progress(TextColumn("ingesting"), BarColumn(), TaskProgressColumn(), TimeRemainingColumn(),
                        console=errors, transient=True, disable=quiet or total is None)
    # Lines that are not JSON before the first that is are held back: a file that opens with
    # NOT_JSON_LINES of them is not JSON Lines, refused whole, without a refused row per line.
    held: list[tuple[int, str]] = []
    seen_json = False
    with progress:
        task = progress.add_task("ingest", total=total)
        for number, line in enumerate(stream, start=1):
            progress.advance(task, len(line.encode("utf-8", "replace")))
            if not line.strip():
                continue
            if not seen_json:
                if not _is_json(line):
                    held.append((number, line))
                    if len(held) >= NOT_JSON_LINES:
                        progress.stop()
                        fail(f"{source}: not JSON Lines (lines {', '.join(str(n) for n, _ in held)} are not JSON): "
                             "nothing applied; eiso ingest reads one JSON case event per line")
                    continue
                seen_json = True
                for held_number, held_line in held:  # a few bad lines in a real event file: refused as usual
                    _apply(eiso, held_line, f"{source}:{held_number}", counts, raised, problems, quiet)
                held = []
            _apply(eiso, line, f"{source}:{number}", counts, raised, problems, quiet)
        for held_number, held_line in held:  # fewer than NOT_JSON_LINES lines, none of them JSON
            _apply(eiso, held_line, f"{source}:{held_number}", counts, raised, problems, quiet)
    for problem in problems:
        errors.print(problem, highlight=False, markup=False)
    rows = [{"outcome": k, "events": counts[k]} for k in EventOutcome]
    print_table(rows, ["outcome", "events"], title=f"{source}: {sum(counts.values())} event(s)")
    if raised and not quiet:
        print_table([{"type": t, "changes": n} for t, n in sorted(raised.items())], ["type", "changes"],
                    title="nonconformities raised or updated")
    return 1 if counts[REFUSED] else 0


def _is_json(line: str) -> bool:
    try:
        json.loads(line)
    except ValueError:
        return False
    return True


def _apply(eiso: App, line: str, where: str, counts: Counter[str], raised: Counter[str], problems: list[str],
           quiet: bool) -> None:
    outcome = eiso.service.ingest_line(line, where)
    counts[outcome.status] += 1
    for record in outcome.nonconformities:
        raised[record.type] += 1
    if outcome.status == REFUSED:
        problems.append(f"{where}: refused {outcome.reason}")
    elif outcome.status == PARKED and not quiet:
        problems.append(f"{where}: parked event {outcome.event_id!r}: {outcome.reason}")
