"""The management report: timeliness per agency and procedure, step times, nonconformities.

Definitions (as provincial dashboards count them, domain brief "What leaders look at"):
received = cases received in the period; resolved = cases resolved in the period, early,
on time or late; open overdue = cases still unresolved at the end of the period and past
their due; late = resolved late + open overdue; on-time rate = (early + on time) / (resolved
+ open overdue). A step's working time is the working time between its activation and its
completion.
"""

from __future__ import annotations

import statistics
from collections import Counter, defaultdict
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Engine
from sqlmodel import Session, col, select

from engine.core.agency import EVERY_AGENCY
from engine.core.nonconformities import NONCONFORMITY_TYPES
from engine.store.catalog import ProcedureCatalog
from engine.store.tables import CaseRow, CaseStepRow, NonconformityRow

HEADINGS = {
    "en": {
        "agency": "Agency", "procedure": "Procedure", "received": "Received", "resolved": "Resolved",
        "early": "Early", "on_time": "On time", "late": "Late", "open_overdue": "Open overdue",
        "on_time_rate": "On-time rate", "meets_objective": "Meets objective", "step": "Step", "unit": "Unit",
        "allowance_hours": "Allowance (h)", "completed": "Completed", "median_hours": "Median (h)",
        "p90_hours": "90th pct (h)", "late_steps": "Late", "type": "Nonconformity", "count": "Count",
        "title": "Timeliness report", "steps_title": "Step working time against allowance",
        "nc_title": "Nonconformities by type",
    },
    "vi": {
        "agency": "Cơ quan", "procedure": "Thủ tục", "received": "Tiếp nhận", "resolved": "Đã giải quyết",
        "early": "Trước hạn", "on_time": "Đúng hạn", "late": "Quá hạn", "open_overdue": "Đang quá hạn",
        "on_time_rate": "Tỷ lệ đúng hạn", "meets_objective": "Đạt mục tiêu", "step": "Bước",
        "unit": "Đơn vị", "allowance_hours": "Định mức (giờ)", "completed": "Hoàn thành",
        "median_hours": "Trung vị (giờ)", "p90_hours": "Phân vị 90 (giờ)", "late_steps": "Trễ hạn",
        "type": "Loại điểm không phù hợp", "count": "Số lượng", "title": "Báo cáo kết quả giải quyết hồ sơ",
        "steps_title": "Thời gian xử lý từng bước so với định mức", "nc_title": "Điểm không phù hợp theo loại",
    },
}


@dataclass(frozen=True)
class Period:
    start: datetime
    end: datetime


def build_report(engine: Engine, catalog: ProcedureCatalog, calendar: Any, period: Period, objective: float,
                 agency: str | None = None, procedure: str | None = None) -> dict[str, Any]:
    with Session(engine) as session:
        cases = _filtered(session, select(CaseRow), CaseRow, agency, procedure)
        steps = _filtered(session, select(CaseStepRow).where(
            col(CaseStepRow.completed_at) >= period.start, col(CaseStepRow.completed_at) < period.end
        ), CaseStepRow, agency, procedure)
        ncs = _filtered(session, select(NonconformityRow).where(
            col(NonconformityRow.detected_at) >= period.start, col(NonconformityRow.detected_at) < period.end,
            col(NonconformityRow.status) != "retracted",
        ), NonconformityRow, agency, procedure)
    groups: dict[tuple[str, str], Counter[str]] = defaultdict(Counter)
    for case in cases:
        key = (case.agency, case.procedure)
        if period.start <= case.received_at < period.end:
            groups[key]["received"] += 1
        if case.resolved_at is not None and period.start <= case.resolved_at < period.end:
            groups[key]["resolved"] += 1
            groups[key][case.timeliness or "on_time"] += 1
        elif (case.received_at < period.end and case.due_at is not None and case.due_at < period.end
              and (case.resolved_at is None or case.resolved_at >= period.end)
              and (case.closed_at is None or case.closed_at >= period.end)):
            groups[key]["open_overdue"] += 1
    rows = [_group_row(agency_, proc, counts, objective) for (agency_, proc), counts in sorted(groups.items())]
    totals = _group_row("*", "*", sum(groups.values(), Counter()), objective)
    return {
        "period": {"from": calendar.local(period.start).isoformat(), "to": calendar.local(period.end).isoformat()},
        "quality_objective": objective,
        "groups": rows,
        "totals": totals,
        "steps": _step_rows(steps, catalog, calendar),
        "nonconformities": _nc_rows(ncs),
    }


def _filtered(session: Session, query: Any, table: Any, agency: str | None, procedure: str | None) -> list[Any]:
    if agency is not None:
        query = query.where(table.agency == agency)
    if procedure is not None:
        query = query.where(table.procedure == procedure)
    return list(session.exec(query).all())


def _group_row(agency: str, procedure: str, counts: Counter[str], objective: float) -> dict[str, Any]:
    judged = counts["resolved"] + counts["open_overdue"]
    rate = (counts["early"] + counts["on_time"]) / judged if judged else None
    return {
        "agency": agency,
        "procedure": procedure,
        "received": counts["received"],
        "resolved": counts["resolved"],
        "early": counts["early"],
        "on_time": counts["on_time"],
        "late": counts["late"],
        "open_overdue": counts["open_overdue"],
        "on_time_rate": None if rate is None else round(rate, 4),
        "meets_objective": None if rate is None else rate >= objective,
    }


def _step_rows(steps: list[CaseStepRow], catalog: ProcedureCatalog, calendar: Any) -> list[dict[str, Any]]:
    times: dict[tuple[str, str], list[int]] = defaultdict(list)
    late: Counter[tuple[str, str]] = Counter()
    units: dict[tuple[str, str], str | None] = {}
    for step in steps:
        if step.completed_at is None:
            continue
        key = (step.procedure, step.step)
        times[key].append(calendar.between(step.activated_at, step.completed_at))
        late[key] += step.timeliness == "late"
        units[key] = step.unit
    allowances = _allowances(catalog)
    rows = []
    for (procedure, step_id), values in sorted(times.items()):
        values.sort()
        allowance = allowances.get((procedure, step_id))
        rows.append({
            "procedure": procedure,
            "step": step_id,
            "unit": units[(procedure, step_id)],
            "allowance_hours": None if allowance is None else round(allowance / 3600, 2),
            "completed": len(values),
            "median_hours": round(statistics.median(values) / 3600, 2),
            "p90_hours": round(values[min(len(values) - 1, int(0.9 * len(values)))] / 3600, 2),
            "late_steps": late[(procedure, step_id)],
        })
    return rows


def _allowances(catalog: ProcedureCatalog) -> dict[tuple[str, str], int | None]:
    out: dict[tuple[str, str], int | None] = {}
    # Every-agency versions last, so that a procedure's allowance is the one all agencies follow by default.
    for version in sorted(catalog.versions(), key=lambda v: (v.code, v.scope == EVERY_AGENCY, v.version)):
        definition = catalog.get(version.code, version.version, version.scope).definition
        for step in definition.steps.values():
            out[(version.code, step.step_id)] = step.allowance_seconds
    return out


def _nc_rows(ncs: list[NonconformityRow]) -> list[dict[str, Any]]:
    counts = Counter(nc.type for nc in ncs)
    return [{"type": t, "count": counts[t]} for t in NONCONFORMITY_TYPES if counts[t]]
