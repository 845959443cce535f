"""Procedures drawn from published step tables (issue 13, item 3): reading .csv/.xlsx tables with Vietnamese
headings, the time column in eiso's working durations, lanes, gateways, the diagram, and bad input."""

from __future__ import annotations

from itertools import pairwise
from pathlib import Path

import pytest
from lxml import etree
from openpyxl import Workbook

from engine.procedures.generate import (
    StepTable,
    StepTableError,
    generate_bpmn,
    parse_step_time,
    read_step_table,
)
from engine.procedures.loader import load_procedure, validate_source

NS = {"bpmn": "http://www.omg.org/spec/BPMN/20100524/MODEL",
      "bpmndi": "http://www.omg.org/spec/BPMN/20100524/DI",
      "dc": "http://www.omg.org/spec/DD/20100524/DC",
      "di": "http://www.omg.org/spec/DD/20100524/DI",
      "camunda": "http://camunda.org/schema/1.0/bpmn"}

HEADER = ["Bước", "Nội dung công việc", "Trách nhiệm", "Thời gian", "Kết quả"]
ROWS = [
    ["1", "Tiếp nhận, kiểm tra hồ sơ", "Bộ phận Một cửa", "0,5 ngày", "Phiếu hẹn trả"],
    ["2", "Thẩm định hồ sơ, dự thảo kết quả", "Chuyên viên thụ lý", "02 ngày làm việc", "Dự thảo"],
    ["3", "Xem xét, trình ký", "Lãnh đạo phòng", "04 giờ", "Tờ trình"],
    ["4", "Vào sổ, đóng dấu", "Văn thư", "04 giờ", "Kết quả"],
    ["5", "Trả kết quả", "Bộ phận Một cửa", "Không tính", ""],
]
TITLE = [["QUY TRÌNH NỘI BỘ GIẢI QUYẾT THỦ TỤC HÀNH CHÍNH", "", "", "", ""], ["", "", "", "", ""]]
TOTAL = ["", "Tổng thời gian", "", "3,5 ngày", ""]


def write_csv(path: Path, rows: list[list[str]], sep: str = ";", bom: bool = True) -> Path:
    text = "\n".join(sep.join(f'"{cell}"' if sep in cell else cell for cell in row) for row in rows) + "\n"
    path.write_bytes(("\ufeff" if bom else "").encode() + text.encode("utf-8"))
    return path


def write_xlsx(path: Path, rows: list[list[str]]) -> Path:
    book = Workbook()
    sheet = book.active
    assert sheet is not None
    for row in rows:
        sheet.append(row)
    book.save(path)
    return path


def standard(tmp_path: Path) -> StepTable:
    return read_step_table(write_csv(tmp_path / "quy-trinh.csv", [*TITLE, HEADER, *ROWS, TOTAL]))


def parse(source: bytes) -> etree._Element:
    return etree.fromstring(source)


def props(element: etree._Element) -> dict[str, str]:
    return {p.get("name"): p.get("value") for p in element.iterfind(".//camunda:property", NS)}


@pytest.mark.parametrize(("text", "duration", "minutes"), [
    ("0,5 ngày", "P0.5D", 240),
    ("04 giờ", "PT4H", 240),
    ("02 ngày làm việc", "P2D", 960),
    ("01 ngày", "P1D", 480),
    ("1/2 ngày", "P0.5D", 240),
    ("08 giờ làm việc", "PT8H", 480),
    ("1 ngày 4 giờ", "P1.5D", 720),
    ("1,5 giờ", "PT1H30M", 90),
    ("P7D", "P7D", 3360),
    ("Không tính", None, 0),
])
def test_published_times_become_working_durations(text: str, duration: str | None, minutes: int) -> None:
    assert parse_step_time(text) == (duration, minutes)


@pytest.mark.parametrize("text", ["", "ba ngày", "2 tuần", "2 ngày x", "1/0 ngày"])
def test_unreadable_times_are_refused(text: str) -> None:
    with pytest.raises(ValueError, match=r"time|number"):
        parse_step_time(text)


def test_csv_table_with_titles_and_total(tmp_path: Path) -> None:
    table = standard(tmp_path)
    assert [s.number for s in table.steps] == ["1", "2", "3", "4", "5"]
    assert [s.deadline for s in table.steps] == ["P0.5D", "P2D", "PT4H", "PT4H", None]
    assert table.steps[0].row == 4  # two title rows and the header above it
    assert table.total == "P3.5D" and table.total_row == 9
    assert table.warnings == ()
    assert table.sum_duration == "P3.5D"


@pytest.mark.parametrize(("sep", "bom"), [(",", False), (",", True), (";", False)])
def test_csv_separators_and_bom(tmp_path: Path, sep: str, bom: bool) -> None:
    table = read_step_table(write_csv(tmp_path / "t.csv", [HEADER, *ROWS], sep=sep, bom=bom))
    assert [s.unit for s in table.steps] == [r[2] for r in ROWS]
    assert table.steps[1].time == "02 ngày làm việc"


def test_xlsx_table_with_other_headings(tmp_path: Path) -> None:
    header = ["STT", "NỘI DUNG", "Bộ phận thực hiện", "Thời gian thực hiện", "Kết quả"]
    path = write_xlsx(tmp_path / "t.xlsx", [*TITLE, header, *ROWS, ["", "Tổng cộng", "", "3,5 ngày", ""]])
    table = read_step_table(path)
    assert [s.work for s in table.steps] == [r[1] for r in ROWS]
    assert table.total == "P3.5D"


def test_inconsistent_total_is_reported(tmp_path: Path) -> None:
    total = ["", "Tổng thời gian", "", "05 ngày", ""]
    table = read_step_table(write_csv(tmp_path / "t.csv", [HEADER, *ROWS, total]))
    assert len(table.warnings) == 1
    assert "row 7" in table.warnings[0] and "P5D" in table.warnings[0] and "P3.5D" in table.warnings[0]


def test_generated_file_validates_with_lanes_properties_and_diagram(tmp_path: Path) -> None:
    table = standard(tmp_path)
    source = generate_bpmn(table, "1.001806", "P10D", "Cấp phép")
    assert [p for p in validate_source(source, "generated.bpmn") if p.is_error] == []
    assert validate_source(source, "generated.bpmn") == []
    loaded = load_procedure(source, "generated.bpmn")
    definition = loaded.definition
    assert definition.code == "1.001806"
    assert definition.statutory_limit_seconds == 10 * 8 * 3600
    steps = list(definition.steps.values())
    assert [s.allowance_seconds for s in steps] == [4 * 3600, 16 * 3600, 4 * 3600, 4 * 3600, None]
    assert [s.unit for s in steps] == [r[2] for r in ROWS]
    assert [s.counted for s in steps] == [True, True, True, True, False]

    root = parse(source)
    process = root.find("bpmn:process", NS)
    assert process is not None
    assert props(process.find("bpmn:extensionElements", NS)) == {"procedureCode": "1.001806",
                                                                  "statutoryLimit": "P10D"}
    lanes = {lane.get("name"): [ref.text for ref in lane.iterfind("bpmn:flowNodeRef", NS)]
             for lane in process.iterfind(".//bpmn:lane", NS)}
    assert list(lanes) == ["Bộ phận Một cửa", "Chuyên viên thụ lý", "Lãnh đạo phòng", "Văn thư"]
    assert lanes["Bộ phận Một cửa"] == ["dossier_received", "step_1", "step_5", "procedure_end"]
    assert lanes["Chuyên viên thụ lý"] == ["step_2"]
    assert lanes["Lãnh đạo phòng"] == ["step_3"]
    assert lanes["Văn thư"] == ["step_4"]
    task = process.find("bpmn:userTask[@id='step_2']", NS)
    assert task is not None and task.get("name") == "Thẩm định hồ sơ, dự thảo kết quả"
    assert props(task) == {"deadline": "P2D", "unit": "Chuyên viên thụ lý"}
    flows = [(f.get("sourceRef"), f.get("targetRef")) for f in process.iterfind("bpmn:sequenceFlow", NS)]
    assert flows == [("dossier_received", "step_1"), ("step_1", "step_2"), ("step_2", "step_3"),
                     ("step_3", "step_4"), ("step_4", "step_5"), ("step_5", "procedure_end")]
    check_diagram(root)


def check_diagram(root: etree._Element) -> None:
    """Every flow node, lane, pool and flow has DI; shapes have modeller sizes, do not overlap, sit in their
    lane's band; edges are orthogonal and start/end on their shapes."""
    process = root.find("bpmn:process", NS)
    assert process is not None
    plane = root.find(".//bpmndi:BPMNPlane", NS)
    assert plane is not None
    bounds: dict[str, tuple[float, float, float, float]] = {}
    for shape in plane.iterfind("bpmndi:BPMNShape", NS):
        b = shape.find("dc:Bounds", NS)
        assert b is not None
        bounds[shape.get("bpmnElement", "")] = tuple(float(b.get(k, "")) for k in ("x", "y", "width", "height"))
    edges = {e.get("bpmnElement"): [(float(w.get("x", "")), float(w.get("y", "")))
                                    for w in e.iterfind("di:waypoint", NS)]
             for e in plane.iterfind("bpmndi:BPMNEdge", NS)}
    sizes = {"userTask": (100, 80), "startEvent": (36, 36), "endEvent": (36, 36), "exclusiveGateway": (50, 50)}
    nodes = {el.get("id"): el.tag.split("}")[1] for el in process
             if el.tag.split("}")[1] in sizes}
    lane_of = {ref.text: lane.get("id") for lane in process.iterfind(".//bpmn:lane", NS)
               for ref in lane.iterfind("bpmn:flowNodeRef", NS)}
    assert set(lane_of) == set(nodes)
    for node_id, kind in nodes.items():
        x, y, w, h = bounds[node_id]
        assert (w, h) == sizes[kind], node_id
        lx, ly, lw, lh = bounds[str(lane_of[node_id])]
        assert lx + 30 <= x and x + w <= lx + lw and ly <= y and y + h <= ly + lh, node_id  # in its band
    placed = [bounds[n] for n in nodes]
    for shape in plane.iterfind("bpmndi:BPMNShape", NS):  # event and gateway names: below them, on no shape
        label = shape.find("bpmndi:BPMNLabel/dc:Bounds", NS)
        if label is not None:
            placed.append(tuple(float(label.get(k, "")) for k in ("x", "y", "width", "height")))
    for i, (ax, ay, aw, ah) in enumerate(placed):
        for bx, by, bw, bh in placed[i + 1:]:
            assert ax + aw <= bx or bx + bw <= ax or ay + ah <= by or by + bh <= ay, "overlapping shapes"
    lanes = [bounds[str(lane.get("id"))] for lane in process.iterfind(".//bpmn:lane", NS)]
    for upper, lower in pairwise(lanes):
        assert upper[1] + upper[3] == lower[1]
    pool = next(b for key, b in bounds.items() if key.startswith("pool_"))
    assert pool[0] + 30 == lanes[0][0] and pool[1] == lanes[0][1]
    assert sum(lane[3] for lane in lanes) == pool[3]
    flows = {f.get("id"): f for f in process.iterfind("bpmn:sequenceFlow", NS)}
    assert set(edges) == set(flows)
    for flow_id, points in edges.items():
        assert len(points) >= 2
        for (ax, ay), (bx, by) in pairwise(points):
            assert ax == bx or ay == by, f"{flow_id} is not orthogonal"
        sx, sy, sw, sh = bounds[str(flows[flow_id].get("sourceRef"))]
        tx, ty, _, th = bounds[str(flows[flow_id].get("targetRef"))]
        assert points[0] == (sx + sw, sy + sh / 2)
        assert points[-1] == (tx, ty + th / 2)


BRANCH_HEADER = ["STT", "Nội dung công việc", "Đơn vị thực hiện", "Thời gian", "Kết quả", "Bước tiếp theo",
                 "Điều kiện"]
BRANCH_ROWS = [
    ["1", "Tiếp nhận hồ sơ", "Bộ phận Một cửa", "04 giờ", "Phiếu hẹn", "", ""],
    ["2", "Thẩm định hồ sơ", "Chuyên viên thụ lý", "02 ngày làm việc", "Dự thảo", "3, 5", ""],
    ["3", "Trình ký", "Lãnh đạo phòng", "0,5 ngày", "Quyết định", "", "hop_le == true"],
    ["4", "Vào sổ, đóng dấu", "Văn thư", "04 giờ", "", "6", ""],
    ["5", "Dự thảo văn bản từ chối", "Chuyên viên thụ lý", "04 giờ", "Văn bản trả lời", "6", "khác"],
    ["6", "Trả kết quả", "Bộ phận Một cửa", "Không tính", "", "Kết thúc", ""],
]


def test_branch_table_makes_a_gateway_with_conditions(tmp_path: Path) -> None:
    table = read_step_table(write_csv(tmp_path / "b.csv", [BRANCH_HEADER, *BRANCH_ROWS], sep=","))
    source = generate_bpmn(table, "1.000002", "P5D", None)
    assert [p for p in validate_source(source, "b.bpmn") if p.is_error] == []
    root = parse(source)
    process = root.find("bpmn:process", NS)
    assert process is not None
    gateways = process.findall("bpmn:exclusiveGateway", NS)
    assert [g.get("id") for g in gateways] == ["step_2_gateway"]
    out = {f.get("targetRef"): f for f in process.iterfind("bpmn:sequenceFlow[@sourceRef='step_2_gateway']", NS)}
    assert set(out) == {"step_3", "step_5"}
    condition = out["step_3"].find("bpmn:conditionExpression", NS)
    assert condition is not None and condition.text == "hop_le == true"
    assert gateways[0].get("default") == out["step_5"].get("id")
    lanes = {lane.get("name"): [ref.text for ref in lane.iterfind("bpmn:flowNodeRef", NS)]
             for lane in process.iterfind(".//bpmn:lane", NS)}
    assert lanes["Chuyên viên thụ lý"] == ["step_2", "step_2_gateway", "step_5"]
    check_diagram(root)
    assert load_procedure(source, "b.bpmn").definition.graph["step_2_gateway"] == ("step_3", "step_5")


def test_loop_back_is_drawn_and_valid(tmp_path: Path) -> None:
    rows = [r[:] for r in BRANCH_ROWS]
    rows[2][5] = "2, 4"  # the head sends the draft back to the officer, or on to the clerk
    rows[1][5], rows[1][6] = "", ""
    rows[1][6] = "tra_lai == true"
    rows[3][6] = "khác"
    rows[4] = ["5", "Lưu hồ sơ", "Văn thư", "04 giờ", "", "Kết thúc", ""]
    rows[3][5] = "6"
    table = read_step_table(write_csv(tmp_path / "l.csv", [BRANCH_HEADER, *rows[:4], rows[5]], sep=","))
    source = generate_bpmn(table, "1.000003", "P5D", None)
    assert [p for p in validate_source(source, "l.bpmn") if p.is_error] == []
    check_diagram(parse(source))


@pytest.mark.parametrize(("rows", "message"), [
    ([HEADER, ["1", "Tiếp nhận", "Bộ phận Một cửa", "", ""]], r"row 2 \(step 1\): no time"),
    ([HEADER, ["1", "Tiếp nhận", "", "04 giờ", ""]], r"row 2 \(step 1\): no responsible unit"),
    ([HEADER, ["1", "Tiếp nhận", "Văn thư", "ba ngày", ""]], r"row 2 \(step 1\): unreadable time 'ba ngày'"),
    ([BRANCH_HEADER, ["1", "Tiếp nhận", "Văn thư", "04 giờ", "", "7", ""]], r"row 2: next step '7' names no step"),
    ([["Số", "Việc", "Ai", "Khi nào"], ["1", "Tiếp nhận", "Văn thư", "04 giờ"]], "no header row found"),
    ([["Tiêu đề"], HEADER, ["", "", "", "", ""]], r"no steps below its header row \(row 2\)"),
    ([HEADER], "no steps below"),
    ([], "no header row found"),
    ([BRANCH_HEADER, ["1", "Tiếp nhận", "Văn thư", "04 giờ", "", "2, 3", ""],
      ["2", "A", "Văn thư", "04 giờ", "", "", ""], ["3", "B", "Văn thư", "04 giờ", "", "", ""]],
     r"row 2: next steps step 2, step 3 have no condition"),
    ([BRANCH_HEADER, ["1", "Tiếp nhận", "Văn thư", "04 giờ", "", "2, 3", ""],
      ["2", "A", "Văn thư", "04 giờ", "", "", "__import__('os')"], ["3", "B", "Văn thư", "04 giờ", "", "", ""]],
     r"row 3 \(step 2\): condition .* is refused"),
    ([BRANCH_HEADER, ["1", "Tiếp nhận", "Văn thư", "04 giờ", "", "3", ""],
      ["2", "A", "Văn thư", "04 giờ", "", "", ""], ["3", "B", "Văn thư", "04 giờ", "", "", ""]],
     r"row 3: step 2 is never reached"),
    ([BRANCH_HEADER, ["1", "Tiếp nhận", "Văn thư", "04 giờ", "", "", ""],
      ["2", "A", "Văn thư", "04 giờ", "", "3", ""], ["3", "B", "Văn thư", "04 giờ", "", "2", ""]],
     r"row 2: step 1 never reaches the end"),
    ([HEADER, ["1", "Tiếp nhận", "Văn thư", "04 giờ", ""], ["1", "A", "Văn thư", "04 giờ", ""]],
     r"row 3: step '1' is also row 2's number"),
])
def test_bad_tables_are_refused_naming_the_row(tmp_path: Path, rows: list[list[str]], message: str) -> None:
    path = write_csv(tmp_path / "bad.csv", rows, sep=",")
    with pytest.raises(StepTableError, match=message):
        read_step_table(path)
    xlsx = write_xlsx(tmp_path / "bad.xlsx", rows)
    with pytest.raises(StepTableError, match=message):
        read_step_table(xlsx)


def test_unsupported_and_unreadable_files(tmp_path: Path) -> None:
    other = tmp_path / "t.ods"
    other.write_bytes(b"x")
    with pytest.raises(StepTableError, match=r"expected a \.xlsx or \.csv"):
        read_step_table(other)
    broken = tmp_path / "t.xlsx"
    broken.write_bytes(b"not a zip")
    with pytest.raises(StepTableError, match=r"not a readable \.xlsx"):
        read_step_table(broken)
    latin = tmp_path / "t.csv"
    latin.write_bytes("Bước;Nội dung".encode("cp1258", "replace") + b"\xff")
    with pytest.raises(StepTableError, match="not UTF-8"):
        read_step_table(latin)


def test_numbers_under_a_heading_with_its_unit_and_a_total_elsewhere(tmp_path: Path) -> None:
    header = ["TT", "Nội dung công việc", "Trách nhiệm thực hiện", "Thời gian (ngày làm việc)", "Kết quả"]
    rows = [["1", "Tiếp nhận", "Bộ phận Một cửa", 0.5, ""], ["2", "Thẩm định", "Chuyên viên thụ lý", 2, ""],
            ["3", "Ký", "Lãnh đạo phòng", "04 giờ", ""]]
    book = Workbook()
    sheet = book.active
    assert sheet is not None
    sheet.append(header)
    for row in rows:
        sheet.append(row)
    sheet.append(["Tổng cộng", "", "", "", "03 ngày"])
    book.save(tmp_path / "t.xlsx")
    table = read_step_table(tmp_path / "t.xlsx")
    assert [s.deadline for s in table.steps] == ["P0.5D", "P2D", "PT4H"]
    assert table.total == "P3D" and table.warnings == ()


def test_tab_separated_and_an_unused_condition_is_reported(tmp_path: Path) -> None:
    header = [*HEADER, "Điều kiện"]
    rows = [[*row, ""] for row in ROWS]
    rows[1][5] = "hop_le == true"
    table = read_step_table(write_csv(tmp_path / "t.csv", [header, *rows], sep="\t", bom=False))
    assert len(table.steps) == 5
    assert len(table.warnings) == 1 and "row 3" in table.warnings[0] and "not used" in table.warnings[0]


def test_step_labels_as_written_name_the_next_steps(tmp_path: Path) -> None:
    rows = [BRANCH_HEADER,
            ["Bước 1", "Tiếp nhận", "Bộ phận Một cửa", "04 giờ", "", "Bước 2.1; Bước 2.2", ""],
            ["Bước 2.1", "Thẩm định", "Chuyên viên thụ lý", "01 ngày", "", "Bước 03", "loai == 'moi'"],
            ["Bước 2.2", "Gia hạn", "Chuyên viên thụ lý", "04 giờ", "", "3", "còn lại"],
            ["Bước 3", "Ký", "Lãnh đạo phòng", "04 giờ", "", "Kết thúc", ""]]
    table = read_step_table(write_csv(tmp_path / "t.csv", rows, sep=","))
    assert [(s.number, s.next_steps) for s in table.steps] == [
        ("1", ("2.1", "2.2")), ("2.1", ("3",)), ("2.2", ("3",)), ("3", ("end",))]
    source = generate_bpmn(table, "1.000004", "P2D")
    assert [p for p in validate_source(source, "t.bpmn") if p.is_error] == []
    assert b'id="step_2_1"' in source and b"loai == 'moi'" in source
    check_diagram(parse(source))


def test_xlsx_merged_cells_other_sheet_and_merged_total(tmp_path: Path) -> None:
    book = Workbook()
    cover = book.active
    assert cover is not None
    cover.title = "Bìa"
    cover.append(["QUYẾT ĐỊNH ban hành quy trình nội bộ"])
    sheet = book.create_sheet("Quy trình")
    sheet.append(HEADER)
    sheet.append(["1", "Tiếp nhận", "Bộ phận Một cửa", "04 giờ", ""])
    sheet.append(["2", "Thẩm định", "Chuyên viên thụ lý", "01 ngày", ""])
    sheet.append(["3", "Dự thảo", None, "04 giờ", ""])  # the unit merged down from row 3
    sheet.merge_cells("C3:C4")
    sheet.append(["Tổng thời gian", None, None, None, "02 ngày"])
    sheet.merge_cells("A5:D5")
    book.save(tmp_path / "t.xlsx")
    table = read_step_table(tmp_path / "t.xlsx")
    assert [s.unit for s in table.steps] == ["Bộ phận Một cửa", "Chuyên viên thụ lý", "Chuyên viên thụ lý"]
    assert table.total == "P2D" and table.warnings == ()
    source = generate_bpmn(table, "1.000005", "P2D")
    lanes = parse(source).findall(".//bpmn:lane", NS)
    assert [lane.get("name") for lane in lanes] == ["Bộ phận Một cửa", "Chuyên viên thụ lý"]


def test_a_step_whose_work_begins_with_tong_is_not_the_totals_row(tmp_path: Path) -> None:
    rows = [HEADER, *ROWS[:2], ["3", "Tổng hợp ý kiến, trình ký", "Lãnh đạo phòng", "04 giờ", ""],
            ["Tổng", "", "", "03 ngày", ""]]
    table = read_step_table(write_csv(tmp_path / "t.csv", rows))
    assert [s.work for s in table.steps][-1] == "Tổng hợp ý kiến, trình ký"
    assert table.total == "P3D" and table.total_row == 5 and table.warnings == ()


def test_conditions_written_on_the_branching_row(tmp_path: Path) -> None:
    rows = [r[:] for r in BRANCH_ROWS]
    rows[1][6] = "Bước 3: hop_le == true; 5: khác"
    rows[2][6] = rows[4][6] = ""
    table = read_step_table(write_csv(tmp_path / "b.csv", [BRANCH_HEADER, *rows], sep=","))
    assert table.warnings == ()
    source = generate_bpmn(table, "1.000006", "P5D")
    assert [p for p in validate_source(source, "b.bpmn") if p.is_error] == []
    process = parse(source).find("bpmn:process", NS)
    assert process is not None
    out = {f.get("targetRef"): f for f in process.iterfind("bpmn:sequenceFlow[@sourceRef='step_2_gateway']", NS)}
    condition = out["step_3"].find("bpmn:conditionExpression", NS)
    assert condition is not None and condition.text == "hop_le == true"
    gateway = process.find("bpmn:exclusiveGateway", NS)
    assert gateway is not None and gateway.get("default") == out["step_5"].get("id")
    rows[1][6] = "3: hồ sơ hợp lệ; 5: khác"
    with pytest.raises(StepTableError, match=r"row 3 \(step 2\): condition 'hồ sơ hợp lệ' is refused"):
        read_step_table(write_csv(tmp_path / "c.csv", [BRANCH_HEADER, *rows], sep=","))
