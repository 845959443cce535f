"""A realistic month of one-stop-shop traffic, as contract events, reproducible from a seed.

Each case walks its procedure through the real workflow (so gateways follow the case
data), with step times drawn against the allowances in working time. A share of cases
deviate the way real ones do: requests for supplements (some too late), suspensions,
late steps, apologies with new appointments (some too late, some twice), skipped steps,
mistyped step ids, withdrawals and refusals, events after closing, repeated deliveries.
"""

from __future__ import annotations

import random
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from typing import Any

from engine.core.calendar import WorkingCalendar
from engine.core.procedure import LoadedProcedure
from engine.core.workflow import CaseWorkflow

# Agencies per procedure: a province department, or several communes (two-tier government since 2025).
AGENCIES: dict[str, tuple[str, ...]] = {
    "1.001806": ("000.00.12.H10",),
    "1.009972": ("000.00.13.H10",),
    "1.001193": ("000.31.12.H10", "000.32.12.H10", "000.33.12.H10", "000.34.12.H10"),
    "1.001029": ("000.31.12.H10", "000.32.12.H10", "000.35.12.H10"),
}
OFFICERS = ("Nguyễn Văn An", "Trần Thị Bình", "Lê Văn Cường", "Phạm Thị Dung", "Hoàng Văn Em", "Vũ Thị Giang")


@dataclass(frozen=True)
class Deviation:
    """Shares of cases (0..1) that deviate; the defaults look like a province's month."""

    supplement: float = 0.05
    late_supplement: float = 0.25  # of the supplements
    suspension: float = 0.02
    slow_step: float = 0.07
    skip_step: float = 0.02
    unknown_step: float = 0.01
    withdrawn: float = 0.01
    rejected: float = 0.005
    event_after_close: float = 0.005
    appointment_beyond_limit: float = 0.01
    apology_when_late: float = 0.6
    second_extension: float = 0.05
    repeated_delivery: float = 0.01
    step_started: float = 0.3


@dataclass
class _Case:
    case_id: str
    agency: str
    procedure: LoadedProcedure
    events: list[dict[str, Any]] = field(default_factory=list)


class Simulator:
    def __init__(self, procedures: Sequence[LoadedProcedure], calendar: WorkingCalendar, seed: int,
                 deviation: Deviation | None = None):
        if not procedures:
            raise ValueError("no procedure to simulate")
        self.procedures = sorted(procedures, key=lambda p: p.definition.code)
        self.calendar = calendar
        self.rng = random.Random(seed)
        self.deviation = deviation or Deviation()
        self._serial: dict[tuple[str, date], int] = {}

    def month(self, first_day: date, cases: int,
              progress: Callable[[int], None] | None = None) -> list[dict[str, Any]]:
        """Events of ``cases`` cases received in the month of ``first_day``, ordered as streamed.

        Events after the month's end are left out: those cases are still open.
        """
        start = datetime.combine(first_day.replace(day=1), time(0), self.calendar.zone)
        end = datetime.combine(_next_month(start.date()), time(0), self.calendar.zone)
        days = [start.date() + timedelta(days=i) for i in range((end - start).days)]
        working = [d for d in days if self.calendar.is_working_day(d)] or days
        all_events: list[tuple[datetime, int, dict[str, Any]]] = []
        order = 0
        for number in range(cases):
            if progress is not None and number % 100 == 0:
                progress(number)
            case = self._simulate_case(working)
            for event in case.events:
                occurred = datetime.fromisoformat(event["occurred_at"])
                if occurred < end:
                    all_events.append((occurred, order, event))
                    order += 1
        all_events.sort(key=lambda item: (item[0], item[1]))
        stream: list[dict[str, Any]] = []
        for _, _, event in all_events:
            stream.append(event)
            if self.rng.random() < self.deviation.repeated_delivery:
                stream.append(dict(event))  # the same event delivered twice (same event_id)
        return stream

    def case_events(self, days: Sequence[date]) -> list[dict[str, Any]]:
        """Every event of one case received on one of ``days``, in the order they occur (none left out)."""
        events = self._simulate_case(list(days)).events
        return sorted(events, key=lambda event: datetime.fromisoformat(event["occurred_at"]))

    # -- one case ------------------------------------------------------------------------
    def _simulate_case(self, working_days: list[date]) -> _Case:
        rng, cal, dev = self.rng, self.calendar, self.deviation
        procedure = rng.choice(self.procedures)
        code = procedure.definition.code
        agency = rng.choice(AGENCIES.get(code, ("000.00.00.H10",)))
        day = rng.choice(working_days)
        received = self._receipt_time(day)
        case = _Case(self._case_id(agency, day), agency, procedure)
        data = self._case_data(code)
        start = cal.case_start(received)
        limit = procedure.definition.statutory_limit_seconds
        due = cal.add(start, limit)
        appointment = due
        if rng.random() < dev.appointment_beyond_limit:
            appointment = cal.add(due, cal.day_seconds * rng.randint(1, 3))
        self._emit(case, "case.received", received, due_at=appointment, data=data)
        now = start
        if rng.random() < dev.supplement:
            late = rng.random() < dev.late_supplement
            asked = cal.add(start, int(cal.day_seconds * (rng.uniform(3.2, 5) if late else rng.uniform(0.2, 2.5))))
            self._emit(case, "case.supplement_requested", asked, reason="Thiếu giấy tờ theo quy định")
            back = cal.add(cal.next_working_instant(asked), int(cal.day_seconds * rng.uniform(1, 6)))
            self._emit(case, "case.supplement_received", back)
            now = cal.case_start(back)
            due = cal.add(now, limit)
        ending = rng.random()
        if ending < dev.withdrawn + dev.rejected:
            kind = "case.withdrawn" if ending < dev.withdrawn else "case.rejected"
            stop_at = cal.add(now, int(limit * rng.uniform(0.1, 0.6)))
            self._walk(case, data, now, due, until=stop_at)
            self._emit(case, kind, stop_at, reason="Công dân rút hồ sơ" if kind == "case.withdrawn"
                       else "Hồ sơ không đủ điều kiện")
            return case
        finished = self._walk(case, data, now, due, until=None)
        resolved = cal.add(finished, int(cal.day_seconds * rng.uniform(0, 0.2)))
        self._maybe_apologise(case, received, due, resolved)
        self._emit(case, "case.result_ready", resolved)
        returned = cal.add(resolved, int(cal.day_seconds * rng.uniform(0.1, 3)))
        if "return_result" in procedure.definition.steps:
            self._emit(case, "step.completed", returned, step="return_result")
        self._emit(case, "case.returned", returned)
        if rng.random() < dev.event_after_close:
            self._emit(case, "case.result_ready", cal.add(returned, 3600), reason="Gửi lại thông báo")
        return case

    def _walk(self, case: _Case, data: dict[str, Any], start: datetime, due: datetime,
              until: datetime | None) -> datetime:
        """Complete the steps in workflow order with drawn durations; returns the last completion."""
        rng, cal, dev = self.rng, self.calendar, self.deviation
        workflow = CaseWorkflow.start(case.procedure, data)
        steps = case.procedure.definition.steps
        active: dict[str, datetime] = {tid: start for tid, _ in workflow.ready()}
        last = start
        suspended = rng.random() >= dev.suspension  # True: this case is never suspended
        skip_at = rng.randrange(len(steps)) if rng.random() < dev.skip_step else -1
        typo_at = rng.randrange(len(steps)) if rng.random() < dev.unknown_step else -1
        planned: dict[str, tuple[datetime, datetime]] = {}  # task id -> (finish, since), drawn once
        for index in range(200):
            ready = {tid: step for tid, step in workflow.ready() if steps[step].counted}
            if not ready:
                break
            for tid, step in ready.items():
                if tid not in planned:
                    since = active.setdefault(tid, last)
                    allowance = steps[step].allowance_seconds or cal.day_seconds
                    factor = rng.uniform(1.05, 2.5) if rng.random() < dev.slow_step else rng.betavariate(2, 3) * 1.05
                    planned[tid] = (cal.add(cal.next_working_instant(since), max(60, int(allowance * factor))), since)
            tid = min(ready, key=lambda t: (planned[t][0], t))
            step = ready[tid]
            finish, since = planned.pop(tid)
            if not suspended:
                suspended = True
                pause = cal.add(since, 1800)
                self._emit(case, "case.suspended", pause, reason="Chờ kết quả xác minh")
                resume = cal.add(pause, int(cal.day_seconds * rng.uniform(1, 4)))
                self._emit(case, "case.resumed", resume)
                finish = cal.add(resume, max(60, cal.between(pause, finish)))
                planned = {t: (cal.add(resume, cal.between(pause, f)) if f > pause else f, s_)
                           for t, (f, s_) in planned.items()}
            if until is not None and finish >= until:
                return last
            if rng.random() < dev.step_started:
                self._emit(case, "step.started", cal.add(cal.next_working_instant(since), 900), step=step,
                           actor=self._actor(steps[step].unit))
            if index == skip_at and len(ready) == 1:
                pass  # the one-stop-shop never reports this handover
            elif index == typo_at:
                self._emit(case, "step.completed", finish, step=step + "_x", actor=self._actor(steps[step].unit))
                self._emit(case, "step.completed", finish + timedelta(minutes=5), step=step,
                           actor=self._actor(steps[step].unit))
            else:
                self._emit(case, "step.completed", finish, step=step, actor=self._actor(steps[step].unit))
            workflow.complete(tid, data)
            last = max(last, finish)
            active.pop(tid, None)
            for new_tid, _ in workflow.ready():
                active.setdefault(new_tid, last)
        return last

    def _maybe_apologise(self, case: _Case, received: datetime, due: datetime, resolved: datetime) -> None:
        rng, cal = self.rng, self.calendar
        if resolved <= due or rng.random() > self.deviation.apology_when_late:
            return
        ahead = int(cal.day_seconds * (rng.uniform(1.0, 2.0) if rng.random() < 0.8 else rng.uniform(0, 0.8)))
        when = max(received + timedelta(hours=1), _minus_working(cal, due, ahead))
        new_due = cal.add(resolved, cal.day_seconds)
        self._emit(case, "case.extended", when, due_at=new_due, reason="Cần thêm thời gian thẩm định")
        if rng.random() < self.deviation.second_extension:
            self._emit(case, "case.extended", cal.add(when, cal.day_seconds), due_at=cal.add(new_due, 8 * 3600),
                       reason="Chờ ý kiến cơ quan phối hợp")

    # -- details -------------------------------------------------------------------------
    def _receipt_time(self, day: date) -> datetime:
        rng = self.rng
        if rng.random() < 0.1:  # filed online, any hour
            minutes = rng.randint(0, 24 * 60 - 1)
        else:
            minutes = rng.choice([rng.randint(7 * 60 + 30, 11 * 60 + 30), rng.randint(13 * 60, 17 * 60)])
        return datetime.combine(day, time(0), self.calendar.zone) + timedelta(minutes=minutes,
                                                                              seconds=rng.randint(0, 59))

    def _case_id(self, agency: str, day: date) -> str:
        key = (agency, day)
        self._serial[key] = self._serial.get(key, 0) + 1
        return f"{agency}-{day:%y%m%d}-{self._serial[key]:04d}"

    def _case_data(self, code: str) -> dict[str, Any]:
        rng = self.rng
        if code == "1.001029":
            return {"eligible": rng.random() < 0.9, "min_room_area_m2": rng.randint(16, 60)}
        if code == "1.009972":
            return {"needs_site_inspection": rng.random() < 0.3, "total_floor_area_m2": rng.randint(80, 900)}
        return {}

    def _actor(self, unit: str | None) -> dict[str, Any]:
        return {"unit": unit, "officer": self.rng.choice(OFFICERS)}

    def _emit(self, case: _Case, type_: str, when: datetime, **fields: Any) -> None:
        event: dict[str, Any] = {
            "event_id": f"{case.case_id}:{len(case.events) + 1:03d}",
            "type": type_,
            "case_id": case.case_id,
            "agency": case.agency,
            "procedure": case.procedure.definition.code,
            "occurred_at": self.calendar.local(when).isoformat(),
        }
        for name, value in fields.items():
            if value is None:
                continue
            event[name] = self.calendar.local(value).isoformat() if isinstance(value, datetime) else value
        case.events.append(event)


def _minus_working(cal: WorkingCalendar, t: datetime, seconds: int) -> datetime:
    """The instant ``seconds`` of working time before ``t`` (coarse: steps back by hours)."""
    probe = t
    for _ in range(24 * 30):
        probe -= timedelta(hours=1)
        if cal.between(probe, t) >= seconds:
            return probe
    return probe


def _next_month(d: date) -> date:
    return date(d.year + (d.month == 12), d.month % 12 + 1, 1)


def iter_lines(events: Sequence[dict[str, Any]]) -> Iterator[str]:
    import json

    for event in events:
        yield json.dumps(event, ensure_ascii=False)
