"""``eiso cases show``, ``eiso nc list``, ``eiso report`` (``eiso events``: engine/cli/events.py)."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Annotated, Any

import typer

from engine.cli.conformance import CONFORMANCE_TABLES, conformance_section, print_conformance
from engine.cli.context import get_app, parse_time
from engine.cli.output import Format, fail, print_csv, print_json, print_table
from engine.reporting.formats import Language
from engine.reporting.labels import LABELS
from engine.reporting.tables import Table
from engine.reports import Period, build_report
from engine.store.queries import Presenter, case_detail, nonconformity_list
from engine.store.sources import check_source

cases_app = typer.Typer(no_args_is_help=True, help="Cases (dossiers) and their process control slips.")
nc_app = typer.Typer(no_args_is_help=True, help="Nonconformities raised by the engine.")

STEP_COLUMNS = ["step", "unit", "status", "activated_at", "due_at", "completed_at", "timeliness",
                "delay_working_hours"]
NC_COLUMNS = ["type", "case_id", "agency", "procedure", "procedure_version", "step", "due_at", "actual_at",
              "delay_working_hours", "detected_at", "event_ids", "status", "procedure_scope"]  # added last: CSV


@cases_app.command("show")
def show(case_id: str, output: Annotated[Format, typer.Option("--format")] = Format.table) -> None:
    """A case with each step: unit, activated, due, handed over, early / on time / late."""
    eiso = get_app()
    detail = case_detail(eiso.engine, case_id, Presenter(eiso.calendar))
    if detail is None:
        fail(f"no case {case_id!r}")
        return
    if output is Format.json:
        print_json(detail)
    elif output is Format.csv:
        print_csv(detail["steps"], STEP_COLUMNS)
    else:
        summary = {k: v for k, v in detail.items() if k != "steps"}
        print_table([{"field": k, "value": v} for k, v in summary.items()], ["field", "value"],
                    title=f"Case {case_id}")
        print_table(detail["steps"], STEP_COLUMNS, title="Process control slip (Phiếu kiểm soát quá trình)")


@nc_app.command("list")
def nc_list(
    output: Annotated[Format, typer.Option("--format")] = Format.table,
    type_: Annotated[str | None, typer.Option("--type", help="Only this type")] = None,
    case_id: Annotated[str | None, typer.Option("--case")] = None,
    agency: Annotated[str | None, typer.Option("--agency")] = None,
    procedure: Annotated[str | None, typer.Option("--procedure")] = None,
    status: Annotated[str | None, typer.Option("--status")] = None,
    limit: Annotated[int | None, typer.Option("--limit")] = None,
    include_retracted: Annotated[bool, typer.Option(
        "--all", help="Also the overdue records retracted by the engine (the step or case was not late)")] = False,
    source: Annotated[str, typer.Option("--source", help="live, history (replayed by eiso history import), "
                                        "history:<import id>, or all")] = "all",
) -> None:
    """Nonconformities, oldest first."""
    eiso = get_app()
    _check_source(source)
    rows = nonconformity_list(eiso.engine, Presenter(eiso.calendar), type_=type_, case_id=case_id, agency=agency,
                              procedure=procedure, status=status, limit=limit, include_retracted=include_retracted,
                              source=source)
    if output is Format.json:
        print_json(rows)
    elif output is Format.csv:
        print_csv(rows, NC_COLUMNS)
    else:
        print_table(rows, NC_COLUMNS, title=f"{len(rows)} nonconformit{'y' if len(rows) == 1 else 'ies'}")


def report(
    start: Annotated[str | None, typer.Option("--from", help="Period start (date or RFC 3339); default: "
                                                             "first day of the month")] = None,
    end: Annotated[str | None, typer.Option("--to", help="Period end, exclusive; default: now")] = None,
    agency: Annotated[str | None, typer.Option("--agency")] = None,
    procedure: Annotated[str | None, typer.Option("--procedure")] = None,
    objective: Annotated[float | None, typer.Option("--objective", help="Quality objective, e.g. 0.95")] = None,
    output: Annotated[Format, typer.Option("--format")] = Format.table,
    lang: Annotated[Language, typer.Option("--lang", help="Words (headings, types, yes/no, totals) and the "
                                           "decimal mark of percentages: Vietnamese or English")] = Language.vi,
    section: Annotated[str, typer.Option("--section", help="CSV only: groups, steps, nonconformities, "
                                                     "conformance, deviations or variants")
                       ] = "groups",
    source: Annotated[str, typer.Option("--source", help="Nonconformities counted: live (default), history "
                                        "(replayed by eiso history import), history:<import id>, or all")] = "live",
) -> None:
    """Timeliness per agency and procedure, step times against allowances, nonconformities by type."""
    eiso = get_app()
    now = eiso.clock.now()
    local_now = eiso.calendar.local(now)
    period_end = parse_time(end, "--to") if end else now
    period_start = parse_time(start, "--from") if start else local_now.replace(day=1, hour=0, minute=0, second=0,
                                                                               microsecond=0)
    print_report(eiso, period_start, period_end, agency, procedure, objective, output, lang, section, source)


def print_report(eiso: Any, start: datetime, end: datetime, agency: str | None, procedure: str | None,
                 objective: float | None, output: Format, lang: Language, section: str = "groups",
                 source: str = "live") -> None:
    if end <= start:
        fail("the period's end must be after its start")
    _check_source(source)
    data = build_report(eiso.engine, eiso.catalog, eiso.calendar, Period(start, end),
                        objective if objective is not None else eiso.settings.engine.quality_objective,
                        agency=agency, procedure=procedure, source=source)
    data["conformance"] = conformance_section(eiso, Period(start, end), agency, procedure)
    if output is Format.json:
        print_json(data)  # for machines: codes, raw ratios, true/false, "*" totals
        return
    labels = LABELS[lang]
    tables = {
        "groups": Table("groups", REPORT_GROUP_COLUMNS, data["groups"], {"on_time_rate": "rate",
                        "meets_objective": "yes_no"}, totals=[data["totals"]], objective=data["quality_objective"]),
        "steps": Table("steps", REPORT_STEP_COLUMNS, data["steps"]),
        "nonconformities": Table("nonconformities", ["type", "count"], data["nonconformities"], {"type": "label"}),
    }
    if output is Format.csv:
        if section in CONFORMANCE_TABLES:
            print_conformance(data["conformance"], lang, output, section)
            return
        chosen = tables.get(section)
        if chosen is None:
            fail("--section must be groups, steps, nonconformities, conformance, deviations or variants")
            return
        print_csv(_rendered(chosen, labels), chosen.columns, labels.headings)
        return
    words = labels.words
    period = f"{data['period']['from']} .. {data['period']['to']}"
    objective_shown = labels.percent(Decimal(str(data["quality_objective"])) * 100)
    titles = {"groups": f"{labels.heading('title')} ({period}); {words['objective']} {objective_shown}",
              "steps": labels.heading("steps_title"), "nonconformities": labels.heading("nc_title")}
    for name, table in tables.items():
        rows = [{c: labels.decimal(v) if isinstance(v, float) else v for c, v in row.items()}
                for row in _rendered(table, labels)]
        print_table(rows, table.columns, title=titles[name], headings=labels.headings)
    print_conformance(data["conformance"], lang)


def _check_source(source: str) -> None:
    try:
        check_source(source)
    except ValueError as err:
        fail(f"--source: {err}")


REPORT_GROUP_COLUMNS = ["agency", "procedure", "received", "resolved", "early", "on_time", "late", "open_overdue",
                        "on_time_rate", "meets_objective"]
REPORT_STEP_COLUMNS = ["procedure", "step", "unit", "allowance_hours", "completed", "median_hours", "p90_hours",
                       "late_steps"]


def _rendered(table: Any, labels: Any) -> list[dict[str, Any]]:
    """The table's rows (totals last) in the language's words, as the terminal and the CSV show them."""
    return [dict(zip(table.columns, cells, strict=True)) for cells in table.body(labels)]


__all__ = ["cases_app", "nc_app", "report"]
