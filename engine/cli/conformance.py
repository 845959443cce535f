"""``eiso conformance CODE``: how the cases closed in a period followed procedure CODE, and practice beside it.

Also the conformance section of ``eiso report`` (``conformance_section``, ``print_conformance``).
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import typer
from sqlalchemy import and_, true
from sqlalchemy.orm import Session

from engine.bootstrap import App
from engine.cli.context import get_app, parse_time
from engine.cli.output import Format, fail, print_csv, print_json, print_table
from engine.reporting.conformance import ConformanceTables, case_results, conformance_report
from engine.reporting.conformance_words import DEVIATIONS, HEADINGS
from engine.reporting.formats import Language
from engine.reporting.period import Period
from engine.reporting.practice import practice_report
from engine.reporting.practice_svg import practice_svg
from engine.store.cases import CASES, STEPS
from engine.store.tables import NonconformityRow

__all__ = ["CONFORMANCE_TABLES", "conformance", "conformance_section", "print_conformance"]

TABLES = ConformanceTables(CASES, STEPS, NonconformityRow.__table__)  # type: ignore[attr-defined]
SUMMARY_COLUMNS = ["procedure", "cases", "conforming", "conformance_rate", "fitting_share", "log_fitness",
                   "cases_with_rework", "rework_hours"]
DEVIATION_COLUMNS = ["procedure", "kind", "step", "cases"]
VARIANT_COLUMNS = ["procedure", "path", "cases", "conforming", "median_hours"]
CONFORMANCE_TABLES = ("conformance", "deviations", "variants")  # the section's tables, as --section names them
CASE_COLUMNS = ["case_id", "agency", "fitness", "conforming", "deviations", "rework_hours"]
MAX_CASES = 100_000  # cases listed by --cases


def _where(agency: str | None, procedure: str | None) -> Any:
    clauses = [c for c in (None if agency is None else CASES.c.agency == agency,
                           None if procedure is None else CASES.c.procedure == procedure) if c is not None]
    return and_(*clauses) if clauses else true()


def conformance_section(eiso: App, period: Period, agency: str | None, procedure: str | None) -> list[dict[str, Any]]:
    """The report's conformance section: one entry per procedure with cases closed in the period."""
    with Session(eiso.engine) as session:
        return conformance_report(session, TABLES, _where(agency, procedure), period, eiso.calendar, eiso.catalog)


def conformance_rows(section: list[dict[str, Any]], lang: Language) -> dict[str, list[dict[str, Any]]]:
    """The section's three tables, in the language's words."""
    words = DEVIATIONS[lang]
    return {
        "conformance": [{c: entry[c] for c in SUMMARY_COLUMNS} for entry in section],
        "deviations": [{"procedure": e["procedure"], "kind": words.get(d["kind"], d["kind"]), "step": d["step"],
                        "cases": d["cases"]} for e in section for d in e["deviations"]],
        "variants": [{"procedure": e["procedure"], "path": " → ".join(v["path"]), "cases": v["cases"],
                      "conforming": HEADINGS[lang]["yes" if v["conforming"] else "no"],
                      "median_hours": v["median_hours"]}
                     for e in section for v in e["variants"]],
    }


def print_conformance(section: list[dict[str, Any]], lang: Language, output: Format = Format.table,
                      table: str = "conformance") -> None:
    """Print the section as tables (terminal) or one of them as CSV (``table``: conformance, deviations, variants)."""
    rows = conformance_rows(section, lang)
    headings = HEADINGS[lang]
    columns = {"conformance": SUMMARY_COLUMNS, "deviations": DEVIATION_COLUMNS, "variants": VARIANT_COLUMNS}
    if output is Format.csv:
        print_csv(rows[table], columns[table], headings)
        return
    titles = {"conformance": headings["title"], "deviations": headings["deviations_title"],
              "variants": headings["variants_title"]}
    for name, found in rows.items():
        print_table(found, columns[name], title=titles[name], headings=headings)


def conformance(
    code: Annotated[str, typer.Argument(help="The procedure's national code, e.g. 1.001806")],
    start: Annotated[str | None, typer.Option("--from", help="Period start (date or RFC 3339); default: first day "
                                                             "of the month")] = None,
    end: Annotated[str | None, typer.Option("--to", help="Period end, exclusive; default: now")] = None,
    agency: Annotated[str | None, typer.Option("--agency")] = None,
    svg: Annotated[Path | None, typer.Option("--svg", help="Write practice beside the procedure as an annotated "
                                             "SVG picture to this file")] = None,
    output: Annotated[Format, typer.Option("--format")] = Format.table,
    lang: Annotated[Language, typer.Option("--lang")] = Language.vi,
    per_case: Annotated[bool, typer.Option("--cases", help="Also each case: fitness, conforming, deviations, "
                                           "rework")] = False,
) -> None:
    """Conformance of the cases closed in the period to procedure CODE, and practice's handovers beside it."""
    eiso = get_app()
    now = eiso.clock.now()
    period_end = parse_time(end, "--to") if end else now
    period_start = (parse_time(start, "--from") if start else
                    eiso.calendar.local(now).replace(day=1, hour=0, minute=0, second=0, microsecond=0))
    if period_end <= period_start:
        fail("the period's end must be after its start")
    period = Period(period_start, period_end)
    section = conformance_section(eiso, period, agency, code)
    with Session(eiso.engine) as session:
        practice = practice_report(session, TABLES, _where(agency, code), period, eiso.calendar, eiso.catalog, code)
    if svg is not None:
        if practice is None:
            fail(f"no case of procedure {code} closed in the period: nothing to draw")
            return
        try:
            svg.write_text(practice_svg(practice, lang), encoding="utf-8")
        except OSError as err:
            fail(f"cannot write {svg}: {err.strerror or err}")
    cases = None
    if per_case:
        with Session(eiso.engine) as session:
            cases = case_results(session, TABLES, _where(agency, code), period, eiso.calendar, eiso.catalog,
                                 limit=MAX_CASES)
    if output is Format.json:
        print_json({"period": _period_json(eiso, period), "conformance": section[0] if section else None,
                    "practice": practice} | ({} if cases is None else {"cases": cases}))
        return
    if cases is not None and output is Format.csv:
        print_csv([_case_row(c) for c in cases], CASE_COLUMNS, HEADINGS[lang])
        return
    print_conformance(section, lang, output)
    if practice is not None and output is Format.table:
        _print_practice(practice, lang)
    if cases is not None and output is Format.table:
        print_table([_case_row(c) for c in cases], CASE_COLUMNS, title=HEADINGS[lang]["cases_title"],
                    headings=HEADINGS[lang])


def _case_row(case: dict[str, Any]) -> dict[str, Any]:
    deviations = "; ".join(f"{d['kind']} {d['step']}" for d in case["deviations"])
    return {k: case[k] for k in ("case_id", "agency", "fitness", "conforming", "rework_hours")} | {
        "deviations": deviations}


def _period_json(eiso: App, period: Period) -> dict[str, str]:
    return {"from": eiso.calendar.local(period.start).isoformat(), "to": eiso.calendar.local(period.end).isoformat()}


def _print_practice(practice: dict[str, Any], lang: Language) -> None:
    words = HEADINGS[lang]

    def worded(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
        return [{k: words["yes" if v else "no"] if isinstance(v, bool) else v for k, v in row.items()} for row in rows]

    print_table(worded(practice["steps"]), ["step", "name", "allowance_hours", "cases", "skipped", "median_hours",
                                            "p90_hours", "median_ratio", "p90_ratio", "routinely_exceeded"],
                title=words["steps_title"], headings=words)
    print_table(worded(practice["edges"]), ["from", "to", "cases", "median_hours", "in_procedure"],
                title=words["edges_title"], headings=words)
