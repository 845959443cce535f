"""The ``eiso`` command line."""

from __future__ import annotations

import logging
import os
import sys
import traceback
from datetime import datetime
from pathlib import Path
from typing import Annotated, Any

import typer

from engine.cli import agencies, api, cases, catalogue, demo, events, metrics, procedures, worker
from engine.cli.conformance import conformance as conformance_command
from engine.cli.context import describe_error, get_app, parse_time
from engine.cli.history import app as history_app
from engine.cli.ingesting import ingest_stream
from engine.cli.logs import configure_logging
from engine.cli.output import Format, console, errors, fail, print_csv, print_error, print_json, print_table
from engine.settings import Settings
from engine.store.database import make_engine, upgrade

log = logging.getLogger("eiso.watch")

app = typer.Typer(no_args_is_help=True, add_completion=False, pretty_exceptions_enable=False,
                  help="eiso: ISO 9001 procedures as BPMN, held against the one-stop-shop's case events.")
app.add_typer(procedures.app, name="procedures")
app.add_typer(catalogue.app, name="catalogue")
app.add_typer(agencies.app, name="agencies")
procedures.app.command("review")(catalogue.review_procedures)
app.add_typer(cases.cases_app, name="cases")
app.add_typer(cases.nc_app, name="nc")
app.add_typer(events.app, name="events")
db_app = typer.Typer(no_args_is_help=True, help="Database schema.")
app.add_typer(db_app, name="db")
app.command("report")(cases.report)
app.command("simulate")(demo.simulate)
app.command("demo")(demo.demo)
app.command("worker")(worker.worker)
app.command("publisher")(worker.publisher)
app.command("serve")(api.serve)
app.add_typer(api.users_app, name="users")
app.add_typer(metrics.metrics_app, name="metrics")
app.add_typer(history_app, name="history")
app.command("conformance")(conformance_command)


def _print_version(value: bool) -> None:
    if value:
        from importlib.metadata import version

        console.print(f"eiso {version('eiso')}")
        raise typer.Exit()


@app.callback()
def _options(version: Annotated[bool, typer.Option("--version", callback=_print_version, is_eager=True,
                                                   help="The installed version, then exit")] = False) -> None:
    pass


@app.command("ingest")
def ingest(
    file: Annotated[str, typer.Argument(help="JSON Lines file of case events, or - for standard input")],
    quiet: Annotated[bool, typer.Option("--quiet", "-q", help="Only the summary")] = False,
) -> None:
    """Apply case events in file order, exactly as the Kafka worker would."""
    if file == "-":
        code = ingest_stream(get_app(), sys.stdin, "stdin", quiet=quiet, total=None)
    else:
        path = Path(file)
        if not path.is_file():
            fail(f"{file}: no such file")
        with path.open("r", encoding="utf-8", errors="replace") as stream:
            code = ingest_stream(get_app(), stream, path.name, quiet=quiet, total=path.stat().st_size)
    raise typer.Exit(code)


@app.command("watch")
def watch(
    once: Annotated[bool, typer.Option("--once", help="One pass, then exit")] = False,
    at: Annotated[str | None, typer.Option("--at", help="Evaluate as of this RFC 3339 time (default now)")] = None,
    output: Annotated[Format, typer.Option("--format")] = Format.table,
    interval: Annotated[float | None, typer.Option("--interval", help="Longest wait between passes, in seconds; "
                                                  "a pass also runs just after each due instant")] = None,
    log_level: Annotated[str, typer.Option("--log-level", help="DEBUG, INFO, WARNING (the long-running "
                                                               "watcher's log)")] = "INFO",
) -> None:
    """Evaluate every open clock and raise what is overdue."""
    import time as _time

    eiso = get_app()
    when: datetime | None = parse_time(at, "--at") if at else None
    single = once or when is not None
    wait = interval or eiso.settings.engine.watch_interval_seconds
    if not single:
        configure_logging(log_level)
    while True:
        if single:
            if _watch_pass(eiso, when, output, quiet_when_nothing=False).failed:
                raise typer.Exit(1)
            return
        # A long-running watcher never exits on data, nor on a database outage: it reports and tries again.
        try:
            started = _time.monotonic()
            result = _watch_pass(eiso, when, output, quiet_when_nothing=True)
            pause = eiso.service.pause_after_watch(result, wait)
            busy = bool(result.cases or result.nonconformities or result.failed)
            log.log(logging.INFO if busy else logging.DEBUG,
                    "watch pass cases=%d raised=%d failed=%d duration_ms=%.0f next_pass_in_s=%.1f", result.cases,
                    len(result.nonconformities), len(result.failed), (_time.monotonic() - started) * 1000, pause)
        except Exception as err:  # the daemon outlives any one pass
            print_error(f"watch pass failed, trying again in {wait:g} s: {describe_error(err)}")
            pause = wait
        # Until just after the next due instant (an indexed query), at most the interval: a step is
        # raised within moments of its due, and steps made by other processes are seen within the interval.
        _time.sleep(pause)


def _watch_pass(eiso: Any, when: datetime | None, output: Format, quiet_when_nothing: bool) -> Any:
    result = eiso.service.watch(when)
    rows = [{"type": n.type, "case_id": n.case_id, "step": n.step,
             "due_at": eiso.calendar.local(n.due_at).isoformat() if n.due_at else None,
             "delay_working_hours": n.delay_working_hours} for n in result.nonconformities]
    failed = result.failed
    for case_id, reason in failed:  # about one case: skipped this pass, tried again at the next
        print_error(f"case {case_id!r} skipped by this watch pass: {reason}")
    if output is Format.json:
        print_json({"at": eiso.calendar.local(result.at).isoformat(), "cases_checked": result.cases,
                    "raised": rows, "cases_failed": [case_id for case_id, _ in failed]})
    elif output is Format.csv:
        print_csv(rows, ["type", "case_id", "step", "due_at", "delay_working_hours"])
    elif not quiet_when_nothing:  # a long-running watcher's counts are its log line (`watch` above)
        errors.print(f"watch as of {eiso.calendar.local(result.at).isoformat()}: {result.cases} case(s) "
                     f"checked, {len(rows)} nonconformit{'y' if len(rows) == 1 else 'ies'} raised"
                     + (f", {len(failed)} case(s) failed" if failed else ""))
        if rows:
            print_table(rows, ["type", "case_id", "step", "due_at", "delay_working_hours"])
    elif rows:
        print_table(rows, ["type", "case_id", "step", "due_at", "delay_working_hours"])
    return result


@db_app.command("upgrade")
def db_upgrade() -> None:
    """Create or migrate the schema to the latest version."""
    database = Settings().database
    upgrade(make_engine(database.migrator_url), app_role=database.app_role)  # as the owner; grants the services' role
    errors.print(f"schema up to date on {_safe_url(database.migrator_url)}")


def _safe_url(url: str) -> str:
    if "@" in url and "://" in url:
        scheme, rest = url.split("://", 1)
        return f"{scheme}://***@{rest.split('@', 1)[1]}"
    return url


def main() -> None:
    try:
        app()
    except SystemExit:
        raise
    except KeyboardInterrupt:
        errors.print("interrupted")
        raise SystemExit(130) from None
    except Exception as err:  # the last line of defence: no traceback in front of a user
        print_error(describe_error(err))
        if os.environ.get("EISO_DEBUG"):
            traceback.print_exc()
        else:
            errors.print("(set EISO_DEBUG=1 to see the technical details)")
        raise SystemExit(2) from None


if __name__ == "__main__":
    main()
