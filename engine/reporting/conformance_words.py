"""The words of the conformance report and of the practice picture, per language (Vietnamese by default).

Kept beside ``engine.reporting.labels`` (the other reports' words) in the same shape: headings by column,
values by code, and the picture's phrases.
"""

from __future__ import annotations

from engine.reporting.formats import Language

__all__ = ["DEVIATIONS", "HEADINGS", "PICTURE"]

HEADINGS = {
    Language.vi: {
        "title": "Mức độ tuân thủ quy trình", "procedure": "Thủ tục", "cases": "Số hồ sơ",
        "conforming": "Tuân thủ", "conformance_rate": "Tỷ lệ tuân thủ", "log_fitness": "Độ khớp (token)",
        "fitting_share": "Tỷ lệ hồ sơ khớp", "cases_with_rework": "Hồ sơ phải làm lại",
        "rework_hours": "Thời gian làm lại (giờ)", "kind": "Sai lệch", "step": "Bước", "path": "Trình tự thực tế",
        "median_hours": "Trung vị (giờ)", "deviations_title": "Sai lệch thường gặp",
        "variants_title": "Các trình tự thực tế (biến thể)",
        "name": "Tên bước", "allowance_hours": "Định mức (giờ)", "skipped": "Bị bỏ qua",
        "p90_hours": "Phân vị 90 (giờ)",
        "median_ratio": "Trung vị / định mức", "p90_ratio": "Phân vị 90 / định mức",
        "routinely_exceeded": "Thường xuyên vượt định mức", "from": "Từ bước", "to": "Đến bước",
        "in_procedure": "Có trong quy trình", "steps_title": "Các bước trong thực tế",
        "edges_title": "Chuyển giao trong thực tế", "yes": "có", "no": "không",
        "cases_title": "Từng hồ sơ", "case_id": "Hồ sơ", "agency": "Cơ quan", "fitness": "Độ khớp",
        "deviations": "Sai lệch",
    },
    Language.en: {
        "title": "Conformance to the procedure", "procedure": "Procedure", "cases": "Cases",
        "conforming": "Conforming", "conformance_rate": "Conformance rate", "log_fitness": "Fitness (token replay)",
        "fitting_share": "Fitting cases", "cases_with_rework": "Cases with rework", "rework_hours": "Rework (h)",
        "kind": "Deviation", "step": "Step", "path": "Path in practice", "median_hours": "Median (h)",
        "deviations_title": "Most common deviations", "variants_title": "Variants (paths in practice)",
        "name": "Step name", "allowance_hours": "Allowance (h)", "skipped": "Skipped", "p90_hours": "90th pct (h)",
        "median_ratio": "Median / allowance", "p90_ratio": "90th pct / allowance",
        "routinely_exceeded": "Routinely over allowance", "from": "From", "to": "To",
        "in_procedure": "In the procedure",
        "steps_title": "Steps in practice", "edges_title": "Handovers in practice", "yes": "yes", "no": "no",
        "cases_title": "Each case", "case_id": "Case", "agency": "Agency", "fitness": "Fitness",
        "deviations": "Deviations",
    },
}

DEVIATIONS = {
    Language.vi: {"step_skipped": "Bỏ qua bước", "step_out_of_order": "Sai trình tự",
                  "step_repeated": "Làm lại bước", "activity_not_in_procedure": "Việc ngoài quy trình"},
    Language.en: {"step_skipped": "Step skipped", "step_out_of_order": "Step out of order",
                  "step_repeated": "Step repeated (rework)",
                  "activity_not_in_procedure": "Activity not in the procedure"},
}

PICTURE = {
    Language.vi: {
        "subtitle": "Thực tế của {cases} hồ sơ đặt cạnh quy trình đã ban hành", "start": "Tiếp nhận",
        "end": "Kết thúc", "allowance": "định mức {hours} giờ",
        "exceeded": "vượt định mức: trung vị ×{median}, P90 ×{p90}",
        "skipped": "bị bỏ qua ở {cases} hồ sơ", "not_in_procedure": "ngoài quy trình",
        "legend_practice": "chuyển giao thực tế (độ dày: số hồ sơ)",
        "legend_not_in_procedure": "chuyển giao không có trong quy trình", "legend_procedure": "quy trình ban hành",
        "legend_skipped": "bước bị bỏ qua",
    },
    Language.en: {
        "subtitle": "Practice of {cases} case(s) beside the documented procedure", "start": "Received", "end": "End",
        "allowance": "allowance {hours} h", "exceeded": "over allowance: median ×{median}, p90 ×{p90}",
        "skipped": "skipped in {cases} case(s)", "not_in_procedure": "not in the procedure",
        "legend_practice": "handover in practice (width: cases)",
        "legend_not_in_procedure": "handover not in the procedure", "legend_procedure": "documented procedure",
        "legend_skipped": "step skipped",
    },
}
