"""One label table per language: headings, values (types, timeliness, yes/no) and how a rate reads.

The command line's table and CSV and the API's CSV and XLSX take every word a person reads from
here. JSON stays for machines: codes, raw ratios, ``true``/``false`` and the ``*`` of totals.
Vietnamese writes the decimal with a comma (94,8%), English with a point (94.8%); only cells
written for people (percentages, words) follow the language, other numbers stay plain numbers
so that a spreadsheet still computes with them.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from engine.core.nonconformities import LABELS_EN, LABELS_VI
from engine.core.states import Timeliness
from engine.reporting.formats import Language
from engine.reporting.steps import Level


@dataclass(frozen=True)
class Labels:
    headings: dict[str, str]
    values: dict[str, dict[str, str]]  # column -> code -> words
    words: dict[str, str]  # yes, no, total, objective, titles
    decimal_mark: str

    def heading(self, column: str) -> str:
        return self.headings.get(column, column)

    def value(self, column: str, code: Any) -> Any:
        return self.values.get(column, {}).get(code, code) if isinstance(code, str) else code

    def yes_no(self, value: bool | None) -> str | None:
        return None if value is None else self.words["yes" if value else "no"]

    def decimal(self, value: float) -> str:
        """A decimal number for the terminal, two places, in the language's mark (CSV keeps plain numbers)."""
        return f"{value:.2f}".replace(".", self.decimal_mark)

    def percent(self, value: Decimal | None) -> str | None:
        return None if value is None else f"{value:.1f}".replace(".", self.decimal_mark) + "%"


CAUSES = {
    "vi": {"staff": "Cán bộ, công chức", "procedure": "Quy trình", "it_system": "Hệ thống công nghệ thông tin",
           "workload": "Khối lượng công việc", "coordination": "Phối hợp liên thông", "applicant": "Người nộp hồ sơ",
           "legal_change": "Thay đổi quy định pháp luật", "other": "Khác"},
    "en": {"staff": "Staff", "procedure": "Procedure", "it_system": "IT system", "workload": "Workload",
           "coordination": "Inter-agency coordination", "applicant": "Applicant",
           "legal_change": "Change in the law", "other": "Other"},
}

_HEADINGS = {
    "en": {
        "agency": "Agency", "procedure": "Procedure", "received": "Received", "resolved": "Resolved",
        "early": "Early", "on_time": "On time", "late": "Late", "open_overdue": "Open overdue",
        "on_time_rate": "On-time rate", "meets_objective": "Meets objective", "step": "Step", "unit": "Unit",
        "allowance_hours": "Allowance (h)", "completed": "Completed", "median_hours": "Median (h)",
        "p90_hours": "90th pct (h)", "late_steps": "Late", "type": "Nonconformity", "count": "Count",
        "title": "Timeliness report", "steps_title": "Step working time against allowance",
        "nc_title": "Nonconformities by type",
        "month": "Month", "share": "Share", "cumulative_share": "Cumulative share", "category": "Root cause",
        "label": "Label", "p90_ratio": "90th pct / allowance", "median_ratio": "Median / allowance",
        "over_allowance": "Over allowance", "case_id": "Case", "resolved_at": "Resolved at",
        "timeliness": "Timeliness", "index1": "Index 1 (points)", "index2": "Index 2 (points)",
        "dossiers": "Dossiers", "steps": "Steps", "points_2": "2 points", "points_1": "1 point",
        "points_0": "0 points", "average": "Average", "index1_average": "Index 1 average",
        "index2_average": "Index 2 average", "unit_steps": "Unit steps", "type_code": "Type code",
        "cause_code": "Cause code", "step_name": "Step name", "waiting": "Waiting now", "overdue": "Overdue now",
        "completed_late": "Completed late", "breach_rate": "Breach rate", "level": "Level",
        "agency_original": "Original agency code", "kind": "Finding", "code": "Code", "changed_on": "Changed on",
        "version": "Version", "scope": "Agencies", "deployed_limit": "Deployed limit",
        "catalogue_limit": "Catalogue limit", "detail": "Detail",
    },
    "vi": {
        "agency": "Cơ quan", "procedure": "Thủ tục", "received": "Tiếp nhận", "resolved": "Đã giải quyết",
        "early": "Trước hạn", "on_time": "Đúng hạn", "late": "Quá hạn", "open_overdue": "Đang quá hạn",
        "on_time_rate": "Tỷ lệ đúng hạn", "meets_objective": "Đạt mục tiêu", "step": "Bước",
        "unit": "Đơn vị", "allowance_hours": "Định mức (giờ)", "completed": "Hoàn thành",
        "median_hours": "Trung vị (giờ)", "p90_hours": "Phân vị 90 (giờ)", "late_steps": "Trễ hạn",
        "type": "Loại điểm không phù hợp", "count": "Số lượng", "title": "Báo cáo kết quả giải quyết hồ sơ",
        "steps_title": "Thời gian xử lý từng bước so với định mức", "nc_title": "Điểm không phù hợp theo loại",
        "month": "Tháng", "share": "Tỷ lệ", "cumulative_share": "Tỷ lệ cộng dồn", "category": "Nguyên nhân",
        "label": "Tên", "p90_ratio": "Phân vị 90 / định mức", "median_ratio": "Trung vị / định mức",
        "over_allowance": "Vượt định mức", "case_id": "Hồ sơ", "resolved_at": "Ngày giải quyết",
        "timeliness": "Tiến độ", "index1": "Chỉ số 1 (điểm)", "index2": "Chỉ số 2 (điểm)",
        "dossiers": "Số hồ sơ", "steps": "Số bước", "points_2": "2 điểm", "points_1": "1 điểm",
        "points_0": "0 điểm", "average": "Điểm trung bình", "index1_average": "Chỉ số 1 trung bình",
        "index2_average": "Chỉ số 2 trung bình", "unit_steps": "Số bước của đơn vị", "type_code": "Mã loại",
        "cause_code": "Mã nguyên nhân", "step_name": "Tên bước", "waiting": "Đang chờ xử lý",
        "overdue": "Đang quá hạn", "completed_late": "Hoàn thành trễ hạn", "breach_rate": "Tỷ lệ vi phạm thời hạn",
        "level": "Mức độ",
        "agency_original": "Mã cơ quan khi tiếp nhận", "kind": "Nội dung cần xem xét", "code": "Mã thủ tục",
        "changed_on": "Ngày thay đổi", "version": "Phiên bản", "scope": "Cơ quan áp dụng",
        "deployed_limit": "Thời hạn đang áp dụng", "catalogue_limit": "Thời hạn theo CSDL quốc gia",
        "detail": "Chi tiết",
    },
}
# The command line's report headings (``engine.reports.HEADINGS``), kept for its callers.
HEADINGS = _HEADINGS

LABELS = {
    Language.vi: Labels(
        headings=_HEADINGS["vi"],
        values={"type": LABELS_VI, "timeliness": {Timeliness.EARLY: "Trước hạn", Timeliness.ON_TIME: "Đúng hạn",
                                                  Timeliness.LATE: "Quá hạn"},
                "level": {Level.NONE: "Chưa có số liệu", Level.OK: "Tốt", Level.WARN: "Cần chú ý",
                          Level.BAD: "Nghiêm trọng"}},
        words={"yes": "có", "no": "không", "total": "Tổng cộng", "objective": "mục tiêu", "period": "kỳ báo cáo"},
        decimal_mark=",",
    ),
    Language.en: Labels(
        headings=_HEADINGS["en"],
        values={"type": LABELS_EN, "timeliness": {Timeliness.EARLY: "Early", Timeliness.ON_TIME: "On time",
                                                  Timeliness.LATE: "Late"},
                "level": {Level.NONE: "No data", Level.OK: "OK", Level.WARN: "Warning", Level.BAD: "Bad"}},
        words={"yes": "yes", "no": "no", "total": "Total", "objective": "objective", "period": "period"},
        decimal_mark=".",
    ),
}


# Why a running case stays on its version when its procedure's cases are migrated
# (``engine.core.migration``'s reason codes), for the CLI's and the console's tables.
MIGRATION_REASONS: dict[Language, dict[str, str]] = {
    Language.vi: {
        "closed": "hồ sơ đã kết thúc",
        "same_version": "đã ở phiên bản này",
        "step_removed": "bước đang xử lý không còn ở phiên bản mới và không có trong bảng ánh xạ",
        "backwards": "sẽ đưa hồ sơ lùi lại trước bước đã hoàn thành",
        "steps_merged": "hai bước đang xử lý gộp thành một",
        "position_unmapped": "không đặt được hồ sơ vào vị trí tương ứng",
        "paused_new_allowance": "bước có định mức mới trong khi hồ sơ đang tạm dừng",
        "no_target_version": "quy trình hồ sơ đang theo không có phiên bản này",
        "target_retired": "phiên bản đích đã ngừng áp dụng",
        "not_permitted": "quy trình áp dụng cho đơn vị bạn không quản lý",
        "changed_meanwhile": "hồ sơ thay đổi trong lúc chuyển; hãy chuyển lại",
        "case_unreadable": "không đọc được hồ sơ",
    },
    Language.en: {
        "closed": "the case is closed",
        "same_version": "already on this version",
        "step_removed": "an active step is not in the new version and the map does not name it",
        "backwards": "the move would put the case back before a step it completed",
        "steps_merged": "two active steps would become one",
        "position_unmapped": "the case cannot be placed at the mapped position",
        "paused_new_allowance": "a step's allowance changed while the case is paused",
        "no_target_version": "the deployment the case follows has no such version",
        "target_retired": "the target version is retired",
        "not_permitted": "a deployment for agencies you do not manage",
        "changed_meanwhile": "the case changed while it was being moved; migrate again",
        "case_unreadable": "the case could not be read",
    },
}
