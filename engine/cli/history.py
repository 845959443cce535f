"""``eiso history import``: replay an agency's past dossiers (an XES log or a CSV/XLSX export)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import typer
from rich.progress import BarColumn, Progress, TaskProgressColumn, TextColumn, TimeRemainingColumn

from engine.application.history.importing import HistoryImport, HistoryRequest, ImportSummary, read_traces
from engine.application.history.log import HistoryLogError, Trace
from engine.application.history.mapping import ActivityMap, ColumnMapping, text_value
from engine.application.history.suggest import count_activities, propose, render_toml
from engine.cli.context import describe_error, get_app
from engine.cli.output import Format, errors, fail, print_json, print_table
from engine.cli.procedures import _actor
from engine.store.audit import CLI_ROLE
from engine.store.catalog import ProcedureCatalog
from engine.store.database import make_engine, upgrade
from engine.store.history import copy_procedures, safe_url

app = typer.Typer(no_args_is_help=True, help="Past dossiers: replay an event log through the engine.")


@app.command("import")
def import_history(
    file: Annotated[Path, typer.Argument(help="XES log (.xes, .xes.gz) or CSV/XLSX export of dossier history")],
    activity_map: Annotated[Path | None, typer.Option("--map", help="TOML activity map: activity name = step id, "
                                                      "an event type, or \"ignore\"")] = None,
    columns_file: Annotated[Path | None, typer.Option("--columns", help="TOML file of column names, a columns "
                                                      "table (default: the XES standard names)")] = None,
    column: Annotated[list[str] | None, typer.Option("--column", help="One column mapping, FIELD=NAME (e.g. "
                                                     "case_id=MaHoSo); repeat; overrides --columns")] = None,
    suggest: Annotated[bool, typer.Option("--suggest", help="Propose an activity map (written to --output) "
                                          "instead of importing")] = False,
    output: Annotated[Path | None, typer.Option("--output", "-o", help="Where --suggest writes its map (default "
                                                "<log name>.activities.toml); never overwritten")] = None,
    audit_db: Annotated[str | None, typer.Option("--audit-db", help="Replay into this database (an audit run, "
                                                 "migrated first) instead of EISO_DATABASE_URL")] = None,
    timezone: Annotated[str | None, typer.Option("--timezone", help="Zone of the log's times without an offset "
                                                 "(default: the calendar's)")] = None,
    agency: Annotated[str | None, typer.Option("--agency", help="Agency code when the log has none")] = None,
    procedure: Annotated[str | None, typer.Option("--procedure", help="Procedure code when the log has "
                                                  "none")] = None,
    grouped: Annotated[bool, typer.Option("--grouped", help="CSV/XLSX rows already together by case: read in "
                                          "one pass without the temporary sort")] = False,
    encoding: Annotated[str | None, typer.Option("--encoding", help="CSV encoding (default: UTF-8 with or "
                                                 "without BOM, else cp1258)")] = None,
    actor: Annotated[str | None, typer.Option("--actor", help="Who imports, for the audit log (default: the "
                                              "operating-system user)")] = None,
    fmt: Annotated[Format, typer.Option("--format", help="table or json")] = Format.table,
    quiet: Annotated[bool, typer.Option("--quiet", "-q", help="No progress bar")] = False,
) -> None:
    """Replay a history log through the engine, in legal working time, against the deployed procedures."""
    if not file.is_file():
        fail(f"{file}: no such file")
    if fmt == Format.csv:
        fail("--format: table or json (the summary has no CSV form)")
    eiso = get_app()
    try:
        request = HistoryRequest(
            path=file, columns=_columns(columns_file, column or []),
            activities=ActivityMap.from_toml(activity_map) if activity_map else ActivityMap({}),
            zone=_zone(timezone), actor=_actor(actor), role=CLI_ROLE, agency=agency, procedure=procedure,
            grouped=grouped, encoding=encoding)
        if suggest:
            _suggest(request, output or Path(f"{_stem(file)}.activities.toml"))
            return
        if activity_map is None:
            fail("--map is required to import (make one with --suggest, check it, then pass it)")
        summary = _run(eiso, request, audit_db, quiet or fmt == Format.json)
    except (HistoryLogError, LookupError) as err:
        fail(str(err))
        return
    except Exception as err:  # a database that cannot be reached: one line, never a traceback
        fail(describe_error(err))
        return
    _show(summary, fmt)
    failed = summary.file_problem or summary.cases_refused or summary.outcomes.get("refused")
    raise typer.Exit(1 if failed else 0)


def _run(eiso: Any, request: HistoryRequest, audit_db: str | None, quiet: bool) -> ImportSummary:
    engine, catalog, target = eiso.engine, eiso.catalog, f"EISO_DATABASE_URL ({safe_url(eiso.settings.database.url)})"
    audited = [eiso.engine]
    if audit_db:
        engine = make_engine(audit_db)
        upgrade(engine)
        copy_procedures(eiso.engine, engine)
        catalog, target = ProcedureCatalog(engine), f"audit run ({safe_url(audit_db)})"
        audited.append(engine)
    total = request.path.stat().st_size
    progress = Progress(TextColumn("replaying"), BarColumn(), TaskProgressColumn(), TimeRemainingColumn(),
                        console=errors, transient=True, disable=quiet)
    with progress:
        task = progress.add_task("history", total=total)
        summary = HistoryImport(engine, catalog, eiso.calendar, eiso.clock, target).run(
            request, lambda done: progress.update(task, completed=done), audit_engines=audited)
    return summary


def _suggest(request: HistoryRequest, output: Path) -> None:
    if output.exists():
        fail(f"{output}: already exists; give another --output (a map in use is never overwritten)")
    eiso = get_app()
    first: list[Trace] = []

    def remember_first(traces: Any) -> Any:
        for trace in traces:
            if not first:
                first.append(trace)
            yield trace

    counts = count_activities(remember_first(read_traces(request)), request.columns)
    code = request.procedure or request.activities.procedure or _first_value(first, request.columns.procedure)
    agency = request.agency or request.activities.agency or _first_value(first, request.columns.agency)
    if code is None:
        fail("which procedure? give --procedure (the log has no procedure column)")
        return
    found = eiso.catalog.in_force(code, eiso.clock.now(), agency)
    if found is None:
        fail(f"procedure {code} is not deployed" + (f" for agency {agency}" if agency else ""))
        return
    version, loaded = found
    output.write_text(render_toml(propose(counts, loaded.definition), loaded.definition, version,
                                  request.path.name), encoding="utf-8")
    errors.print(f"{output}: {len(counts)} activities proposed for procedure {code} version {version}; check it, "
                 f"then: eiso history import {request.path} --map {output}")


def _first_value(traces: list[Trace], key: str | None) -> str | None:
    if not traces or key is None:
        return None
    trace = traces[0]
    value = text_value(trace.attributes.get(key))
    if value is None and trace.events:
        value = text_value(trace.events[0].attributes.get(key))
    return value


def _columns(path: Path | None, pairs: list[str]) -> ColumnMapping:
    base = ColumnMapping.from_toml(path) if path else ColumnMapping()
    if not pairs:
        return base
    table: dict[str, Any] = {k: v for k, v in base.as_dict().items()}
    for pair in pairs:
        name, sep, value = pair.partition("=")
        if not sep:
            raise HistoryLogError(f"--column {pair!r}: expected FIELD=NAME (e.g. case_id=MaHoSo)")
        table[name.strip()] = value.strip()
    return ColumnMapping.from_dict(table, "--column")


def _zone(name: str | None) -> ZoneInfo | None:
    if name is None:
        return None
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        raise HistoryLogError(f"--timezone {name!r}: unknown time zone (e.g. Asia/Ho_Chi_Minh, UTC)") from None


def _stem(path: Path) -> str:
    name = path.name
    for suffix in (".xes.gz", ".xes", ".csv", ".txt", ".xlsx", ".xlsm"):
        if name.lower().endswith(suffix):
            return name[: -len(suffix)]
    return path.stem


def _show(summary: ImportSummary, fmt: Format) -> None:
    data = summary.as_dict()
    if fmt == Format.json:
        print_json(data)
        return
    rows = [{"what": k, "count": data[k]} for k in ("rows", "cases", "cases_replayed", "cases_refused", "events",
                                                   "rows_unmapped", "rows_ignored", "rows_duplicate",
                                                   "rows_other_lifecycle")]
    rows += [{"what": f"events {k}", "count": n} for k, n in data["events_by_outcome"].items()]
    print_table(rows, ["what", "count"], title=f"{summary.file_name}: import {summary.import_id} into "
                f"{summary.target}")
    if summary.unmapped:
        print_table([{"activity": a, "events": n} for a, n in summary.unmapped.most_common(20)],
                    ["activity", "events"], title="activities not in the map (not replayed)")
    if summary.refused or summary.examples:
        print_table([{"reason": r, "cases": summary.refused.get(r, 0), "examples": "\n".join(examples)}
                     for r, examples in summary.examples.items()], ["reason", "cases", "examples"],
                    title="cases refused")
    if summary.nonconformities:
        print_table([{"type": t, "records": n} for t, n in sorted(summary.nonconformities.items())],
                    ["type", "records"],
                    title=f"nonconformities raised or updated (source history:{summary.import_id})")
    if summary.file_problem:
        errors.print(f"error: {summary.file_problem}", highlight=False, markup=False)
