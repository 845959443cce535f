"""The history log readers: XES (plain, gzip, hostile, truncated) and CSV/XLSX (order, encodings, delimiters)."""

from __future__ import annotations

import gzip
import unicodedata
from pathlib import Path

import pytest

from engine.application.history.log import HistoryLogError, Trace
from engine.application.history.mapping import ColumnMapping
from engine.application.history.table import read_table
from engine.application.history.xes import DOCTYPE_REFUSED, read_xes

CASE_KEY = ColumnMapping().case_id

XES = """<?xml version="1.0" encoding="UTF-8"?>
<log xes.version="1.0" xmlns="http://www.xes-standard.org/">
  <extension name="Concept" prefix="concept" uri="http://www.xes-standard.org/concept.xesext"/>
  <string key="concept:name" value="one-stop shop"/>
  <trace>
    <string key="concept:name" value="C-1"/>
    <date key="deadline" value="2026-03-16T17:00:00+07:00"/>
    <event>
      <string key="concept:name" value="Tiếp nhận"/>
      <date key="time:timestamp" value="2026-03-02T01:00:00.000+00:00"/>
      <string key="lifecycle:transition" value="complete"/>
      <string key="org:resource" value="Lan"/>
      <list key="nested"><string key="x" value="y"/></list>
    </event>
    <event>
      <string key="concept:name" value="Thẩm định"/>
      <date key="time:timestamp" value="2026-03-03T01:00:00Z"/>
    </event>
  </trace>
  <trace>
    <string key="concept:name" value="C-2"/>
    <event><string key="concept:name" value="Tiếp nhận"/>
      <date key="time:timestamp" value="2026-03-04T08:00:00"/></event>
  </trace>
</log>
"""


def test_xes_traces_carry_case_attributes_and_events(tmp_path: Path) -> None:
    path = tmp_path / "log.xes"
    path.write_text(XES, encoding="utf-8")
    traces = list(read_xes(path, CASE_KEY))
    assert [t.case_id for t in traces] == ["C-1", "C-2"]
    first = traces[0]
    assert first.attributes["case:deadline"] == "2026-03-16T17:00:00+07:00"
    assert [e.attributes["concept:name"] for e in first.events] == ["Tiếp nhận", "Thẩm định"]
    assert first.events[0].attributes["org:resource"] == "Lan"
    assert first.events[0].where == "line 8"  # the <event> element's line
    assert "x" not in first.events[0].attributes  # a nested list's members are not the event's attributes


def test_xes_gz_is_read_and_a_truncated_one_names_the_problem(tmp_path: Path) -> None:
    whole = gzip.compress(XES.encode("utf-8"))
    path = tmp_path / "log.xes.gz"
    path.write_bytes(whole)
    assert [t.case_id for t in read_xes(path, CASE_KEY)] == ["C-1", "C-2"]
    many = "".join(f'<trace><string key="concept:name" value="N-{n}"/><event><string key="concept:name" '
                   f'value="Tiếp nhận"/></event></trace>\n' for n in range(5000))
    cut = tmp_path / "cut.xes.gz"
    cut.write_bytes(gzip.compress(f"<log>{many}</log>".encode())[:-40])
    read: list[Trace] = []
    with pytest.raises(HistoryLogError, match=r"cut\.xes\.gz: (truncated|not well-formed)"):
        for trace in read_xes(cut, CASE_KEY):
            read.append(trace)
    # the traces before the cut were read whole, each in its turn; the cut one never came out
    assert 0 < len(read) < 5000 and [t.case_id for t in read] == [f"N-{n}" for n in range(len(read))]
    assert all(len(t.events) == 1 for t in read)


@pytest.mark.parametrize("prolog", [
    '<!DOCTYPE log [<!ENTITY a "aaaaaaaaaa"><!ENTITY b "&a;&a;&a;&a;&a;&a;&a;&a;">]>',
    '<!DOCTYPE log [<!ENTITY secret SYSTEM "file:///etc/passwd">]>',
])
def test_hostile_xes_is_refused_whole(tmp_path: Path, prolog: str) -> None:
    path = tmp_path / "bomb.xes"
    path.write_text(f'<?xml version="1.0"?>\n{prolog}\n<log><trace><string key="concept:name" value="&b;"/>'
                    '</trace></log>'.replace("&b;", "&b;" if "ENTITY b" in prolog else "&secret;"), encoding="utf-8")
    with pytest.raises(HistoryLogError) as raised:
        list(read_xes(path, CASE_KEY))
    assert DOCTYPE_REFUSED in str(raised.value) and "root:" not in str(raised.value)


def test_xes_without_a_log_root_is_named(tmp_path: Path) -> None:
    path = tmp_path / "other.xes"
    path.write_text("<definitions/>", encoding="utf-8")
    with pytest.raises(HistoryLogError, match="not an XES log"):
        list(read_xes(path, CASE_KEY))


CSV = ("case:concept:name,concept:name,time:timestamp\n"
       "B,Tiếp nhận,2026-03-02 08:00\n"
       "A,Tiếp nhận,2026-03-02 09:00\n"
       "B,Thẩm định,2026-03-03 08:00\n"
       "A,Thẩm định,2026-03-03 09:00\n")


def _cases(traces: list[Trace]) -> dict[str, list[str]]:
    return {t.case_id: [e.attributes["concept:name"] for e in t.events] for t in traces}


def test_csv_rows_in_any_order_are_grouped_by_case_in_file_order(tmp_path: Path) -> None:
    path = tmp_path / "log.csv"
    path.write_text(CSV, encoding="utf-8")
    traces = list(read_table(path, ColumnMapping()))
    assert _cases(traces) == {"A": ["Tiếp nhận", "Thẩm định"], "B": ["Tiếp nhận", "Thẩm định"]}
    assert traces[0].events[0].where == "line 3"  # A's first row is the file's line 3


def test_grouped_reading_refuses_a_case_whose_rows_are_apart(tmp_path: Path) -> None:
    path = tmp_path / "log.csv"
    path.write_text(CSV, encoding="utf-8")
    traces = list(read_table(path, ColumnMapping(), grouped=True))
    assert [t.case_id for t in traces] == ["B", "A", "B", "A"]
    assert traces[0].problem is None and traces[2].problem is not None
    assert "line 4" in str(traces[2].problem) and "without --grouped" in str(traces[2].problem)


@pytest.mark.parametrize("encoding", ["utf-8-sig", "cp1258"])
def test_csv_in_utf8_with_bom_or_windows_1258(tmp_path: Path, encoding: str) -> None:
    path = tmp_path / "log.csv"
    path.write_bytes(_encoded(CSV.replace(",", ";"), encoding))
    traces = list(read_table(path, ColumnMapping()))
    assert _cases(traces)["A"] == ["Tiếp nhận", "Thẩm định"]


TONE_MARKS = "\u0300\u0301\u0303\u0309\u0323"  # grave, acute, tilde, hook above, dot below


def _encoded(text: str, encoding: str) -> bytes:
    """Windows-1258 writes a Vietnamese tone mark as a combining character after its letter (ế = ê + U+0301)."""
    if encoding != "cp1258":
        return text.encode(encoding)
    out = b""
    for ch in text:
        try:
            out += ch.encode(encoding)
        except UnicodeEncodeError:
            parts = unicodedata.normalize("NFD", ch)
            tones = "".join(c for c in parts if c in TONE_MARKS)
            letter = unicodedata.normalize("NFC", "".join(c for c in parts if c not in TONE_MARKS))
            out += (letter + tones).encode(encoding)
    return out


def test_a_wrong_delimiter_names_the_missing_columns(tmp_path: Path) -> None:
    path = tmp_path / "log.csv"
    path.write_text(CSV.replace(",", " "), encoding="utf-8")
    with pytest.raises(HistoryLogError, match=r"log\.csv: the heading row has no column 'case:concept:name'"):
        list(read_table(path, ColumnMapping()))


def test_xlsx_rows_are_read(tmp_path: Path) -> None:
    from datetime import datetime

    from openpyxl import Workbook

    book = Workbook()
    sheet = book.active
    assert sheet is not None
    sheet.append(["MaHoSo", "Buoc", "ThoiDiem"])
    sheet.append(["X-1", "Tiếp nhận", datetime(2026, 3, 2, 8, 0)])
    sheet.append(["X-1", "Thẩm định", datetime(2026, 3, 3, 8, 0)])
    path = tmp_path / "log.xlsx"
    book.save(path)
    columns = ColumnMapping.from_dict({"case_id": "MaHoSo", "activity": "Buoc", "timestamp": "ThoiDiem"})
    traces = list(read_table(path, columns))
    assert [(t.case_id, len(t.events)) for t in traces] == [("X-1", 2)]
    assert traces[0].events[0].attributes["ThoiDiem"] == "2026-03-02T08:00:00"  # spilled as ISO text


def test_common_headings_of_a_dossier_export_need_no_column_mapping(tmp_path: Path) -> None:
    path = tmp_path / "log.csv"
    path.write_text("Mã hồ sơ,Công việc,Thời gian,Đơn vị,Mã cơ quan,Mã thủ tục\n"
                    "A,Tiếp nhận,2026-03-02 08:00,Một cửa,000.00.12.H10,1.001806\n", encoding="utf-8")
    traces = list(read_table(path, ColumnMapping()))
    event = traces[0].events[0].attributes
    assert traces[0].case_id == "A"
    assert (event["concept:name"], event["time:timestamp"], event["org:group"], event["case:agency"],
            event["case:procedure"]) == ("Tiếp nhận", "2026-03-02 08:00", "Một cửa", "000.00.12.H10", "1.001806")


def test_a_heading_the_mapping_names_is_never_renamed(tmp_path: Path) -> None:
    path = tmp_path / "log.csv"
    path.write_text("case,activity,timestamp,step\nA,Tiếp nhận,2026-03-02 08:00,x\n", encoding="utf-8")
    traces = list(read_table(path, ColumnMapping(activity="step")))
    assert traces[0].events[0].attributes["step"] == "x" and "concept:name" not in traces[0].events[0].attributes
