"""Circular 01/2018/TT-VPCP Art. 13, indices 1 and 2: each dossier and each unit's step scored 2 / 1 / 0.

Index 1 scores a dossier's total time against the legal limit, index 2 each unit's time
against its allowance: shorter 2, equal 1, longer 0. "Equal" is read with the contract's
timeliness: early (before the calendar day of the due) scores 2, on time (on the due's
calendar day, not after the due instant) 1, late 0. The dossiers are those resolved in the
period; their steps with a timeliness (completed, counted) are the units' steps. A dossier's
index 2 is the lowest score among its steps (a dossier is as late as its latest unit).
"""

from __future__ import annotations

from collections import Counter, defaultdict

from pydantic import BaseModel, Field
from sqlmodel import Session, col, select

from engine.api.deps import Principal
from engine.api.reporting.common import Period, ReportQuery
from engine.core.calendar import Calendar
from engine.core.states import Timeliness
from engine.store.tables import CaseRow, CaseStepRow

POINTS: dict[str | None, int] = {Timeliness.EARLY: 2, Timeliness.ON_TIME: 1, Timeliness.LATE: 0}
AGENCY_COLUMNS = ["agency", "dossiers", "index1_average", "unit_steps", "index2_average"]
UNIT_COLUMNS = ["agency", "unit", "steps", "points_2", "points_1", "points_0", "average"]
DOSSIER_COLUMNS = ["case_id", "agency", "procedure", "resolved_at", "timeliness", "index1", "index2"]


class AgencyScore(BaseModel):
    agency: str
    dossiers: int
    index1_average: float | None
    unit_steps: int
    index2_average: float | None


class UnitScore(BaseModel):
    agency: str
    unit: str
    steps: int
    points_2: int
    points_1: int
    points_0: int
    average: float | None


class DossierScore(BaseModel):
    case_id: str
    agency: str
    procedure: str
    resolved_at: str
    timeliness: str
    index1: int
    index2: int | None


class Circular01Report(BaseModel):
    period_from: str
    period_to: str
    agencies: list[AgencyScore]
    units: list[UnitScore]
    dossiers: list[DossierScore] = Field(description="One page of the dossiers (`limit`, `offset`)")
    dossiers_total: int = Field(description="Dossiers in the period, on every page")


def _average(points: Counter[int]) -> float | None:
    count = sum(points.values())
    return round(sum(p * n for p, n in points.items()) / count, 3) if count else None


def circular01(session: Session, user: Principal, q: ReportQuery, period: Period, calendar: Calendar,
               limit: int, offset: int) -> Circular01Report:
    """The indices over every dossier of the period; the dossiers' own rows, one page of them."""
    cases = session.exec(select(CaseRow).where(
        q.where(user, col(CaseRow.agency), col(CaseRow.procedure)), col(CaseRow.resolved_at) >= period.start,
        col(CaseRow.resolved_at) < period.end, col(CaseRow.timeliness).is_not(None),
    ).order_by(col(CaseRow.resolved_at), col(CaseRow.case_id))).all()
    by_case: dict[str, list[CaseStepRow]] = defaultdict(list)
    ids = [c.case_id for c in cases]
    for start in range(0, len(ids), 500):
        for step in session.exec(select(CaseStepRow).where(col(CaseStepRow.case_id).in_(ids[start:start + 500]),
                                                           col(CaseStepRow.timeliness).is_not(None))).all():
            by_case[step.case_id].append(step)
    index1: dict[str, Counter[int]] = defaultdict(Counter)
    index2: dict[str, Counter[int]] = defaultdict(Counter)
    units: dict[tuple[str, str], Counter[int]] = defaultdict(Counter)
    dossiers = []
    for number, case in enumerate(cases):
        assert case.timeliness is not None and case.resolved_at is not None
        points = POINTS.get(case.timeliness, 0)
        index1[case.agency][points] += 1
        step_points = [POINTS.get(s.timeliness or "", 0) for s in by_case[case.case_id]]
        for step, score in zip(by_case[case.case_id], step_points, strict=True):
            units[(case.agency, step.unit or step.step)][score] += 1
            index2[case.agency][score] += 1
        if not offset <= number < offset + limit:
            continue
        dossiers.append(DossierScore(case_id=case.case_id, agency=case.agency, procedure=case.procedure,
                                     resolved_at=calendar.local(case.resolved_at).isoformat(),
                                     timeliness=case.timeliness,
                                     index1=points, index2=min(step_points) if step_points else None))
    return Circular01Report(
        period_from=period.start.isoformat(), period_to=period.end.isoformat(),
        agencies=[AgencyScore(agency=a, dossiers=sum(index1[a].values()), index1_average=_average(index1[a]),
                              unit_steps=sum(index2[a].values()), index2_average=_average(index2[a]))
                  for a in sorted(index1)],
        units=[UnitScore(agency=a, unit=u, steps=sum(c.values()), points_2=c[2], points_1=c[1], points_0=c[0],
                         average=_average(c)) for (a, u), c in sorted(units.items())],
        dossiers=dossiers, dossiers_total=len(cases))
