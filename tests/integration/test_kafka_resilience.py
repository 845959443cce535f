"""Kill -9 at random points, two workers in one group, a database outage: nothing lost, nothing twice."""

from __future__ import annotations

import contextlib
import json
import os
import random
import signal
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

from connectors.settings import KafkaSettings
from connectors.worker import CaseEventWorker
from tests.conftest import ROOT
from tests.integration.kafka_support import (
    create_topics,
    digest,
    ingest_all,
    journal_count,
    kafka_settings,
    make_app,
    produce,
    simulated_events,
    unique_prefix,
)


def worker_process(settings: KafkaSettings, database_url: str, idle: float = 6.0) -> subprocess.Popen[str]:
    env = {
        **os.environ, "EISO_DATABASE_URL": database_url, "EISO_KAFKA_BOOTSTRAP": settings.bootstrap,
        "EISO_KAFKA_TOPIC": settings.topic, "EISO_KAFKA_GROUP": settings.group,
        "EISO_KAFKA_DLQ_TOPIC": settings.dlq_topic, "EISO_KAFKA_OUTBOUND_TOPIC": settings.outbound_topic,
        "EISO_KAFKA_BATCH_SIZE": "200", "EISO_KAFKA_SESSION_TIMEOUT_MS": "6000",
    }
    return subprocess.Popen([sys.executable, "-m", "engine.cli.app", "worker", "--exit-when-idle", str(idle),
                             "--log-level", "WARNING"], cwd=ROOT, env=env, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)


def finished(process: subprocess.Popen[str], timeout: float = 600) -> str:
    out, err = process.communicate(timeout=timeout)
    assert process.returncode == 0, err[-3000:]
    assert "Traceback" not in err, err[-3000:]
    return out


def test_sigkill_at_random_points_ends_as_an_uninterrupted_run(postgres_database: str, tmp_path: Path) -> None:
    events = simulated_events(2100, seed=20)
    assert len(events) >= 20_000
    lines = [json.dumps(e, ensure_ascii=False) for e in events]
    baseline = make_app(f"sqlite:///{tmp_path / 'baseline.db'}")
    ingest_all(baseline, lines)

    settings = kafka_settings(unique_prefix("kill"))
    create_topics(settings)
    produce(settings, lines, keys=[e["case_id"] for e in events])
    make_app(postgres_database).engine.dispose()  # schema and procedures
    rng = random.Random(4)
    kills = 0
    for _ in range(4):
        process = worker_process(settings, postgres_database)
        time.sleep(rng.uniform(2.0, 6.0))
        if process.poll() is not None:
            break
        process.send_signal(signal.SIGKILL)
        process.wait(timeout=30)
        kills += 1
    finished(worker_process(settings, postgres_database))
    assert kills >= 3

    app = make_app(postgres_database)
    applied, distinct = journal_count(postgres_database)
    assert applied == distinct == len({e["event_id"] for e in events})
    assert digest(app) == digest(baseline)


def test_two_workers_share_four_partitions_and_apply_every_event_once(postgres_database: str,
                                                                     tmp_path: Path) -> None:
    events = simulated_events(400, seed=21)
    lines = [json.dumps(e, ensure_ascii=False) for e in events]
    baseline = make_app(f"sqlite:///{tmp_path / 'baseline.db'}")
    ingest_all(baseline, lines)

    settings = kafka_settings(unique_prefix("pair"))
    create_topics(settings, partitions=4)
    make_app(postgres_database).engine.dispose()
    first, second = worker_process(settings, postgres_database, 8), worker_process(settings, postgres_database, 8)
    time.sleep(4)  # both join the group before the stream arrives
    produce(settings, lines, keys=[e["case_id"] for e in events])
    outputs = [finished(first), finished(second)]
    counts = [int(out.split("worker stopped: ")[1].split(" message")[0]) for out in outputs]
    assert all(c > 0 for c in counts), outputs
    assert sum(counts) >= len(lines)
    applied, distinct = journal_count(postgres_database)
    assert applied == distinct == len({e["event_id"] for e in events})
    assert digest(make_app(postgres_database)) == digest(baseline)


class _Proxy:
    """A TCP proxy on loopback between the worker and PostgreSQL, to cut the database off for real."""

    def __init__(self, target_host: str, target_port: int):
        self.target = (target_host, target_port)
        self.server = socket.create_server(("127.0.0.1", 0))
        self.port = self.server.getsockname()[1]
        self.open = True
        self.sockets: list[socket.socket] = []
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self) -> None:
        while True:
            try:
                client, _ = self.server.accept()
            except OSError:
                return
            if not self.open:
                client.close()
                continue
            upstream = socket.create_connection(self.target)
            self.sockets += [client, upstream]
            for a, b in ((client, upstream), (upstream, client)):
                threading.Thread(target=self._pipe, args=(a, b), daemon=True).start()

    @staticmethod
    def _pipe(src: socket.socket, dst: socket.socket) -> None:
        try:
            while data := src.recv(65536):
                dst.sendall(data)
        except OSError:
            pass
        finally:
            for s in (src, dst):
                with contextlib.suppress(OSError):
                    s.close()

    def cut(self) -> None:
        self.open = False
        for s in self.sockets:
            with contextlib.suppress(OSError):
                s.shutdown(socket.SHUT_RDWR)
        self.sockets.clear()

    def restore(self) -> None:
        self.open = True

    def close(self) -> None:
        self.cut()
        self.server.close()


def test_database_outage_pauses_the_worker_and_loses_nothing(postgres_database: str, tmp_path: Path) -> None:
    events = simulated_events(150, seed=22)
    lines = [json.dumps(e, ensure_ascii=False) for e in events]
    baseline = make_app(f"sqlite:///{tmp_path / 'baseline.db'}")
    ingest_all(baseline, lines)
    settings = kafka_settings(unique_prefix("outage"), batch_size=50)
    create_topics(settings)
    make_app(postgres_database).engine.dispose()
    host, port = postgres_database.split("@", 1)[1].split("/", 1)[0].split(":")
    proxy = _Proxy(host, int(port))
    proxied = postgres_database.replace(f"{host}:{port}", f"127.0.0.1:{proxy.port}")
    app = make_app(proxied)
    produce(settings, lines, keys=[e["case_id"] for e in events])
    worker = CaseEventWorker(app, settings)
    retries_seen = threading.Event()

    proxy.cut()  # the database is down when the stream arrives

    def outage() -> None:
        deadline = time.monotonic() + 30
        while worker.stats.database_retries < 2 and time.monotonic() < deadline:
            time.sleep(0.2)
        retries_seen.set()
        time.sleep(2.0)
        proxy.restore()

    threading.Thread(target=outage, daemon=True).start()
    stats = worker.run(exit_when_idle=4)
    proxy.close()
    assert retries_seen.is_set() and stats.database_retries >= 2
    direct = make_app(postgres_database)
    applied, distinct = journal_count(postgres_database)
    assert applied == distinct == len({e["event_id"] for e in events})
    assert digest(direct) == digest(baseline)


def test_sigterm_finishes_the_batch_commits_and_leaves_the_group(postgres_database: str, tmp_path: Path) -> None:
    events = simulated_events(600, seed=23)
    lines = [json.dumps(e, ensure_ascii=False) for e in events]
    settings = kafka_settings(unique_prefix("term"))
    create_topics(settings)
    produce(settings, lines, keys=[e["case_id"] for e in events])
    make_app(postgres_database).engine.dispose()
    process = worker_process(settings, postgres_database, idle=30)
    time.sleep(8)
    process.send_signal(signal.SIGTERM)
    out, err = process.communicate(timeout=120)
    assert process.returncode == 0, err[-2000:]
    assert "signal SIGTERM" in err and "worker stopped" in out
    first = int(out.split("worker stopped: ")[1].split(" message")[0])
    applied_before, _ = journal_count(postgres_database)
    # Everything it took was committed to Kafka: a successor starts where it stopped, re-reading nothing.
    second = worker_process(settings, postgres_database, idle=4)
    out2 = finished(second)
    again = int(out2.split("worker stopped: ")[1].split(" message")[0])
    assert first > 0 and first + again == len(lines)
    applied, distinct = journal_count(postgres_database)
    assert applied == distinct == len({e["event_id"] for e in events}) and applied >= applied_before


def test_partitions_assigned_during_a_database_outage_are_paused_and_nothing_is_dropped(
        postgres_database: str, tmp_path: Path) -> None:
    """A member joins and leaves while the database is down: the partitions the worker gets back
    during the outage must stay paused (their records were once polled and dropped, then committed past)."""
    from kafka import KafkaConsumer

    events = simulated_events(150, seed=24)
    lines = [json.dumps(e, ensure_ascii=False) for e in events]
    baseline = make_app(f"sqlite:///{tmp_path / 'baseline.db'}")
    ingest_all(baseline, lines)
    settings = kafka_settings(unique_prefix("reassigned"), batch_size=50, session_timeout_ms=6000)
    create_topics(settings)
    make_app(postgres_database).engine.dispose()
    host, port = postgres_database.split("@", 1)[1].split("/", 1)[0].split(":")
    proxy = _Proxy(host, int(port))
    app = make_app(postgres_database.replace(f"{host}:{port}", f"127.0.0.1:{proxy.port}"))
    produce(settings, lines, keys=[e["case_id"] for e in events])
    worker = CaseEventWorker(app, settings)
    steps: list[str] = []
    proxy.cut()

    def member_comes_and_goes() -> None:
        deadline = time.monotonic() + 60
        while worker.stats.database_retries < 2 and time.monotonic() < deadline:
            time.sleep(0.2)
        other = KafkaConsumer(bootstrap_servers=settings.bootstrap, group_id=settings.group,
                              enable_auto_commit=False, session_timeout_ms=6000)
        other.subscribe([settings.topic])
        while not other.assignment() and time.monotonic() < deadline:
            other.poll(timeout_ms=200)
        steps.append(f"the other member held {len(other.assignment())} partition(s)")
        other.pause(*other.assignment())  # it reads nothing: only the worker's records matter
        other.close(autocommit=False)  # leaving: the worker is given them back, the database still down
        time.sleep(4.0)  # the worker's retry polls run on the partitions it got back
        steps.append(f"{worker.stats.database_retries} retries")
        proxy.restore()

    threading.Thread(target=member_comes_and_goes, daemon=True).start()
    worker.run(exit_when_idle=4)
    proxy.close()
    assert len(steps) == 2 and not steps[0].startswith("the other member held 0"), steps
    applied, distinct = journal_count(postgres_database)
    assert applied == distinct == len({e["event_id"] for e in events}), steps
    assert digest(make_app(postgres_database)) == digest(baseline)
