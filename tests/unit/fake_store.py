"""In-memory stand-ins for the database, so the application layer is tested without one.

As cosmicpython's ``FakeUnitOfWork``: ``FakeCaseStore`` keeps the rows the SQL store would keep
(journal, cases, steps, nonconformities, snapshots, parked and refused events, outbox rows) in
dictionaries, and a transaction's writes land only when it commits. Cases are rebuilt from those
rows by the store's own ``rebuild``, as the SQL store does.
"""

from __future__ import annotations

import copy
import itertools
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from datetime import datetime
from types import SimpleNamespace
from typing import Any

from engine.core.agency import EVERY_AGENCY, followed, scope_key
from engine.core.clocks import Calendar
from engine.core.events import CaseEvent
from engine.core.procedure import LoadedProcedure
from engine.core.states import NonconformityStatus
from engine.procedures.loader import load_procedure
from engine.store.case_store import ParkedFilter
from engine.store.cases import LiveCase, Recorded, StaleCase, payload_fingerprint, rebuild
from engine.store.catalog import Deployment, Retirement
from engine.store.outbox import DeadLetter
from engine.store.writes import Writes


@dataclass
class Rows:
    """What the database would hold."""

    journal: list[dict[str, Any]] = field(default_factory=list)
    cases: dict[str, dict[str, Any]] = field(default_factory=dict)
    steps: dict[tuple[str, int], dict[str, Any]] = field(default_factory=dict)
    nonconformities: dict[str, dict[str, Any]] = field(default_factory=dict)
    snapshots: dict[str, dict[str, Any]] = field(default_factory=dict)
    parked: dict[int, dict[str, Any]] = field(default_factory=dict)
    refused: list[dict[str, Any]] = field(default_factory=list)
    outbox: dict[str, dict[str, Any]] = field(default_factory=dict)  # by message id
    nc_messages: list[str] = field(default_factory=list)
    dead_letters: list[tuple[DeadLetter, str]] = field(default_factory=list)


class FakeCaseTransaction:
    def __init__(self, store: FakeCaseStore, rows: Rows):
        self.store = store
        self.rows = rows  # a copy: the store takes it when the transaction commits

    def recorded(self, event_id: str, include_parked: bool) -> Recorded | None:
        for entry in self.rows.journal:
            if entry["event_id"] == event_id:
                return Recorded(payload_fingerprint(entry["payload"]))
        if include_parked:
            for parked in sorted(self.rows.parked.values(), key=lambda p: p["id"]):
                if parked["event_id"] == event_id:
                    return Recorded(payload_fingerprint(parked["payload"]))
        return None

    def load_case(self, case_id: str, catalog: Any, calendar: Calendar) -> LiveCase | None:
        row = self.rows.cases.get(case_id)
        if row is None:
            return None
        snapshot = self.rows.snapshots.get(case_id)
        after = snapshot["journal_seq"] if snapshot is not None else 0
        entries = [SimpleNamespace(**e) for e in self.rows.journal if e["case_id"] == case_id and e["seq"] > after]
        self.store.loads += 1
        return rebuild(case_id, SimpleNamespace(**row), SimpleNamespace(**snapshot) if snapshot else None,
                       entries, catalog, calendar)

    def prefetch_seen(self, writes: Writes, event_ids: list[str]) -> None:
        found: dict[str, str | None] = {}
        for event_id in event_ids:
            recorded = self.recorded(event_id, include_parked=True)
            if recorded is not None:
                found[event_id] = recorded.fingerprint
        writes.prefetched_seen = found

    def prefetch_cases(self, writes: Writes, case_ids: list[str], receipts: list[str], catalog: Any,
                       calendar: Calendar) -> None:
        writes.prefetched_cases = {case_id: self.load_case(case_id, catalog, calendar) for case_id in case_ids}
        waiting = {p["case_id"] for p in self.rows.parked.values()}
        writes.waiting.update(case_id for case_id in receipts if case_id in waiting)

    def park(self, event: CaseEvent, reason: str, now: datetime) -> None:
        parked_id = next(self.store.parked_ids)
        self.rows.parked[parked_id] = {"id": parked_id, "event_id": event.event_id, "case_id": event.case_id,
                                       "procedure": event.procedure, "reason": reason,
                                       "payload": event.to_dict(), "parked_at": now}

    def repark(self, parked_id: int, reason: str) -> None:
        self.rows.parked[parked_id]["reason"] = reason

    def unpark(self, parked_id: int) -> None:
        self.rows.parked.pop(parked_id, None)

    def keep_refused(self, row: dict[str, Any]) -> None:
        self.rows.refused.append(dict(row))

    def dead_letter(self, letter: DeadLetter, reason: str, now: datetime) -> None:
        self.rows.dead_letters.append((letter, reason))

    def acknowledge(self, ack: dict[str, Any]) -> None:
        self.rows.outbox.setdefault(ack["message_id"], ack)

    def flag_steps(self, case_id: str, seqs: list[int]) -> None:
        for seq in seqs:
            self.rows.steps[(case_id, seq)]["overdue_flagged"] = True

    def flush(self, writes: Writes) -> None:
        """The SQL store's flush, on dictionaries: the same optimistic check on the case's event count."""
        seqs = []
        for row in writes.journal:
            seq = next(self.store.journal_seqs)
            self.rows.journal.append({**row, "seq": seq})
            seqs.append(seq)
        for case_id, row in writes.case_inserts.items():
            self.rows.cases[case_id] = _resolve(row, seqs)
        for case_id, row in writes.case_updates.items():
            current = self.rows.cases.get(case_id)
            if current is None or current["event_count"] != row["b_event_count"]:
                raise StaleCase(case_id)
            values = {k: v for k, v in _resolve(row, seqs).items() if not k.startswith("b_")}
            self.rows.cases[case_id] = {**current, **values, "case_id": case_id}
        for step_key, step in writes.steps.items():
            self.rows.steps[step_key] = dict(step)
        for nc_key, record in writes.nonconformities.items():
            existing = self.rows.nonconformities.get(nc_key)
            status = record["status"]
            retracted = NonconformityStatus.RETRACTED
            if existing is not None and record["status"] != retracted and existing["status"] != retracted:
                status = existing["status"]  # any status but retracted is the secretaries'
            self.rows.nonconformities[nc_key] = {**record, "status": status}
        for case_id, row in writes.snapshots.items():
            self.rows.snapshots[case_id] = _resolve(row, seqs)
        for ack in writes.acks:
            self.acknowledge(ack)
        self.rows.nc_messages.extend(writes.nc_messages)
        for parked_id in writes.parked_deletes:
            self.rows.parked.pop(parked_id, None)


def _resolve(row: dict[str, Any], seqs: list[int]) -> dict[str, Any]:
    out = dict(row)
    out["journal_seq"] = seqs[out.pop("journal_index")]
    return out


class FakeCaseStore:
    """``engine.application.ports.CaseStore`` on dictionaries; ``rows`` is what was committed."""

    def __init__(self) -> None:
        self.rows = Rows()
        self.journal_seqs = itertools.count(1)
        self.parked_ids = itertools.count(1)
        self.committed = 0
        self.loads = 0  # cases rebuilt from the rows (cache misses)

    @contextmanager
    def transaction(self) -> Iterator[FakeCaseTransaction]:
        staged = copy.deepcopy(self.rows)
        yield FakeCaseTransaction(self, staged)
        self.rows = staged  # reached only when the block did not raise: a rollback keeps the old rows
        self.committed += 1

    def due_cases(self, at: datetime, batch: int) -> tuple[list[str], bool]:
        steps = sorted((r for r in self.rows.steps.values() if r["running"] and not r["overdue_flagged"]
                        and r["due_at"] is not None and r["due_at"] < at), key=lambda r: r["due_at"])[:batch]
        cases = sorted((r for r in self.rows.cases.values() if r["clock_running"] and not r["overdue_flagged"]
                        and r["due_at"] is not None and r["due_at"] < at), key=lambda r: r["due_at"])[:batch]
        found = {r["case_id"] for r in steps} | {r["case_id"] for r in cases}
        return sorted(found), batch in (len(steps), len(cases))

    def next_due(self, after: datetime) -> datetime | None:
        dues = [r["due_at"] for r in self.rows.steps.values() if r["running"] and not r["overdue_flagged"]]
        dues += [r["due_at"] for r in self.rows.cases.values() if r["clock_running"] and not r["overdue_flagged"]]
        found = [due for due in dues if due is not None and due >= after]
        return min(found) if found else None

    def parked_page(self, which: ParkedFilter, after_id: int, limit: int) -> list[tuple[int, dict[str, Any]]]:
        rows = [p for p in sorted(self.rows.parked.values(), key=lambda p: p["id"]) if p["id"] > after_id
                and (which.case_id is None or p["case_id"] == which.case_id)
                and (which.procedure is None or p["procedure"] == which.procedure)]
        return [(p["id"], p["payload"]) for p in rows[:limit]]


class FakeSession:
    """Collects what a ``within`` callback adds (the audit entries) instead of a database session."""

    def __init__(self) -> None:
        self.added: list[Any] = []

    def add(self, item: Any) -> None:
        self.added.append(item)


@dataclass
class Version:
    code: str
    scope: str
    version: int
    checksum: str
    deployed_at: datetime
    filename: str
    name: str
    loaded: LoadedProcedure
    retired_at: datetime | None = None


class FakeCatalog:
    """``engine.store.catalog.ProcedureCatalog`` in memory: versions per code and scope, audited through
    ``within`` with a ``FakeSession`` (its entries land in ``audit``)."""

    def __init__(self) -> None:
        self.versions: list[Version] = []
        self.audit: list[Any] = []

    def deploy(self, source: bytes, filename: str, at: datetime, agencies: Iterable[str] = (),
               within: Callable[[Any, Deployment], None] | None = None) -> Deployment:
        loaded = load_procedure(source, filename)
        scope = scope_key(list(dict.fromkeys(agencies)))
        code = loaded.definition.code
        same = [v for v in self.versions if v.code == code and v.scope == scope]
        latest = max(same, key=lambda v: v.version) if same else None
        if latest is not None and latest.checksum == loaded.checksum and latest.retired_at is None:
            return self._deployment(latest, created=False)
        version = Version(code, scope, latest.version + 1 if latest else 1, loaded.checksum, at, filename,
                          loaded.definition.name, replace(loaded, scope=scope))
        deployment = self._deployment(version, created=True)
        self._within(within, deployment)
        self.versions.append(version)
        return deployment

    def retire(self, code: str, version: int, at: datetime, scope: str = EVERY_AGENCY,
               within: Callable[[Any, Retirement], None] | None = None) -> Retirement | None:
        found = self._one(code, version, scope)
        if found is None:
            return None
        retirement = Retirement(code, version, scope, found.retired_at or at, changed=found.retired_at is None)
        if retirement.changed:
            self._within(within, retirement)
            found.retired_at = at
        return retirement

    def in_force(self, code: str, at: datetime, agency: str | None = None) -> tuple[int, LoadedProcedure] | None:
        chosen = followed(((v.scope, v.version, v.deployed_at) for v in self.versions
                           if v.code == code and v.retired_at is None), agency, at)
        if chosen is None:
            return None
        scope, version = chosen
        return version, self.get(code, version, scope)

    def get(self, code: str, version: int, scope: str = EVERY_AGENCY) -> LoadedProcedure:
        found = self._one(code, version, scope)
        if found is None:
            raise LookupError(f"no version {code}/{version} for {scope}")
        return found.loaded

    def _one(self, code: str, version: int, scope: str) -> Version | None:
        return next((v for v in self.versions if (v.code, v.version, v.scope) == (code, version, scope)), None)

    def _within(self, within: Callable[[Any, Any], None] | None, change: Any) -> None:
        if within is not None:
            session = FakeSession()
            within(session, change)  # raises before anything is kept, as a rolled-back transaction
            self.audit.extend(session.added)

    @staticmethod
    def _deployment(v: Version, created: bool) -> Deployment:
        return Deployment(code=v.code, version=v.version, checksum=v.checksum, deployed_at=v.deployed_at,
                          created=created, filename=v.filename, name=v.name, scope=v.scope)


@dataclass
class FakeRecord:
    key: str
    status: str
    agency: str


class FakeCorrectiveRecords:
    """``engine.application.corrective.CorrectiveRecords`` in memory; the version is the number of audit
    entries of the record, as the SQL store's is the id of its latest one."""

    def __init__(self, records: Iterable[FakeRecord]) -> None:
        self.records = {r.key: r for r in records}
        self.actions: dict[str, Any] = {}
        self.audit_log: list[dict[str, Any]] = []
        self.published: list[str] = []
        self.committed = 0
        self._pending: list[Callable[[], None]] = []
        self._statuses: dict[str, str] = {}

    def nonconformity(self, key: str) -> FakeRecord | None:
        return self.records.get(key)

    def version(self, key: str) -> int:
        return sum(1 for entry in self.audit_log if entry["key"] == key)

    def action(self, key: str) -> Any:
        return self.actions.get(key)

    def set_status(self, key: str, before: str, after: str) -> bool:
        if self.records[key].status != before:
            return False
        self._statuses[key] = after
        return True

    def save_action(self, action: Any) -> None:
        self._pending.append(lambda: self.actions.__setitem__(action.key, action))

    def audit(self, **entry: Any) -> None:
        self._pending.append(lambda: self.audit_log.append(entry))

    def publish(self, key: str, at: datetime) -> None:
        self._pending.append(lambda: self.published.append(key))

    def commit(self) -> None:
        for key, status in self._statuses.items():
            self.records[key].status = status
        for change in self._pending:
            change()
        self._pending.clear()
        self._statuses.clear()
        self.committed += 1

    def rollback(self) -> None:
        self._pending.clear()
        self._statuses.clear()


__all__ = ["FakeCaseStore", "FakeCatalog", "FakeCorrectiveRecords", "FakeRecord", "FakeSession"]
