"""``eiso report --lang vi`` is Vietnamese throughout, ``--lang en`` English; rates read as percentages.

Issue 11: the Vietnamese report mixed ``yes``/``no``, ``objective`` and type codes such as
``step_late``, and the CSV printed the rate as ``0.95``, which reads as meeting 95 %.
"""

from __future__ import annotations

import csv
import io
import json
import re
from pathlib import Path

import pytest

from tests.api.support import OWN_AGENCY, event, late_case
from tests.conftest import FIXTURES
from tests.integration.test_cli import eiso

MARCH = ("--from", "2026-03-01", "--to", "2026-04-01")


@pytest.fixture(scope="module")
def month(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One case late at a step and open past its due at the month's end, one resolved early."""
    where = tmp_path_factory.mktemp("report")
    events = [*late_case("LATE-1", OWN_AGENCY, "l"),
              event("e-1", "case.received", "2026-03-10 08:00", "EARLY-1", OWN_AGENCY),
              event("e-2", "step.completed", "2026-03-10 09:00", "EARLY-1", OWN_AGENCY, "receive"),
              event("e-3", "case.result_ready", "2026-03-10 10:00", "EARLY-1", OWN_AGENCY)]
    assert eiso(where, "procedures", "deploy", str(FIXTURES / "test-procedure.bpmn")).returncode == 0
    stream = where / "march.jsonl"
    stream.write_text("".join(json.dumps(e) + "\n" for e in events), encoding="utf-8")
    assert eiso(where, "ingest", str(stream)).returncode == 0
    return where


def _report(where: Path, *args: str) -> str:
    done = eiso(where, "report", *MARCH, *args)
    assert done.returncode == 0, done.stderr
    return done.stdout


def test_the_vietnamese_table_has_no_english_word_nor_code(month: Path) -> None:
    shown = _report(month, "--lang", "vi")
    for english in ("step_late", "yes", " no ", "objective", "True", "False", "Total"):
        assert english not in shown, english
    for vietnamese in ("Bước xử lý trễ hạn", "Tổng cộng", "mục tiêu 95,0%", "không", "50,0%"):
        assert vietnamese in shown, vietnamese


def test_the_english_table_is_english(month: Path) -> None:
    shown = _report(month, "--lang", "en")
    for english in ("Step completed late", "Total", "objective 95.0%", "no", "50.0%"):
        assert english in shown, english
    assert "step_late" not in shown and "Tổng cộng" not in shown


@pytest.mark.parametrize(("lang", "rate", "no", "total"), [("vi", "50,0%", "không", "Tổng cộng"),
                                                            ("en", "50.0%", "no", "Total")])
def test_the_csv_shows_the_rate_as_a_percentage_with_a_totals_row(month: Path, lang: str, rate: str, no: str,
                                                                  total: str) -> None:
    rows = list(csv.reader(io.StringIO(_report(month, "--format", "csv", "--lang", lang))))
    (group,) = rows[1:-1]
    assert group[0] == OWN_AGENCY and group[-2:] == [rate, no]
    assert rows[-1][:2] == [total, ""] and rows[-1][-2:] == [rate, no]  # from the summed counts
    types = list(csv.reader(io.StringIO(_report(month, "--format", "csv", "--lang", lang,
                                                "--section", "nonconformities"))))
    assert types[1][0] == ("Bước xử lý trễ hạn" if lang == "vi" else "Step completed late")


def test_json_keeps_codes_and_the_raw_ratio_for_machines(month: Path) -> None:
    data = json.loads(_report(month, "--format", "json", "--lang", "vi"))
    assert data["totals"]["agency"] == "*" and data["totals"]["on_time_rate"] == 0.5
    assert data["totals"]["meets_objective"] is False
    assert [n["type"] for n in data["nonconformities"]] == ["step_late"]
    assert re.fullmatch(r"2026-03-01T00:00:00\+07:00", data["period"]["from"])
