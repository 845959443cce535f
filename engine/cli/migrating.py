"""``eiso procedures migrate CODE --to VERSION``: running cases onto a new version, or why each stays.

Exit status: 0 when every selected case moved (or none was selected), 1 when some stayed (each is listed with
its reason; the moved ones are moved), 2 for bad input (unknown code or version, a bad map file, a map naming
a step that does not exist, a retired target): nothing written then.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Annotated, Any

import typer

from engine.application.actor import Actor
from engine.application.migration import (
    MigrationConflict,
    MigrationRequest,
    MigrationSummary,
    ProcedureNotFound,
    migrate_cases,
)
from engine.cli.context import get_app
from engine.cli.output import Format, errors, print_csv, print_json, print_table
from engine.core.events import check_agency_code
from engine.core.migration import StepMapInvalid, parse_step_map
from engine.reporting.formats import Language
from engine.reporting.labels import MIGRATION_REASONS
from engine.store.audit import CLI_ROLE

EXIT_ALL_MOVED, EXIT_SOME_STAYED, EXIT_BAD_INPUT = 0, 1, 2

COLUMNS = ["case_id", "agency", "from_version", "to_version", "result", "steps", "due_before", "due_after",
           "reason"]
HEADINGS = {
    Language.vi: {"case_id": "Mã hồ sơ", "agency": "Cơ quan", "from_version": "Từ phiên bản",
                  "to_version": "Sang phiên bản", "result": "Kết quả", "steps": "Bước (cũ → mới)",
                  "due_before": "Hạn bước trước", "due_after": "Hạn bước sau", "reason": "Lý do ở lại"},
    Language.en: {"case_id": "Case", "agency": "Agency", "from_version": "From version", "to_version": "To version",
                  "result": "Result", "steps": "Steps (old → new)", "due_before": "Step due before",
                  "due_after": "Step due after", "reason": "Why it stays"},
}
WORDS = {
    Language.vi: {"moved": "chuyển", "stayed": "ở lại", "would_move": "sẽ chuyển", "paused": "tạm dừng",
                  "title": "Chuyển hồ sơ đang xử lý sang phiên bản {to} của quy trình {code}",
                  "dry_title": "Chạy thử (không ghi gì): chuyển hồ sơ sang phiên bản {to} của quy trình {code}",
                  "total": "{moved} hồ sơ chuyển, {stayed} hồ sơ ở lại",
                  "exit": "mã thoát 1: có hồ sơ ở lại (0: tất cả đã chuyển, 2: dữ liệu vào sai)"},
    Language.en: {"moved": "moved", "stayed": "stayed", "would_move": "would move", "paused": "paused",
                  "title": "Running cases of procedure {code} moved to version {to}",
                  "dry_title": "Dry run (nothing written): cases of procedure {code} to version {to}",
                  "total": "{moved} case(s) moved, {stayed} stayed",
                  "exit": "exit status 1: some cases stayed (0: all moved, 2: bad input)"},
}
# The reason codes in words; the full reason (with the case's own step names) follows in English.
# English: the engine's own reason, which names the steps.
REASONS = {Language.vi: MIGRATION_REASONS[Language.vi], Language.en: {}}


def command(actor_of: Callable[[str | None], str]) -> Callable[..., None]:
    """The ``migrate`` command, with the procedure commands' one way of naming who acts (``--actor``)."""

    def migrate(
        code: Annotated[str, typer.Argument(help="The national procedure code, e.g. 1.001806")],
        to: Annotated[int, typer.Option("--to", help="The version the running cases move to")],
        from_version: Annotated[int | None, typer.Option("--from", help="Only cases on this version")] = None,
        agency: Annotated[list[str] | None, typer.Option(
            "--agency", help="Only cases of this agency, with the codes below it (repeat for several)")] = None,
        step_map: Annotated[Path | None, typer.Option(
            "--map", help="TOML step map for steps removed or renamed: a table 'steps' of "
                          "old_step = \"new_step\" lines")] = None,
        dry_run: Annotated[bool, typer.Option("--dry-run", help="Show what would move, with the new dues; "
                                                                "write nothing")] = False,
        actor: Annotated[str | None, typer.Option("--actor", help="Who makes the change, for the audit log "
                                                                 "(default: the operating-system user)")] = None,
        output: Annotated[Format, typer.Option("--format", help="table, json or csv")] = Format.table,
        lang: Annotated[Language, typer.Option("--lang", help="Words of the table: vi or en")] = Language.vi,
    ) -> None:
        """Move the running cases of CODE to version --to, keeping each step's elapsed working time, the pauses and
        the case clock; a step whose allowance changed gets its due from its own start. Exit 0: all moved;
        1: some stayed (listed with the reason); 2: bad input, nothing written."""
        agencies = tuple(_checked_agencies(agency or []))
        mapping = _read_map(step_map) if step_map is not None else {}
        eiso = get_app()
        request = MigrationRequest(code=code, to_version=to, from_version=from_version, agencies=agencies,
                                   step_map=mapping, dry_run=dry_run)
        try:
            summary = migrate_cases(eiso.engine, eiso.catalog, eiso.calendar, request, Actor(actor_of(actor), CLI_ROLE),
                                    eiso.clock.now(), forget=eiso.service.forget)
        except (ProcedureNotFound, StepMapInvalid, MigrationConflict) as err:
            errors.print(f"nothing migrated: {err.args[0] if err.args else err}")
            raise typer.Exit(EXIT_BAD_INPUT) from None
        _print(summary, output, lang)
        if summary.stayed:
            errors.print(WORDS[lang]["exit"])
            raise typer.Exit(EXIT_SOME_STAYED)

    return migrate


def _checked_agencies(codes: list[str]) -> list[str]:
    for code in codes:
        problem = check_agency_code(code.strip())
        if problem is not None:
            errors.print(f"--agency {code}: {problem}")
            raise typer.Exit(EXIT_BAD_INPUT)
    return [code.strip() for code in codes]


def _read_map(path: Path) -> dict[str, str]:
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as err:
        errors.print(f"--map {path}: cannot be read: {getattr(err, 'strerror', None) or err}")
        raise typer.Exit(EXIT_BAD_INPUT) from None
    try:
        return parse_step_map(text, str(path))
    except StepMapInvalid as err:
        errors.print(str(err))
        raise typer.Exit(EXIT_BAD_INPUT) from None


def _print(summary: MigrationSummary, output: Format, lang: Language) -> None:
    eiso = get_app()
    answer = summary.to_dict(eiso.calendar)
    if output is Format.json:
        print_json(answer)
        return
    words, reasons = WORDS[lang], REASONS[lang]
    rows = [_row(case, words, reasons, summary.request.dry_run) for case in answer["cases"]]
    request = summary.request
    title = words["dry_title" if request.dry_run else "title"].format(code=request.code, to=request.to_version)
    if output is Format.csv:
        print_csv(rows, COLUMNS, HEADINGS[lang])
    else:
        print_table(rows, COLUMNS, title=title, headings=HEADINGS[lang])
    errors.print(words["total"].format(moved=answer["moved"], stayed=answer["stayed"]))


def _row(case: dict[str, Any], words: dict[str, str], reasons: dict[str, str], dry_run: bool) -> dict[str, Any]:
    moved = case["result"] == "moved"
    steps = case["steps"]
    reason = case["reason"]
    if reason is not None and case["reason_code"] in reasons:
        reason = f"{reasons[case['reason_code']]} ({reason})"
    return {
        "case_id": case["case_id"], "agency": case["agency"], "from_version": case["from_version"],
        "to_version": case["to_version"],
        "result": words["would_move" if dry_run else "moved"] if moved else words["stayed"],
        "steps": [f"{s['step']} → {s['new_step']}" for s in steps],
        "due_before": [s["due_before"] or words["paused"] for s in steps],
        "due_after": [s["due_after"] or words["paused"] for s in steps],
        "reason": reason,
    }
