"""``eiso cases show``, ``eiso nc list``, ``eiso events``, ``eiso report``."""

from __future__ import annotations

from datetime import datetime
from enum import Enum
from typing import Annotated, Any

import typer

from engine.cli.context import get_app, parse_time
from engine.cli.output import Format, console, fail, print_csv, print_json, print_rows, print_table
from engine.store.queries import Presenter, case_detail, nonconformity_list, parked_events, refused_events

cases_app = typer.Typer(no_args_is_help=True, help="Cases (dossiers) and their process control slips.")
nc_app = typer.Typer(no_args_is_help=True, help="Nonconformities raised by the engine.")
events_app = typer.Typer(no_args_is_help=True, help="Events that could not be applied (yet).")

STEP_COLUMNS = ["step", "unit", "status", "activated_at", "due_at", "completed_at", "timeliness",
                "delay_working_hours"]
NC_COLUMNS = ["type", "case_id", "agency", "procedure", "procedure_version", "step", "due_at", "actual_at",
              "delay_working_hours", "detected_at", "event_ids", "status"]


class Language(str, Enum):
    vi = "vi"
    en = "en"


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
) -> None:
    """Nonconformities, oldest first."""
    eiso = get_app()
    rows = nonconformity_list(eiso.engine, Presenter(eiso.calendar), type_=type_, case_id=case_id, agency=agency,
                              procedure=procedure, status=status, limit=limit, include_retracted=include_retracted)
    if output is Format.json:
        print_json(rows)
    elif output is Format.csv:
        print_csv(rows, NC_COLUMNS)
    else:
        print_table(rows, NC_COLUMNS, title=f"{len(rows)} nonconformit{'y' if len(rows) == 1 else 'ies'}")


@events_app.command("parked")
def events_parked(output: Annotated[Format, typer.Option("--format")] = Format.table) -> None:
    """Events kept until their case is received or their procedure deployed."""
    eiso = get_app()
    rows = parked_events(eiso.engine, Presenter(eiso.calendar))
    print_rows(rows, output, ["event_id", "case_id", "procedure", "reason", "parked_at"])


@events_app.command("refused")
def events_refused(output: Annotated[Format, typer.Option("--format")] = Format.table) -> None:
    """Invalid events, kept with their problems."""
    eiso = get_app()
    rows = refused_events(eiso.engine, Presenter(eiso.calendar))
    print_rows(rows, output, ["event_id", "source", "problems", "refused_at"])


@events_app.command("retry")
def events_retry() -> None:
    """Apply the parked events that can be applied now."""
    outcomes = get_app().service.retry_parked()
    applied = sum(o.status == "applied" for o in outcomes)
    console.print(f"{applied} parked event(s) applied, {len(outcomes) - applied} still parked")


def report(
    start: Annotated[str | None, typer.Option("--from", help="Period start (date or RFC 3339); default: "
                                                             "first day of the month")] = None,
    end: Annotated[str | None, typer.Option("--to", help="Period end, exclusive; default: now")] = None,
    agency: Annotated[str | None, typer.Option("--agency")] = None,
    procedure: Annotated[str | None, typer.Option("--procedure")] = None,
    objective: Annotated[float | None, typer.Option("--objective", help="Quality objective, e.g. 0.95")] = None,
    output: Annotated[Format, typer.Option("--format")] = Format.table,
    lang: Annotated[Language, typer.Option("--lang", help="Headings in Vietnamese or English")] = Language.vi,
    section: Annotated[str, typer.Option("--section", help="CSV only: groups, steps or nonconformities")
                       ] = "groups",
) -> None:
    """Timeliness per agency and procedure, step times against allowances, nonconformities by type."""
    eiso = get_app()
    now = eiso.clock.now()
    local_now = eiso.calendar.local(now)
    period_end = parse_time(end, "--to") if end else now
    period_start = parse_time(start, "--from") if start else local_now.replace(day=1, hour=0, minute=0, second=0,
                                                                               microsecond=0)
    print_report(eiso, period_start, period_end, agency, procedure, objective, output, lang, section)


def print_report(eiso: Any, start: datetime, end: datetime, agency: str | None, procedure: str | None,
                 objective: float | None, output: Format, lang: Language, section: str = "groups") -> None:
    from engine.reports import HEADINGS, Period, build_report

    if end <= start:
        fail("the period's end must be after its start")
    data = build_report(eiso.engine, eiso.catalog, eiso.calendar, Period(start, end),
                        objective if objective is not None else eiso.settings.engine.quality_objective,
                        agency=agency, procedure=procedure)
    headings = HEADINGS[lang.value]
    group_columns = ["agency", "procedure", "received", "resolved", "early", "on_time", "late", "open_overdue",
                     "on_time_rate", "meets_objective"]
    step_columns = ["procedure", "step", "unit", "allowance_hours", "completed", "median_hours", "p90_hours",
                    "late_steps"]
    if output is Format.json:
        print_json(data)
        return
    if output is Format.csv:
        chosen = {"groups": (data["groups"], group_columns), "steps": (data["steps"], step_columns),
                  "nonconformities": (data["nonconformities"], ["type", "count"])}.get(section)
        if chosen is None:
            fail("--section must be groups, steps or nonconformities")
            return
        print_csv(chosen[0], chosen[1], headings)
        return
    period = f"{data['period']['from']} .. {data['period']['to']}"
    rows = [{**g, "on_time_rate": _percent(g["on_time_rate"])} for g in [*data["groups"], data["totals"]]]
    print_table(rows, group_columns, title=f"{headings['title']} ({period}); objective "
                f"{data['quality_objective']:.0%}", headings=headings)
    print_table(data["steps"], step_columns, title=headings["steps_title"], headings=headings)
    print_table(data["nonconformities"], ["type", "count"], title=headings["nc_title"], headings=headings)


def _percent(value: float | None) -> str | None:
    return None if value is None else f"{value:.1%}"


__all__ = ["cases_app", "events_app", "nc_app", "report"]
