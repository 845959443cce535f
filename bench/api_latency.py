"""The HTTP API over a million cases: a case's control slip and a page of late cases for one agency.

Run after ``eval "$(scripts/services up)"``:

    python3 bench/api_latency.py --cases 1000000
    python3 bench/api_latency.py --url postgresql+psycopg://.../eiso_bench_x    # a kept data set

``eiso serve`` runs in its own process on a free loopback port over the data set of
``bench/dataset.py``. Each of ``--clients`` threads is an ISO secretary bound to one commune
(an API token made as ``eiso users create`` makes it) and, for ``--seconds``, back to back or
``--rate`` times a second, asks in turn for the control slip of a random case of its commune
(``GET /cases/{id}``) and for the first page of its commune's late cases
(``GET /cases?agency=...&overdue=true``), with the routes' real scope checks. Latencies are
client-side, keep-alive connections, after a short warm-up. Back to back, 20 clients measure the
process's throughput (latency = clients / throughput); paced, they measure a request's latency
under that load. The server gets one database connection per client (EISO_DATABASE_POOL_SIZE).
A benchmark, not a test: no threshold.
"""

from __future__ import annotations

import argparse
import os
import random
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import quote

import httpx

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench.dataset import CALENDAR_ENV, load, psycopg_url  # noqa: E402
from bench.environment import drop_database, fresh_database, machine  # noqa: E402
from bench.watcher_latency import print_table  # noqa: E402
from engine.api.roles import Role  # noqa: E402
from engine.api.users import create_user  # noqa: E402
from engine.store.database import make_engine  # noqa: E402

SLIP, LATE = "control slip", "late cases page"
GOALS_MS = {SLIP: 50.0, LATE: 100.0}


@dataclass
class Client:
    agency: str
    token: str
    cases: list[str]
    samples: dict[str, list[float]] = field(default_factory=lambda: {SLIP: [], LATE: []})
    errors: list[str] = field(default_factory=list)


@dataclass
class Measured:
    cases: int
    clients: int
    seconds: float
    latencies: dict[str, list[float]]
    errors: list[str]
    late_total: int
    rate: float = 0


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(share * len(ordered)))]


def prepare(url: str, clients: int, per_client: int, seed: int) -> list[Client]:
    """One ISO secretary per busiest commune, with a sample of that commune's dossier codes."""
    import psycopg

    rng = random.Random(seed)
    with psycopg.connect(psycopg_url(url)) as conn:
        agencies = [r[0] for r in conn.execute(
            "SELECT agency FROM cases WHERE agency NOT LIKE '000.00.%%' GROUP BY agency "
            "ORDER BY count(*) DESC LIMIT %s", (clients,)).fetchall()]
        made = []
        engine = make_engine(url)
        for n in range(clients):
            agency = agencies[n % len(agencies)]
            ids = [r[0] for r in conn.execute("SELECT case_id FROM cases WHERE agency = %s", (agency,)).fetchall()]
            token = create_user(engine, f"bench-{agency}-{uuid.uuid4().hex[:10]}", Role.iso_secretary, [agency],
                                datetime.now(UTC))
            made.append(Client(agency, token, rng.sample(ids, min(per_client, len(ids)))))
        engine.dispose()
    return made


def serve(url: str, port: int, pool_size: int) -> tuple[subprocess.Popen[str], str]:
    """``eiso serve`` in its own process, with a connection for each client (EISO_DATABASE_POOL_SIZE)."""
    overrides = tempfile.NamedTemporaryFile("w", suffix=".toml", delete=False)  # noqa: SIM115
    overrides.close()
    env = {**os.environ, **CALENDAR_ENV, "EISO_CALENDAR_OVERRIDES": overrides.name, "EISO_DATABASE_URL": url,
           "EISO_OUTBOX": "false", "EISO_DATABASE_POOL_SIZE": str(pool_size)}
    env.pop("EISO_KAFKA_BOOTSTRAP", None)
    server = subprocess.Popen([sys.executable, "-m", "engine.cli.app", "serve", "--host", "127.0.0.1", "--port",
                               str(port)], cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                              text=True)
    base = f"http://127.0.0.1:{port}"
    for _ in range(600):
        if server.poll() is not None:
            raise RuntimeError(f"eiso serve stopped: {server.stderr.read() if server.stderr else ''}")
        try:
            if httpx.get(f"{base}/openapi.json", timeout=1).status_code == 200:
                return server, overrides.name
        except httpx.HTTPError:
            pass
        time.sleep(0.2)
    raise RuntimeError("eiso serve did not start")


def drive(client: Client, base: str, until: float, record_from: float, rng: random.Random, rate: float) -> None:
    """Requests back to back (``rate`` 0), or ``rate`` a second at a steady pace (a user, not a loop)."""
    headers = {"Authorization": f"Bearer {client.token}"}
    late_path = f"/cases?agency={quote(client.agency)}&overdue=true&limit=50"
    with httpx.Client(base_url=base, headers=headers, timeout=30) as http:
        turn = 0
        next_at = time.perf_counter() + (rng.random() / rate if rate else 0)
        while time.perf_counter() < until:
            if rate:
                time.sleep(max(0.0, next_at - time.perf_counter()))
                next_at = max(next_at + 1 / rate, time.perf_counter())
            kind = SLIP if turn % 2 == 0 else LATE
            turn += 1
            path = f"/cases/{quote(rng.choice(client.cases), safe='')}" if kind == SLIP else late_path
            begun = time.perf_counter()
            try:
                answer = http.get(path)
            except httpx.HTTPError as err:
                client.errors.append(f"{kind}: {err!r}")
                continue
            elapsed = time.perf_counter() - begun
            if answer.status_code != 200:
                client.errors.append(f"{kind}: HTTP {answer.status_code} {answer.text[:200]}")
            elif begun >= record_from:
                client.samples[kind].append(elapsed * 1000)


def run_clients(clients: list[Client], base: str, seconds: float, warmup: float, seed: int, rate: float = 0
                ) -> float:
    start = time.perf_counter()
    record_from, until = start + warmup, start + warmup + seconds
    threads = [threading.Thread(target=drive, args=(c, base, until, record_from, random.Random(seed + n), rate))
               for n, c in enumerate(clients)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return time.perf_counter() - record_from


def measure(cases: int, url: str | None = None, clients: int = 20, seconds: float = 30.0, warmup: float = 5.0,
            seed: int = 1, base: str | None = None, rate: float = 0) -> Measured:
    base = base or os.environ.get("EISO_DATABASE_URL", "")
    if url is None and not base.startswith("postgresql"):
        sys.exit('start the services first: eval "$(scripts/services up)"')
    made = None
    if url is None:
        made = url = fresh_database(base)
        load(url, cases)
    try:
        prepared = prepare(url, clients, 500, seed)
        port = free_port()
        server, overrides = serve(url, port, pool_size=clients)
        try:
            base_url = f"http://127.0.0.1:{port}"
            late = httpx.get(f"{base_url}/cases?agency={quote(prepared[0].agency)}&overdue=true&limit=1",
                             headers={"Authorization": f"Bearer {prepared[0].token}"}, timeout=30).json()["total"]
            elapsed = run_clients(prepared, base_url, seconds, warmup, seed, rate)
        finally:
            server.send_signal(signal.SIGINT)
            try:
                server.communicate(timeout=30)
            except subprocess.TimeoutExpired:
                server.kill()
                server.communicate()
            os.unlink(overrides)
        with make_engine(url).connect() as conn:
            total = int(conn.exec_driver_sql("SELECT count(*) FROM cases").scalar_one())
    finally:
        if made:
            drop_database(made)
    latencies = {kind: [x for c in prepared for x in c.samples[kind]] for kind in (SLIP, LATE)}
    return Measured(total, clients, elapsed, latencies, [e for c in prepared for e in c.errors], int(late), rate)


def rows(m: Measured) -> list[dict[str, Any]]:
    out = []
    for kind, values in m.latencies.items():
        p99 = percentile(values, 0.99) if values else float("inf")
        out.append({
            "target": f"{kind}, {m.cases:,} cases, {m.clients} clients "
                      + (f"at {m.rate:g} req/s each" if m.rate else "back to back"),
            "measured": (f"p50 {percentile(values, 0.5):.1f} ms, p95 {percentile(values, 0.95):.1f} ms, "
                         f"p99 {p99:.1f} ms, {len(values) / m.seconds:.0f} req/s" if values else "no answer"),
            "goal": f"p99 < {GOALS_MS[kind]:.0f} ms",
            "met": p99 < GOALS_MS[kind] and not m.errors,
        })
    return out


def summary(**kwargs: Any) -> list[dict[str, Any]]:
    return rows(measure(**kwargs))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--cases", type=int, default=1_000_000)
    parser.add_argument("--url", help="a data set kept by bench/dataset.py --keep, instead of loading --cases")
    parser.add_argument("--clients", type=int, default=20)
    parser.add_argument("--seconds", type=float, default=30.0)
    parser.add_argument("--warmup", type=float, default=5.0)
    parser.add_argument("--rate", type=float, default=0, help="requests a second per client (0: back to back)")
    args = parser.parse_args()
    m = measure(args.cases, args.url, args.clients, args.seconds, args.warmup, rate=args.rate)
    print(f"machine: {machine()}")
    print(f"{m.cases:,} cases; {m.clients} clients for {m.seconds:.0f} s; the first commune has {m.late_total} "
          f"late case(s); {len(m.errors)} error(s)")
    for error in m.errors[:5]:
        print(f"  {error}")
    print_table(rows(m))


if __name__ == "__main__":
    main()
