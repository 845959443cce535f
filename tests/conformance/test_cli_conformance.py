"""``eiso conformance CODE`` (JSON and the annotated SVG) and the conformance section of ``eiso report``."""

from __future__ import annotations

import json
from pathlib import Path
from xml.etree import ElementTree

from tests.conformance.support import REWORK
from tests.conformance.test_store_conformance import CASES_RUN
from tests.integration.test_cli import eiso

MARCH = ("--from", "2026-03-01", "--to", "2026-04-01")
HOSTILE = 'Appraise <b>"&" [red]x[/red]'


def _prepared(tmp_path: Path) -> None:
    procedure = tmp_path / "rework.bpmn"
    hostile = b'name="Appraise &lt;b&gt;&quot;&amp;&quot; [red]x[/red]"'
    procedure.write_bytes(REWORK.replace(b'name="APPRAISE"', hostile))
    assert eiso(tmp_path, "procedures", "deploy", str(procedure)).returncode == 0
    events = tmp_path / "events.jsonl"
    events.write_text("\n".join(json.dumps(e) for case in CASES_RUN for e in case) + "\n", encoding="utf-8")
    assert eiso(tmp_path, "ingest", str(events)).returncode == 0


def test_conformance_command_gives_json_and_an_escaped_svg(tmp_path: Path) -> None:
    _prepared(tmp_path)
    picture = tmp_path / "practice.svg"
    result = eiso(tmp_path, "conformance", "9.000101", *MARCH, "--format", "json", "--svg", str(picture))
    assert result.returncode == 0, result.stderr
    body = json.loads(result.stdout)
    assert (body["conformance"]["cases"], body["conformance"]["conforming"]) == (4, 1)
    practice = body["practice"]
    assert practice["skipped_steps"] == [{"step": "appraise", "cases": 1}]
    assert {(h["from"], h["to"]) for h in practice["handovers_not_in_procedure"]} == {
        ("receive", "review"), ("receive", "photocopy"), ("photocopy", "appraise")}
    svg = picture.read_text(encoding="utf-8")
    root = ElementTree.fromstring(svg)  # well-formed: the step's name did not break the markup
    texts = [t.text for t in root.iter("{http://www.w3.org/2000/svg}text")]
    assert HOSTILE[:23] in " ".join(t or "" for t in texts)
    assert "<b>" not in svg and "&lt;b&gt;" in svg


def test_the_report_has_a_conformance_section(tmp_path: Path) -> None:
    _prepared(tmp_path)
    result = eiso(tmp_path, "report", *MARCH, "--format", "json")
    assert result.returncode == 0, result.stderr
    [entry] = json.loads(result.stdout)["conformance"]
    assert (entry["procedure"], entry["cases"], entry["conformance_rate"]) == ("9.000101", 4, 0.25)
    csv = eiso(tmp_path, "report", *MARCH, "--format", "csv", "--section", "deviations", "--lang", "en")
    assert csv.returncode == 0, csv.stderr
    assert csv.stdout.splitlines()[0] == "Procedure,Deviation,Step,Cases"
    assert "9.000101,Step skipped,appraise,1" in csv.stdout.splitlines()
    table = eiso(tmp_path, "report", *MARCH)
    assert table.returncode == 0 and "Mức độ tuân thủ quy trình" in table.stdout


def test_no_case_closed_means_nothing_to_draw(tmp_path: Path) -> None:
    _prepared(tmp_path)
    result = eiso(tmp_path, "conformance", "9.000101", "--from", "2026-05-01", "--to", "2026-06-01",
                  "--svg", str(tmp_path / "none.svg"))
    assert result.returncode == 1 and "nothing to draw" in result.stderr
    assert not (tmp_path / "none.svg").exists()
