"""Helpers for tests on a real Apache Kafka (scripts/services) and a real PostgreSQL."""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import random
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import date, datetime
from pathlib import Path
from typing import Any

import pytest
from kafka import KafkaAdminClient, KafkaConsumer, KafkaProducer, TopicPartition
from kafka.admin import NewTopic
from sqlalchemy import create_engine, text
from sqlmodel import Session, select

from connectors.settings import KafkaSettings
from engine.bootstrap import App, build
from engine.core.calendar import WorkingCalendar
from engine.procedures.loader import load_procedure
from engine.settings import DatabaseSettings, EngineSettings, Settings
from engine.simulation import Simulator
from engine.store.queries import Presenter, case_detail, nonconformity_dict, nonconformity_list
from engine.store.tables import NonconformityRow
from tests.conftest import BUNDLED, ROOT

DEPLOYED_AT = datetime.fromisoformat("2026-09-01T00:00:00+07:00")


def bootstrap() -> str:
    value = os.environ.get("EISO_TEST_KAFKA_BOOTSTRAP")
    if not value:
        if os.environ.get("CI"):
            raise RuntimeError("CI must provide EISO_TEST_KAFKA_BOOTSTRAP (scripts/test starts Kafka)")
        pytest.skip("no Kafka: run through scripts/test (EISO_TEST_KAFKA_BOOTSTRAP)")
    return value


def kafka_settings(prefix: str, **overrides: Any) -> KafkaSettings:
    """Settings with topics and group of their own, so tests never see each other's messages."""
    values: dict[str, Any] = {
        "bootstrap": bootstrap(), "topic": f"{prefix}.case-events", "dlq_topic": f"{prefix}.case-events.dlq",
        "outbound_topic": f"{prefix}.nonconformities", "group": f"{prefix}.engine", "poll_timeout_ms": 200,
        "db_retry_seconds": 0.5,
    }
    values.update(overrides)
    return KafkaSettings(**values)


def unique_prefix(name: str) -> str:
    return f"t{uuid.uuid4().hex[:8]}.{name}"


def create_topics(settings: KafkaSettings, partitions: int = 4) -> None:
    admin = KafkaAdminClient(bootstrap_servers=settings.bootstrap)
    try:
        topics = [settings.topic, settings.dlq_topic, settings.outbound_topic]
        if settings.portal_topic:
            topics.append(settings.portal_topic)
        admin.create_topics([NewTopic(t, partitions, 1) for t in topics])
    finally:
        admin.close()


def produce(settings: KafkaSettings, values: Iterable[bytes | str], keys: Iterable[str | None] | None = None,
            topic: str | None = None) -> int:
    producer = KafkaProducer(bootstrap_servers=settings.bootstrap, acks="all", linger_ms=20)
    count = 0
    key_list = list(keys) if keys is not None else None
    for i, value in enumerate(values):
        key = key_list[i] if key_list is not None else None
        producer.send(topic or settings.topic, value=value.encode() if isinstance(value, str) else value,
                      key=key.encode() if key else None)
        count += 1
    producer.flush(60)
    producer.close()
    return count


def read_all(settings: KafkaSettings, topic: str, expected: int | None = None, timeout_ms: int = 5000
             ) -> list[Any]:
    consumer = KafkaConsumer(topic, bootstrap_servers=settings.bootstrap, auto_offset_reset="earliest",
                             enable_auto_commit=False, group_id=None, consumer_timeout_ms=timeout_ms)
    messages = []
    for message in consumer:
        messages.append(message)
        if expected is not None and len(messages) >= expected:
            break
    consumer.close()
    return messages


def make_app(url: str, **engine: Any) -> App:
    app = build(Settings(database=DatabaseSettings(url=url), engine=EngineSettings(outbox=True, **engine)))
    for path in BUNDLED:
        app.catalog.deploy(path.read_bytes(), path.name, DEPLOYED_AT)
    return app


def simulated_events(cases: int, seed: int) -> list[dict[str, Any]]:
    procedures = [load_procedure(p.read_bytes(), p.name) for p in BUNDLED]
    return Simulator(procedures, WorkingCalendar(), seed).month(date(2026, 10, 1), cases)


def digest(app: App) -> str:
    """Cases with their steps and the nonconformities, retracted ones included, as the contract's JSON, hashed."""
    presenter = Presenter(app.calendar)
    with app.engine.connect() as conn:
        ids = [r[0] for r in conn.execute(text("SELECT case_id FROM cases ORDER BY case_id"))]
    cases = [case_detail(app.engine, cid, presenter) for cid in ids]
    ncs = sorted(nonconformity_list(app.engine, presenter, include_retracted=True),
                 key=lambda n: json.dumps(n, sort_keys=True))
    return hashlib.sha256(json.dumps([cases, ncs], sort_keys=True).encode()).hexdigest()


def journal_count(url: str) -> tuple[int, int]:
    engine = create_engine(url)
    with engine.connect() as conn:
        journal = conn.execute(text("SELECT count(*), count(DISTINCT event_id) FROM journal")).one()
    engine.dispose()
    return int(journal[0]), int(journal[1])


def write_jsonl(path: Path, events: list[dict[str, Any]]) -> Path:
    path.write_text("".join(json.dumps(e, ensure_ascii=False) + "\n" for e in events), encoding="utf-8")
    return path


def ingest_all(app: App, lines: list[str]) -> None:
    """The uninterrupted reference run: the same events, in order, straight into the service."""
    from engine.core.events import parse_event_line

    events = [parse_event_line(line) for line in lines]
    for start in range(0, len(events), 500):
        app.service.ingest_batch(events[start:start + 500])


# ---------------------------------------------------------------- combined faults (tests and scripts/chaos-soak)


def _pg_bin() -> Path | None:
    """The directory holding initdb and pg_ctl, found as scripts/services finds it."""
    candidates = sorted(Path("/usr/lib/postgresql").glob("*/bin"), key=lambda p: int(p.parent.name)
                        if p.parent.name.isdigit() else 0, reverse=True)
    for directory in candidates:
        if (directory / "initdb").exists() and (directory / "pg_ctl").exists():
            return directory
    found = shutil.which("pg_ctl")
    return Path(found).resolve().parent if found and shutil.which("initdb") else None


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class PrivatePostgres:
    """A PostgreSQL cluster of one's own in a temporary directory, to stop and start for real.

    The shared server of the test run must not be stopped; this one is. Like scripts/services it
    runs as ``postgres`` (or ``nobody``) when we are root, since initdb and postgres refuse root.
    """

    def __init__(self) -> None:
        directory = _pg_bin()
        if directory is None:
            if os.environ.get("CI"):
                raise RuntimeError("CI must have PostgreSQL's initdb and pg_ctl (scripts/services installs them)")
            pytest.skip("no initdb/pg_ctl for a private PostgreSQL cluster")
        self.bin = directory
        self.home = Path(tempfile.mkdtemp(prefix="eiso-pg-"))
        self.data = self.home / "data"
        self.port = free_port()
        self.owner: str | None = None
        if os.geteuid() == 0:
            self.owner = "postgres" if _user_exists("postgres") else "nobody"
            self.home.chmod(0o755)
            shutil.chown(self.home, self.owner)
        self._run("initdb", "-D", str(self.data), "-U", "eiso", "--auth=trust", "-E", "UTF8", "--no-locale", "-N")
        self.start()
        admin = create_engine(self.url("postgres"), isolation_level="AUTOCOMMIT")
        with admin.connect() as conn:
            conn.execute(text("CREATE DATABASE eiso"))
        admin.dispose()

    def url(self, database: str = "eiso") -> str:
        return f"postgresql+psycopg://eiso@127.0.0.1:{self.port}/{database}"

    def _run(self, program: str, *args: str) -> None:
        command = [str(self.bin / program), *args]
        if self.owner is not None:
            command = ["runuser", "-u", self.owner, "--", *command]
        result = subprocess.run(command, check=False, cwd="/", capture_output=True, text=True, timeout=120)
        if result.returncode != 0:
            raise RuntimeError(f"{program} failed: {result.stdout[-2000:]}{result.stderr[-2000:]}")

    def start(self) -> None:
        options = (f"-p {self.port} -c listen_addresses=127.0.0.1 -c unix_socket_directories={self.home} "
                   "-c fsync=off -c synchronous_commit=off -c full_page_writes=off")
        self._run("pg_ctl", "-D", str(self.data), "-l", str(self.home / "postgres.log"), "-w", "-t", "60",
                  "-o", options, "start")

    def stop(self, mode: str = "fast") -> None:
        """``fast`` disconnects every client and shuts down; ``immediate`` is a crash."""
        self._run("pg_ctl", "-D", str(self.data), "-m", mode, "-w", "-t", "60", "stop")

    def destroy(self) -> None:
        with contextlib.suppress(RuntimeError):
            self.stop("immediate")
        shutil.rmtree(self.home, ignore_errors=True)


def _user_exists(name: str) -> bool:
    return subprocess.run(["id", name], check=False, capture_output=True).returncode == 0


class WorkerProcess:
    """``eiso worker`` as a subprocess, its output in files (a pipe nobody reads could block it)."""

    def __init__(self, settings: KafkaSettings, database_url: str, logs: Path, name: str, idle: float = 8.0):
        self.settings, self.database_url, self.logs, self.name, self.idle = settings, database_url, logs, name, idle
        self.runs = 0
        self.process: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        self.runs += 1
        env = {
            **os.environ, "EISO_DATABASE_URL": self.database_url, "EISO_KAFKA_BOOTSTRAP": self.settings.bootstrap,
            "EISO_KAFKA_TOPIC": self.settings.topic, "EISO_KAFKA_GROUP": self.settings.group,
            "EISO_KAFKA_DLQ_TOPIC": self.settings.dlq_topic,
            "EISO_KAFKA_OUTBOUND_TOPIC": self.settings.outbound_topic,
            "EISO_KAFKA_BATCH_SIZE": "200", "EISO_KAFKA_SESSION_TIMEOUT_MS": "6000",
            "EISO_KAFKA_DB_RETRY_SECONDS": "0.5",
        }
        with self.out.open("ab") as out, self.err.open("ab") as err:
            self.process = subprocess.Popen(
                [sys.executable, "-m", "engine.cli.app", "worker", "--exit-when-idle", str(self.idle),
                 "--log-level", "WARNING"], cwd=ROOT, env=env, stdout=out, stderr=err)

    @property
    def out(self) -> Path:
        return self.logs / f"{self.name}.{self.runs}.out"

    @property
    def err(self) -> Path:
        return self.logs / f"{self.name}.{self.runs}.err"

    def running(self) -> bool:
        return self.process is not None and self.process.poll() is None

    def kill(self) -> None:
        assert self.process is not None
        self.process.send_signal(signal.SIGKILL)
        self.process.wait(timeout=30)

    def finish(self, timeout: float) -> str | None:
        """Wait for the idle exit; what went wrong, or None."""
        assert self.process is not None
        try:
            self.process.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.kill()
            return f"{self.name} run {self.runs} did not stop within {timeout:.0f} s"
        err = self.err.read_text(errors="replace")
        if self.process.returncode != 0 or "Traceback" in err:
            return f"{self.name} run {self.runs} ended with {self.process.returncode}: {err[-2000:]}"
        return None


def group_members(settings: KafkaSettings) -> tuple[str, int]:
    """The consumer group's state and number of members, as the broker sees them."""
    admin = KafkaAdminClient(bootstrap_servers=settings.bootstrap)
    try:
        group = admin.describe_groups([settings.group])[settings.group]
    finally:
        admin.close()
    return str(group.get("group_state")), len(group.get("members") or [])


def read_to_end(settings: KafkaSettings, topic: str) -> list[Any]:
    """Every message of the topic up to its end offsets, in partition order."""
    consumer = KafkaConsumer(bootstrap_servers=settings.bootstrap, enable_auto_commit=False, group_id=None)
    try:
        partitions = [TopicPartition(topic, p) for p in sorted(consumer.partitions_for_topic(topic) or ())]
        consumer.assign(partitions)
        consumer.seek_to_beginning(*partitions)
        ends = consumer.end_offsets(partitions)
        messages: list[Any] = []
        deadline = time.monotonic() + 120
        while any(consumer.position(tp) < ends[tp] for tp in partitions) and time.monotonic() < deadline:
            for records in consumer.poll(timeout_ms=1000, max_records=5000).values():
                messages.extend(records)
    finally:
        consumer.close()
    return messages


def uncommitted_partitions(settings: KafkaSettings) -> dict[str, tuple[int | None, int]]:
    """Partitions of the input topic whose committed offset is not its end offset: (committed, end)."""
    consumer = KafkaConsumer(bootstrap_servers=settings.bootstrap, enable_auto_commit=False,
                             group_id=settings.group)
    try:
        partitions = [TopicPartition(settings.topic, p)
                      for p in sorted(consumer.partitions_for_topic(settings.topic) or ())]
        ends = consumer.end_offsets(partitions)
        committed = {tp: consumer.committed(tp) for tp in partitions}
    finally:
        consumer.close()
    return {f"{tp.topic}:{tp.partition}": (committed[tp], ends[tp]) for tp in partitions
            if committed[tp] != ends[tp]}


def outbound_problems(app: App, settings: KafkaSettings, event_ids: set[str]) -> list[str]:
    """The outbound topic against the database: an acknowledgement for every event id, and the last
    message of every nonconformity (per key, in partition order) as the database has it now."""
    outbound = [json.loads(m.value) for m in read_to_end(settings, settings.outbound_topic)]
    acknowledged = {m["event_id"] for m in outbound if m["message"] == "event_outcome"}
    latest = {m["key"]: {k: v for k, v in m.items() if k not in ("message", "key")}
              for m in outbound if m["message"] == "nonconformity"}
    presenter = Presenter(app.calendar)
    with Session(app.engine) as session:
        in_db = {r.key: nonconformity_dict(r, presenter) for r in session.exec(select(NonconformityRow)).all()}
    problems = [f"{len(event_ids - acknowledged)} event id(s) without an acknowledgement, e.g. "
                f"{sorted(event_ids - acknowledged)[:3]}"] if event_ids - acknowledged else []
    missing = sorted(set(in_db) - set(latest))
    if missing:
        problems.append(f"{len(missing)} nonconformit(ies) never published, e.g. {missing[:3]}")
    stale = sorted(k for k in set(in_db) & set(latest) if latest[k] != in_db[k])
    if stale:
        problems.append(f"{len(stale)} nonconformit(ies) whose last message is not the database's state, "
                        f"e.g. {stale[:3]}")
    return problems



@dataclass
class ChaosPlan:
    """Faults against two workers on a four-partition topic while the stream arrives."""

    cases: int = 2100  # about 20,000 events
    seed: int = 30
    kills: int = 2  # SIGKILLs at random moments, the killed worker restarted after a moment
    outages: int = 1  # a worker SIGKILLed, then PostgreSQL stopped while the survivor takes its partitions
    broker_restarts: int = 0
    produce_seconds: float = 40.0  # the stream is spread over this long, so that the faults fall mid-stream
    outage_seconds: float = 5.0
    idle: float = 8.0  # the workers stop after this long without a message
    finish_timeout: float = 300.0


@dataclass
class ChaosReport:
    events: int = 0
    distinct_ids: int = 0
    journal: tuple[int, int] = (0, 0)
    kills: int = 0
    outages: int = 0
    takeovers_during_outage: int = 0
    broker_restarts: int = 0
    sought_back: int = 0
    database_retries: int = 0
    seconds: float = 0.0
    problems: list[str] = field(default_factory=list)
    exits: list[str] = field(default_factory=list)  # workers that stopped by themselves mid-run, restarted

    def summary(self) -> str:
        verdict = f"{len(self.problems)} problem(s)" if self.problems else "no problem"
        return (f"{self.events} events ({self.distinct_ids} ids), journal {self.journal[0]} rows "
                f"({self.journal[1]} distinct); {self.kills} SIGKILLs, {self.outages} PostgreSQL stops "
                f"({self.takeovers_during_outage} with the takeover during the stop), {self.broker_restarts} "
                f"broker restarts; {self.database_retries} database retries (workers that stopped normally), "
                f"{self.sought_back} polls sought back; {len(self.exits)} worker exits restarted; "
                f"{self.seconds:.0f} s; {verdict}")


def run_chaos(plan: ChaosPlan, settings: KafkaSettings, postgres: PrivatePostgres, logs: Path,
              restart_broker: Callable[[], None] | None = None, say: Callable[[str], None] = lambda _: None
              ) -> ChaosReport:
    """Two ``eiso worker`` processes through the plan's faults; then the end state against an
    uninterrupted ``eiso ingest`` of the same stream, the journal, the outbound topic and the offsets."""
    started = time.monotonic()
    report = ChaosReport()
    events = simulated_events(plan.cases, plan.seed)
    lines = [json.dumps(e, ensure_ascii=False) for e in events]
    ids = {e["event_id"] for e in events}
    report.events, report.distinct_ids = len(events), len(ids)
    baseline = make_app(f"sqlite:///{logs / 'ingest.db'}")  # migrations one at a time: alembic is not thread-safe
    baseline.engine.dispose()  # its connections are made again in the reference's thread
    make_app(postgres.url()).engine.dispose()  # schema and procedures
    expected: list[str] = []  # the reference runs beside the workers, which mostly wait on faults
    reference = threading.Thread(target=_reference, args=(baseline, lines, expected, say), daemon=True)
    reference.start()

    create_topics(settings)
    workers = [WorkerProcess(settings, postgres.url(), logs, name, plan.idle) for name in ("a", "b")]
    for worker in workers:
        worker.start()
    producing = threading.Thread(target=_produce_over, args=(settings, events, plan.produce_seconds), daemon=True)
    producing.start()
    _inflict(plan, settings, postgres, workers, report, restart_broker, say)
    producing.join(timeout=600)
    for worker in workers:
        if not worker.running():
            worker.start()  # e.g. it stopped idle during a broker restart: the stream must still be read
    for worker in workers:
        failure = worker.finish(plan.finish_timeout)
        if failure:
            report.problems.append(failure)
    _count_from_logs(logs, report)
    reference.join(timeout=900)
    _check_end_state(settings, postgres, ids, expected[0] if expected else "no reference", report)
    report.seconds = time.monotonic() - started
    return report


def _reference(baseline: App, lines: list[str], digests: list[str], say: Callable[[str], None]) -> None:
    from engine.service import ingest_lines

    started = time.monotonic()
    list(ingest_lines(baseline.service, lines, "file"))  # exactly what `eiso ingest` does
    digests.append(digest(baseline))
    baseline.engine.dispose()
    say(f"reference: {len(lines)} events through `eiso ingest` in {time.monotonic() - started:.0f} s")


def _inflict(plan: ChaosPlan, settings: KafkaSettings, postgres: PrivatePostgres, workers: list[WorkerProcess],
             report: ChaosReport, restart_broker: Callable[[], None] | None, say: Callable[[str], None]) -> None:
    rng = random.Random(plan.seed)
    actions = ["kill"] * plan.kills + ["outage"] * plan.outages + ["broker"] * plan.broker_restarts
    rng.shuffle(actions)
    for action in actions:
        time.sleep(rng.uniform(2.0, 5.0))
        _supervise(workers, report, say)
        victim = rng.choice(workers)
        if action == "kill":
            victim.kill()
            report.kills += 1
            say(f"SIGKILL worker {victim.name}")
            time.sleep(rng.uniform(0.2, 3.0))
            victim.start()
        elif action == "outage":
            victim.kill()
            report.kills += 1
            time.sleep(3.0)  # the survivor is mid-batch when the database goes: the session (6 s) has not expired
            postgres.stop()
            down = time.monotonic()
            took_over = _wait_for(lambda: group_members(settings) == ("Stable", 1), timeout=30)
            time.sleep(max(2.0, plan.outage_seconds - (time.monotonic() - down)))
            postgres.start()
            report.outages += 1
            report.takeovers_during_outage += int(took_over)
            say(f"SIGKILL worker {victim.name}, PostgreSQL stopped for {time.monotonic() - down:.1f} s "
                f"({'the survivor took over meanwhile' if took_over else 'no takeover seen'})")
            victim.start()
        elif restart_broker is not None:
            restart_broker()
            report.broker_restarts += 1
            say("broker restarted")


def _supervise(workers: list[WorkerProcess], report: ChaosReport, say: Callable[[str], None]) -> None:
    """Restart a worker that stopped by itself, as its service manager would (e.g. idle while the
    broker was away, or unable to reach it at start-up); what it said is kept in the report."""
    for worker in workers:
        if worker.process is not None and not worker.running():
            lines = worker.err.read_text(errors="replace").strip().splitlines()
            exit_ = f"{worker.name} run {worker.runs} exited {worker.process.returncode}: " + \
                (lines[-1][:300] if lines else "")
            report.exits.append(exit_)
            say(f"restarting worker {worker.name} ({exit_})")
            worker.start()


def _count_from_logs(logs: Path, report: ChaosReport) -> None:
    for path in sorted(logs.glob("*.err")):
        report.sought_back += path.read_text(errors="replace").count("polled during the outage")
    for path in sorted(logs.glob("*.out")):  # "worker stopped: ..., N database retries", maybe wrapped
        said = " ".join(path.read_text(errors="replace").split())
        report.database_retries += sum(int(n) for n in re.findall(r"(\d+) database retries", said))


def _check_end_state(settings: KafkaSettings, postgres: PrivatePostgres, ids: set[str], expected: str,
                     report: ChaosReport) -> None:
    app = make_app(postgres.url())
    report.journal = journal_count(postgres.url())
    if report.journal != (len(ids), len(ids)):
        report.problems.append(f"journal: {report.journal[0]} rows for {report.journal[1]} distinct ids, "
                               f"{len(ids)} expected")
    if digest(app) != expected:
        report.problems.append("the database differs from `eiso ingest` of the same stream")
    report.problems.extend(outbound_problems(app, settings, ids))
    uncommitted = uncommitted_partitions(settings)
    if uncommitted:
        report.problems.append(f"committed offsets short of the end (committed, end): {uncommitted}")
    app.engine.dispose()


def _produce_over(settings: KafkaSettings, events: list[dict[str, Any]], seconds: float) -> None:
    """The stream, keyed by case, in 20 slices spread over ``seconds``."""
    slices = 20
    size = -(-len(events) // slices)
    for start in range(0, len(events), size):
        chunk = events[start:start + size]
        deadline = time.monotonic() + 300
        while True:
            try:
                produce(settings, [json.dumps(e, ensure_ascii=False) for e in chunk],
                        keys=[e["case_id"] for e in chunk])
                break
            except Exception:  # the broker is restarting: send the slice again (a repeat is a duplicate)
                if time.monotonic() > deadline:
                    raise
                time.sleep(1.0)
        time.sleep(seconds / slices)


def _wait_for(condition: Callable[[], bool], timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with contextlib.suppress(Exception):  # e.g. the coordinator moving: ask again
            if condition():
                return True
        time.sleep(0.3)
    return False
