"""The store against the engine's own ceiling, on one simulated stream, in one run.

Ways to apply the same events, measured side by side:

* SpiffWorkflow alone, in memory: the library executing the same steps, no rules, no database —
  the ceiling the engine library sets;
* the eiso engine in memory: SpiffWorkflow and the rules (clocks, nonconformities), no database;
* naive store: per event, load the case's whole serialized state (workflow spec included, as
  SpiffWorkflow's default serializer writes it) from a table, apply, write it all back;
* eiso: the service as shipped — journal append, small row updates, occasional snapshots,
  a case cache — one transaction per event, and in group-committed batches (the worker's path).

    python3 bench/store_vs_ceiling.py --cases 1000                     # SQLite in a temp dir
    EISO_DATABASE_URL=postgresql+psycopg://... python3 bench/store_vs_ceiling.py   # PostgreSQL

A benchmark, not a test: it prints the table and asserts nothing.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
from datetime import date, datetime
from pathlib import Path
from typing import Any

from sqlalchemy import create_engine, text

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from SpiffWorkflow.bpmn import BpmnWorkflow  # noqa: E402
from SpiffWorkflow.bpmn.serializer import BpmnWorkflowSerializer  # noqa: E402
from SpiffWorkflow.util.task import TaskState  # noqa: E402

from bench.environment import fresh_database, machine  # noqa: E402
from engine.bootstrap import build  # noqa: E402
from engine.core.case import Case  # noqa: E402
from engine.core.events import CaseEvent, parse_event  # noqa: E402
from engine.core.handling import CaseHandler  # noqa: E402
from engine.core.workflow import CaseWorkflow  # noqa: E402
from engine.procedures.script_engine import SafeScriptEngine  # noqa: E402
from engine.settings import DatabaseSettings, EngineSettings, Settings  # noqa: E402
from engine.simulation import Simulator  # noqa: E402

DEPLOYED = datetime.fromisoformat("2026-09-01T00:00:00+07:00")
_SCRIPTS = SafeScriptEngine()


def spiff_only(app: Any, events: list[CaseEvent]) -> float:
    """Stock SpiffWorkflow executing the same steps in memory, driven the plain way (the library's ceiling):
    a workflow per received case; per completed step, find it among the READY tasks, run it, run the
    engine steps. No rules, no clocks, no database."""
    workflows: dict[str, BpmnWorkflow] = {}
    seen: set[str] = set()
    begun = time.perf_counter()
    for event in events:
        if event.event_id in seen:
            continue
        seen.add(event.event_id)
        if event.type == "case.received":
            if event.case_id not in workflows:
                procedure = app.catalog.in_force(event.procedure, event.occurred_at)[1]
                workflow = BpmnWorkflow(procedure.spec, procedure.subprocess_specs, script_engine=_SCRIPTS)
                workflow.data.update(event.data)
                for task in workflow.get_tasks(state=TaskState.READY):
                    task.data.update(event.data)
                workflow.do_engine_steps()
                workflows[event.case_id] = workflow
        elif event.type == "step.completed" and event.case_id in workflows:
            workflow = workflows[event.case_id]
            for task in workflow.get_tasks(state=TaskState.READY):
                if task.task_spec.name == event.step:
                    task.data.update(event.data)
                    task.run()
                    workflow.do_engine_steps()
                    break
    return time.perf_counter() - begun


def in_memory(app: Any, events: list[CaseEvent]) -> float:
    handlers: dict[str, CaseHandler] = {}
    seen: set[str] = set()
    begun = time.perf_counter()
    for event in events:
        if event.event_id in seen:
            continue
        seen.add(event.event_id)
        handler = handlers.get(event.case_id)
        if handler is None:
            found = app.catalog.in_force(event.procedure, event.occurred_at)
            handlers[event.case_id], _ = CaseHandler.receive(event, found[1], found[0], app.calendar)
        else:
            handler.apply(event)
    return time.perf_counter() - begun


def naive_store(app: Any, url: str, events: list[CaseEvent]) -> float:
    """Whole state in one row per case, read and rewritten around every event (SpiffWorkflow's own serializer)."""
    engine = create_engine(url)
    with engine.begin() as conn:
        conn.execute(text("DROP TABLE IF EXISTS naive_case"))
        conn.execute(text("CREATE TABLE naive_case (case_id VARCHAR(200) PRIMARY KEY, version INTEGER, "
                          "state TEXT NOT NULL)"))
        conn.execute(text("DROP TABLE IF EXISTS naive_event"))
        conn.execute(text("CREATE TABLE naive_event (event_id VARCHAR(255) PRIMARY KEY)"))
    serializer = BpmnWorkflowSerializer()
    engine_script = SafeScriptEngine()
    begun = time.perf_counter()
    for event in events:
        with engine.begin() as conn:
            if conn.execute(text("SELECT 1 FROM naive_event WHERE event_id = :e"), {"e": event.event_id}).first():
                continue
            conn.execute(text("INSERT INTO naive_event (event_id) VALUES (:e)"), {"e": event.event_id})
            row = conn.execute(text("SELECT version, state FROM naive_case WHERE case_id = :c"),
                               {"c": event.case_id}).first()
            if row is None:
                version, procedure = app.catalog.in_force(event.procedure, event.occurred_at)
                handler, _ = CaseHandler.receive(event, procedure, version, app.calendar)
            else:
                state = json.loads(row.state)
                procedure = app.catalog.get(event.procedure, row.version)
                workflow = serializer.deserialize_json(state["workflow"])
                workflow.script_engine = engine_script
                handler = CaseHandler(Case.from_dict(state["case"]), CaseWorkflow(procedure, workflow), procedure,
                                      app.calendar)
                handler.apply(event)
            state_json = json.dumps({"case": handler.case.to_dict(),
                                     "workflow": serializer.serialize_json(handler.workflow.workflow)})
            params = {"c": event.case_id, "v": handler.case.procedure_version, "s": state_json}
            if row is None:
                conn.execute(text("INSERT INTO naive_case (case_id, version, state) VALUES (:c, :v, :s)"), params)
            else:
                conn.execute(text("UPDATE naive_case SET state = :s WHERE case_id = :c"), params)
    elapsed = time.perf_counter() - begun
    with engine.begin() as conn:
        conn.execute(text("DROP TABLE naive_case"))
        conn.execute(text("DROP TABLE naive_event"))
    engine.dispose()
    return elapsed


def eiso_store(url: str, events: list[CaseEvent], batch: int | None) -> float:
    app = make_app(url)
    begun = time.perf_counter()
    if batch is None:
        for event in events:
            app.service.ingest(event)
    else:
        for start in range(0, len(events), batch):
            app.service.ingest_batch(events[start:start + batch])
    elapsed = time.perf_counter() - begun
    app.engine.dispose()
    return elapsed


def make_app(url: str) -> Any:
    app = build(Settings(database=DatabaseSettings(url=url), engine=EngineSettings(outbox=False)))
    for path in sorted((ROOT / "bpmn").glob("*.bpmn")):
        app.catalog.deploy(path.read_bytes(), path.name, DEPLOYED)
    return app


def fresh_url(base: str | None, workdir: Path, name: str) -> str:
    return f"sqlite:///{workdir / (name + '.db')}" if base is None else fresh_database(base)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--cases", type=int, default=1000)
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args()
    base = os.environ.get("EISO_DATABASE_URL")
    base = base if base and base.startswith("postgresql") else None
    with tempfile.TemporaryDirectory() as tmp:
        workdir = Path(tmp)
        reference = make_app(f"sqlite:///{workdir / 'reference.db'}")
        procedures = [reference.catalog.get(v.code, v.version) for v in reference.catalog.versions()]
        events = [parse_event(e) for e in
                  Simulator(procedures, reference.calendar, args.seed).month(date(2026, 10, 1), args.cases)]
        rows = [
            ("SpiffWorkflow alone, in memory (ceiling)", spiff_only(reference, events)),
            ("eiso engine (rules + SpiffWorkflow), in memory", in_memory(reference, events)),
            ("naive store: whole state per event", naive_store(reference, fresh_url(base, workdir, "naive"), events)),
            ("eiso, one transaction per event", eiso_store(fresh_url(base, workdir, "single"), events, None)),
            ("eiso, batches of 500 (worker)", eiso_store(fresh_url(base, workdir, "batch"), events, 500)),
        ]
    ceiling = len(events) / rows[0][1]
    naive = len(events) / rows[2][1]
    print(f"machine: {machine()}")
    print(f"database: {'PostgreSQL' if base else 'SQLite'}; stream: {args.cases} cases, {len(events)} events")
    print(f"{'path':48} {'events/s':>10} {'x naive':>8} {'% ceiling':>10}")
    for name, seconds in rows:
        rate = len(events) / seconds
        print(f"{name:48} {rate:10,.0f} {rate / naive:8.1f} {100 * rate / ceiling:9.0f}%")


if __name__ == "__main__":
    main()
