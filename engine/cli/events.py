"""``eiso events``: put case events on the case-event topic; the events that could not be applied (yet)."""

from __future__ import annotations

import json
import sys
from collections.abc import Iterable
from pathlib import Path
from typing import Annotated, Any

import typer
from sqlmodel import Session

from engine.cli.context import get_app, parse_time
from engine.cli.output import Format, console, errors, fail, print_rows
from engine.cli.procedures import _actor
from engine.core.states import EventOutcome
from engine.store.audit import CLI_ROLE
from engine.store.queries import Presenter, parked_events, refused_events
from engine.store.refused import purge_refused

app = typer.Typer(no_args_is_help=True, help="Case events: produce them to Kafka; those that could not be "
                                             "applied (yet).")

MAX_PROBLEMS_SHOWN = 20


def keyed_events(lines: Iterable[str], source: str) -> tuple[list[tuple[str, bytes]], list[str]]:
    """(case id, line) of every event line, and the problems of the lines that are not a JSON object
    with a case id, each with its line number. Blank lines are skipped."""
    events: list[tuple[str, bytes]] = []
    problems: list[str] = []
    for number, line in enumerate(lines, start=1):
        text = line.strip()
        if not text:
            continue
        try:
            obj: Any = json.loads(text)
        except ValueError as err:
            problems.append(f"{source}:{number}: not JSON ({err})")
            continue
        case_id = obj.get("case_id") if isinstance(obj, dict) else None
        if not isinstance(case_id, str) or not case_id:
            problems.append(f"{source}:{number}: not a case event (a JSON object with a case_id)")
            continue
        events.append((case_id, text.encode("utf-8", "surrogatepass")))
    return events, problems


@app.command("produce")
def produce(
    file: Annotated[str, typer.Argument(help="JSON Lines file of case events, or - for standard input")],
    topic: Annotated[str | None, typer.Option("--topic", help="Default: EISO_KAFKA_TOPIC")] = None,
) -> None:
    """Send case events to the case-event topic, keyed by case id: `eiso simulate | eiso events produce -`.

    One case's events stay in order on one partition. A file with a line that is not a case event is
    refused whole, with the line numbers."""
    from kafka import KafkaProducer
    from kafka.errors import KafkaError

    from connectors.settings import KafkaSettings

    if file == "-":
        events, problems = keyed_events(sys.stdin, "stdin")
    else:
        path = Path(file)
        if not path.is_file():
            fail(f"{file}: no such file")
        with path.open("r", encoding="utf-8", errors="surrogateescape") as stream:
            events, problems = keyed_events(stream, path.name)
    if problems:
        for problem in problems[:MAX_PROBLEMS_SHOWN]:
            errors.print(problem)
        more = len(problems) - MAX_PROBLEMS_SHOWN
        fail(f"nothing sent: {len(problems)} line(s) are not case events" + (f" ({more} more not shown)"
                                                                              if more > 0 else ""))
    settings = KafkaSettings()
    target = topic or settings.topic
    try:
        producer = KafkaProducer(**settings.producer_config())
    except KafkaError as err:
        fail(f"Kafka at {settings.bootstrap} (EISO_KAFKA_BOOTSTRAP): {err}")
        raise
    futures: list[Any] = []
    try:
        for case_id, value in events:
            futures.append(producer.send(target, key=case_id.encode("utf-8"), value=value))
        producer.flush(timeout=120)
        for future in futures:
            future.get(timeout=0)  # raises the first failure, if any
    except KafkaError as err:
        fail(f"sending to {target} failed after {sum(f.succeeded() for f in futures)} of {len(events)} "
             f"event(s): {err}")
    finally:
        producer.close(timeout=30)
    cases = len({case_id for case_id, _ in events})
    console.print(f"{len(events)} event(s) of {cases} case(s) sent to {target}")


@app.command("parked")
def events_parked(output: Annotated[Format, typer.Option("--format")] = Format.table) -> None:
    """Events kept until their case is received or their procedure deployed."""
    eiso = get_app()
    rows = parked_events(eiso.engine, Presenter(eiso.calendar))
    print_rows(rows, output, ["event_id", "case_id", "procedure", "reason", "parked_at"])


@app.command("refused")
def events_refused(
    output: Annotated[Format, typer.Option("--format")] = Format.table,
    purge: Annotated[bool, typer.Option("--purge", help="Delete the refused events chosen by --before and "
                                                        "--source (all without them), with an audit entry")] = False,
    before: Annotated[str | None, typer.Option("--before", help="With --purge: only those refused before this "
                                                                "date or RFC 3339 time")] = None,
    source: Annotated[str | None, typer.Option("--source", help="With --purge: only those of this source (a file "
                                                                "name names all its lines)")] = None,
    actor: Annotated[str | None, typer.Option("--actor", help="Who purges, for the audit log (default: the "
                                                              "operating-system user)")] = None,
) -> None:
    """Invalid events, kept with their problems; --purge drops those the user chooses."""
    eiso = get_app()
    if not purge:
        if before is not None or source is not None:
            fail("--before and --source choose what --purge deletes: add --purge", code=2)
        rows = refused_events(eiso.engine, Presenter(eiso.calendar))
        print_rows(rows, output, ["event_id", "source", "problems", "refused_at"])
        return
    cutoff = parse_time(before, "--before") if before is not None else None
    with Session(eiso.engine) as session:
        count = purge_refused(session, before=cutoff, source=source, actor=_actor(actor), role=CLI_ROLE,
                              at=eiso.clock.now())
        session.commit()
    console.print(f"{count} refused event(s) deleted" + (" (written to the audit log)" if count else ""))


@app.command("retry")
def events_retry() -> None:
    """Apply the parked events that can be applied now."""
    outcomes = get_app().service.retry_parked()
    applied = sum(o.status == EventOutcome.APPLIED for o in outcomes)
    console.print(f"{applied} parked event(s) applied, {len(outcomes) - applied} still parked")
