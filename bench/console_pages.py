"""The web console over a million cases: each page's time, signed-in users of several scopes, 20 at once.

Run after ``eval "$(scripts/services up)"``:

    python3 bench/console_pages.py --cases 1000000
    python3 bench/console_pages.py --url postgresql+psycopg://.../eiso_bench_x --rate 1   # a kept data set

The twin of ``bench/api_latency.py`` for the console (``/console`` of ``eiso serve``, ``create_site``):
``eiso serve`` runs in its own process on a free loopback port over the data set of ``bench/dataset.py``.
Each of ``--clients`` threads is a user with an API token (as ``eiso users create`` makes it), signed in
through the console's form (``GET /console/signin`` for the CSRF token and its ``eiso_signin`` cookie,
``POST /console/signin``: the ``eiso_session`` cookie), on a keep-alive connection. The first is an admin
(every agency), the second a leader bound to the department ``000.00.12.H10`` (its hundred communes), the
third a leader bound to a district code covering two communes, every other one an ISO secretary bound to one
of the busiest communes: list pages differ by scope. For ``--seconds``, back to back or ``--rate`` pages a
second, each asks in turn for every page (``PAGES``): the overview, the procedures, the version of the
procedure its scope has most overdue steps of (for the data set's days) and that step's overdue cases, the
cases (first page, overdue, one agency), a random case of its scope, the nonconformities worklist and a random
nonconformity of its scope, the attainment and bottleneck reports for the data set's days, the audit log.

Latencies are client-side (request sent to page read, keep-alive), recorded after ``--warmup`` seconds; each
client's first answer of each page (the console's counts not yet kept: ``Recent`` of the procedures pages) is
also shown apart, with p99 per kind of user. A request still running at the end is waited for (a report over a
million cases took minutes before migration 0015), and a page not answered yet is asked for once more, so that
each has a figure.
Back to back, 20 clients measure the process's throughput (latency = clients / throughput); paced, a page's
latency under that load. The server gets one database connection per client (EISO_DATABASE_POOL_SIZE). A page
whose route the console does not have (yet) is skipped and named; ``--without`` leaves pages out. A benchmark,
not a test: no threshold.
"""

from __future__ import annotations

import argparse
import os
import random
import re
import signal
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any
from urllib.parse import quote, urlencode

import httpx

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench.api_latency import free_port, percentile  # noqa: E402
from bench.dataset import CALENDAR_ENV, load, psycopg_url  # noqa: E402
from bench.environment import drop_database, fresh_database, machine  # noqa: E402
from bench.watcher_latency import print_table  # noqa: E402
from engine.api.roles import Role  # noqa: E402
from engine.api.users import create_user  # noqa: E402
from engine.core.agency import covers  # noqa: E402
from engine.store.database import make_engine  # noqa: E402

HOME, PROCEDURES, VERSION, OVERDUE = "home", "procedures list", "procedure version", "step overdue list"
CASES, CASES_OVERDUE, CASES_AGENCY, CASE = "cases list", "cases list, overdue", "cases list, one agency", "case page"
WORKLIST, RECORD = "nonconformity worklist", "nonconformity page"
ATTAINMENT, BOTTLENECKS, AUDIT = "attainment report", "bottlenecks report", "audit log"
PAGES = (HOME, PROCEDURES, VERSION, OVERDUE, CASES, CASES_OVERDUE, CASES_AGENCY, CASE, WORKLIST, RECORD,
         ATTAINMENT, BOTTLENECKS, AUDIT)
# The console's route each page needs (engine/console/pages/*.py): without it the page is skipped.
ROUTES = {HOME: "/", PROCEDURES: "/procedures", VERSION: "/procedures/{code}/versions/{version}",
          OVERDUE: "/procedures/{code}/versions/{version}/steps/{step}/overdue", CASES: "/cases",
          CASES_OVERDUE: "/cases", CASES_AGENCY: "/cases", CASE: "/cases/{case_id:path}",
          WORKLIST: "/nonconformities", RECORD: "/nonconformities/{key:path}", ATTAINMENT: "/reports/attainment",
          BOTTLENECKS: "/reports/bottlenecks", AUDIT: "/audit"}
# Short names for --without.
KEYS = {"home": HOME, "procedures": PROCEDURES, "version": VERSION, "overdue": OVERDUE, "cases": CASES,
        "cases-overdue": CASES_OVERDUE, "cases-agency": CASES_AGENCY, "case": CASE, "worklist": WORKLIST,
        "record": RECORD, "attainment": ATTAINMENT, "bottlenecks": BOTTLENECKS, "audit": AUDIT}
GOAL_MS = 300.0
TIMEOUT = 900.0  # seconds: a report over every agency's million cases took minutes before 0015 (BENCHMARKS.md)
DEPARTMENT = "000.00.12.H10"
SECRETARY, DISTRICT, DEPARTMENT_LEADER, ADMIN = "secretary", "district leader", "department leader", "admin"
CSRF = re.compile(r'name="csrf" value="([^"]+)"')


@dataclass
class Client:
    kind: str  # SECRETARY, DISTRICT, DEPARTMENT_LEADER or ADMIN
    agencies: list[str]  # the codes the user is bound to (none: every agency)
    token: str
    paths: dict[str, str]  # the fixed page of each kind (case and nonconformity pages are drawn per request)
    cases: list[str]
    records: list[str]
    samples: dict[str, list[float]] = field(default_factory=dict)
    first: dict[str, float] = field(default_factory=dict)  # each page's first answer (cold caches)
    errors: list[str] = field(default_factory=list)
    retries: int = 0

    def pages(self) -> tuple[str, ...]:
        """The pages this user has something to ask for (a scope without overdue steps has no version page)."""
        return tuple(page for page in PAGES if page in self.paths or (page == CASE and self.cases)
                     or (page == RECORD and self.records))


@dataclass
class Measured:
    cases: int
    clients: int
    seconds: float
    latencies: dict[str, list[float]]
    by_kind: dict[tuple[str, str], list[float]]
    first: dict[str, list[float]]
    errors: dict[str, list[str]]
    skipped: dict[str, str]  # page: why
    period: tuple[date, date]
    rate: float = 0
    pages: tuple[str, ...] = PAGES
    retries: int = 0  # GETs sent again after the server closed an idle connection


def console_routes() -> set[str]:
    """The paths of the console's pages as ``engine.console.app`` mounts them (relative to /console)."""
    from engine.console.app import ROUTERS

    return {str(getattr(route, "path", "")) for router in ROUTERS for route in router.routes}


def _day(value: datetime, zone: str) -> date:
    from zoneinfo import ZoneInfo

    return value.astimezone(ZoneInfo(zone)).date()


def _ddmmyyyy(day: date) -> str:
    return day.strftime("%d/%m/%Y")


def _scope_codes(kind: str, bound: list[str], agencies: list[str]) -> list[str]:
    """The data set's agencies a user of ``kind`` bound to ``bound`` sees."""
    if kind == ADMIN:
        return list(agencies)
    return [a for a in agencies if any(covers(code, a) for code in bound)]


def _kinds(clients: int) -> list[str]:
    return ([ADMIN, DEPARTMENT_LEADER, DISTRICT] + [SECRETARY] * clients)[:clients]


def prepare(url: str, clients: int, per_client: int, seed: int, zone: str) -> tuple[list[Client], tuple[date, date]]:
    """The users, and for each the pages it asks for: its scope's busiest version and step, its cases and records."""
    import psycopg

    now = datetime.now(UTC)
    with psycopg.connect(psycopg_url(url)) as conn:
        conn.execute("SELECT setseed(%s)", (random.Random(seed).uniform(-1, 1),))  # the samples' random()
        by_agency = {str(a): int(n) for a, n in conn.execute(
            "SELECT agency, count(*) FROM cases GROUP BY agency").fetchall()}
        first_at, last_at = conn.execute("SELECT min(received_at), max(received_at) FROM cases").fetchone() or (
            now, now)
        # Active steps past their due now, per agency, version and step (the version page's and overdue list's).
        steps = [(str(a), str(p), int(v), str(s), str(st), int(n)) for a, p, v, s, st, n in conn.execute(
            "SELECT c.agency, c.procedure, c.procedure_version, c.procedure_scope, s.step, count(*) "
            "FROM case_step s JOIN cases c ON c.case_id = s.case_id WHERE s.status = 'active' AND s.running "
            "AND s.due_at < %s GROUP BY 1, 2, 3, 4, 5", (now,)).fetchall()]
        communes = sorted((a for a in by_agency if not a.startswith("000.00.")), key=lambda a: -by_agency[a])
        districts = sorted({a for a in by_agency if a.startswith("000.") and not a.startswith("000.00.")},
                           key=lambda d: -sum(n for a, n in by_agency.items() if covers(d, a)))
        agencies = sorted(by_agency)
        engine = make_engine(url)
        made: list[Client] = []
        secretaries = 0
        for n, kind in enumerate(_kinds(clients)):
            if kind == ADMIN:
                bound: list[str] = []
            elif kind == DEPARTMENT_LEADER:
                bound = [DEPARTMENT]
            elif kind == DISTRICT:
                bound = [districts[0] if districts else communes[0]]
            else:
                bound = [communes[secretaries % len(communes)]]
                secretaries += 1
            seen = _scope_codes(kind, bound, agencies)
            role = {ADMIN: Role.admin, SECRETARY: Role.iso_secretary}.get(kind, Role.leader)
            token = create_user(engine, f"bench-console-{n}-{uuid.uuid4().hex[:10]}", role, bound, now)
            cases = [str(r[0]) for r in conn.execute(
                "SELECT case_id FROM cases WHERE agency = ANY(%s) ORDER BY random() LIMIT %s",
                (seen, per_client)).fetchall()]
            records = [str(r[0]) for r in conn.execute(
                "SELECT key FROM nonconformity WHERE agency = ANY(%s) ORDER BY random() LIMIT %s",
                (seen, per_client)).fetchall()]
            made.append(Client(kind, bound, token, {}, cases, records))
            mine: dict[tuple[str, int, str, str], int] = {}
            for agency, code, version, scope, step, count in steps:
                if agency in seen:
                    mine[code, version, scope, step] = mine.get((code, version, scope, step), 0) + count
            busiest = max(mine, key=lambda k: mine[k]) if mine else None
            commune = max((a for a in seen if not a.startswith("000.00.")), key=lambda a: by_agency[a],
                          default=seen[0] if seen else communes[0])
            made[-1].paths.update(_paths(busiest, commune, _day(first_at, zone), _day(last_at, zone)))
        engine.dispose()
    return made, (_day(first_at, zone), _day(last_at, zone))


def _paths(busiest: tuple[str, int, str, str] | None, commune: str, first: date, last: date) -> dict[str, str]:
    period = {"from": _ddmmyyyy(first), "to": _ddmmyyyy(last)}
    paths = {HOME: "/console/", PROCEDURES: "/console/procedures", CASES: "/console/cases",
             CASES_OVERDUE: "/console/cases?overdue=true", CASES_AGENCY: "/console/cases?" + urlencode({
                 "agency": commune}), WORKLIST: "/console/nonconformities",
             ATTAINMENT: "/console/reports/attainment?" + urlencode(period),
             BOTTLENECKS: "/console/reports/bottlenecks?" + urlencode(period), AUDIT: "/console/audit"}
    if busiest is not None:
        code, version, scope, step = busiest
        version_path = f"/console/procedures/{quote(code, safe='')}/versions/{version}"
        scoped = {"scope": scope} if scope != "*" else {}
        paths[VERSION] = version_path + "?" + urlencode({**scoped, **period})
        paths[OVERDUE] = (f"{version_path}/steps/{quote(step, safe='')}/overdue"
                          + ("?" + urlencode(scoped) if scoped else ""))
    return paths


def serve(url: str, port: int, pool_size: int, log: Path) -> subprocess.Popen[bytes]:
    """``eiso serve`` in its own process, a connection for each client; its messages to ``log``."""
    overrides = log.with_suffix(".toml")
    overrides.write_text("")
    env = {**os.environ, **CALENDAR_ENV, "EISO_CALENDAR_OVERRIDES": str(overrides), "EISO_DATABASE_URL": url,
           "EISO_OUTBOX": "false", "EISO_DATABASE_POOL_SIZE": str(pool_size)}
    for name in ("EISO_KAFKA_BOOTSTRAP", "EISO_GRAFANA_URL"):
        env.pop(name, None)
    with log.open("wb") as out:
        server = subprocess.Popen([sys.executable, "-m", "engine.cli.app", "serve", "--host", "127.0.0.1", "--port",
                                   str(port)], cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=out)
    base = f"http://127.0.0.1:{port}"
    for _ in range(1500):  # migrations of a million-case data set (a new index) may run first
        if server.poll() is not None:
            raise RuntimeError(f"eiso serve stopped: {log.read_text(errors='replace')[-3000:]}")
        try:
            if httpx.get(f"{base}/health", timeout=1).status_code == 200:
                return server
        except httpx.HTTPError:
            pass
        time.sleep(0.2)
    server.kill()
    raise RuntimeError("eiso serve did not start")


def sign_in(base: str, token: str) -> httpx.Client:
    """A keep-alive client signed in through the console's form, as a browser does."""
    http = httpx.Client(base_url=base, timeout=TIMEOUT, follow_redirects=False)
    form = http.get("/console/signin")
    found = CSRF.search(form.text)
    if form.status_code != 200 or found is None or "eiso_signin" not in http.cookies:
        raise RuntimeError(f"sign-in form: HTTP {form.status_code}, no CSRF token or cookie")
    answer = http.post("/console/signin", data={"csrf": found.group(1), "token": token, "next": "/console/"})
    if answer.status_code != 303 or "eiso_session" not in http.cookies:
        raise RuntimeError(f"sign-in refused: HTTP {answer.status_code} {answer.text[:200]}")
    return http


def _path(client: Client, page: str, rng: random.Random) -> str:
    if page == CASE:
        return "/console/cases/" + quote(rng.choice(client.cases), safe="/")
    if page == RECORD:
        return "/console/nonconformities/" + quote(rng.choice(client.records), safe=":/")
    return client.paths[page]


def drive(client: Client, http: httpx.Client, pages: tuple[str, ...], until: float, record_from: float,
          rng: random.Random, rate: float) -> None:
    """Every page in turn, back to back or ``rate`` a second, until ``until``; answers from ``record_from`` on
    are recorded, and after ``until`` one more round asks for each page that has none yet."""
    pages = tuple(page for page in pages if page in client.pages())
    if not pages:
        return
    turn = rng.randrange(len(pages))
    late = 0  # requests begun after ``until``: at most one round, for the pages not recorded yet
    next_at = time.perf_counter() + (rng.random() / rate if rate else 0)
    while time.perf_counter() < until or (late < len(pages) and any(p not in client.samples for p in pages)):
        page = pages[turn % len(pages)]
        turn += 1
        if time.perf_counter() >= until:
            late += 1
            if page in client.samples:
                continue
        if rate:
            time.sleep(max(0.0, next_at - time.perf_counter()))
            next_at = max(next_at + 1 / rate, time.perf_counter())
        path = _path(client, page, rng)
        begun = time.perf_counter()
        try:
            try:
                answer = http.get(path)
            except (httpx.ReadError, httpx.RemoteProtocolError):
                # The server closed the idle keep-alive connection as the request left (uvicorn keeps one
                # 5 s): a browser sends the GET again on a new connection, and so does this client.
                client.retries += 1
                answer = http.get(path)
        except httpx.HTTPError as err:
            client.errors.append(f"{page}: {path}: {err!r}")
            continue
        elapsed = (time.perf_counter() - begun) * 1000
        if answer.status_code != 200:
            client.errors.append(f"{page}: {path}: HTTP {answer.status_code} {answer.text[:200]!r}")
            continue
        client.first.setdefault(page, elapsed)
        if begun >= record_from and (begun < until or page not in client.samples):
            client.samples.setdefault(page, []).append(elapsed)


def run_clients(clients: list[Client], https: list[httpx.Client], pages: tuple[str, ...], seconds: float,
                warmup: float, seed: int, rate: float = 0) -> None:
    start = time.perf_counter()
    record_from, until = start + warmup, start + warmup + seconds
    threads = [threading.Thread(target=drive, args=(c, h, pages, until, record_from, random.Random(seed + n), rate))
               for n, (c, h) in enumerate(zip(clients, https, strict=True))]
    for t in threads:
        t.start()
    for t in threads:
        t.join()


def measure(cases: int, url: str | None = None, clients: int = 20, seconds: float = 60.0, warmup: float = 10.0,
            seed: int = 1, base: str | None = None, rate: float = 0, log: Callable[[str], Any] | None = None,
            without: tuple[str, ...] = ()) -> Measured:
    say = log or (lambda text: print(text, file=sys.stderr))
    base = base or os.environ.get("EISO_DATABASE_URL", "")
    if url is None and not base.startswith("postgresql"):
        sys.exit('start the services first: eval "$(scripts/services up)"')
    zone = os.environ.get("EISO_CALENDAR_TIMEZONE", "Asia/Ho_Chi_Minh")
    made = None
    if url is None:
        made = url = fresh_database(base)
        say(f"loading {cases:,} cases ...")
        load(url, cases)
    try:
        prepared, period = prepare(url, clients, 500, seed, zone)
        routes = console_routes()
        skipped = {page: "the console has no such page (yet)" for page in PAGES if ROUTES[page] not in routes}
        skipped.update({page: "left out (--without)" for page in without if page not in skipped})
        skipped.update({page: "nothing of the kind in the users' scopes" for page in PAGES
                        if page not in skipped and not any(page in c.pages() for c in prepared)})
        pages = tuple(page for page in PAGES if page not in skipped)
        port = free_port()
        with tempfile.TemporaryDirectory() as folder:
            server_log = Path(folder) / "serve.log"
            say("starting eiso serve ...")
            server = serve(url, port, clients, server_log)
            https: list[httpx.Client] = []
            try:
                base_url = f"http://127.0.0.1:{port}"
                https = [sign_in(base_url, c.token) for c in prepared]
                say(f"{len(prepared)} users signed in; {len(pages)} pages, "
                    f"{'back to back' if not rate else f'{rate:g} a second each'} for {seconds:g} s ...")
                run_clients(prepared, https, pages, seconds, warmup, seed, rate)
            finally:
                for http in https:
                    http.close()
                server.send_signal(signal.SIGINT)
                try:
                    server.wait(timeout=30)
                except subprocess.TimeoutExpired:
                    server.kill()
                    server.wait()
        with make_engine(url).connect() as conn:
            total = int(conn.exec_driver_sql("SELECT count(*) FROM cases").scalar_one())
    finally:
        if made:
            drop_database(made)
    latencies = {page: [x for c in prepared for x in c.samples.get(page, [])] for page in pages}
    by_kind: dict[tuple[str, str], list[float]] = {}
    for c in prepared:
        for page, values in c.samples.items():
            by_kind.setdefault((page, c.kind), []).extend(values)
    first = {page: [c.first[page] for c in prepared if page in c.first] for page in pages}
    errors: dict[str, list[str]] = {page: [] for page in pages}
    for c in prepared:
        for error in c.errors:
            errors.setdefault(error.split(":", 1)[0], []).append(error)
    return Measured(total, clients, seconds, latencies, by_kind, first, errors, skipped, period, rate, pages,
                    sum(c.retries for c in prepared))


def _figures(values: list[float]) -> str:
    return (f"p50 {percentile(values, 0.5):.1f} ms, p95 {percentile(values, 0.95):.1f} ms, "
            f"p99 {percentile(values, 0.99):.1f} ms, max {max(values):.1f} ms, {len(values)} pages")


def rows(m: Measured) -> list[dict[str, Any]]:
    out = []
    load_text = f"at {m.rate:g} page/s each" if m.rate else "back to back"
    for page in m.pages:
        values = m.latencies[page]
        p99 = percentile(values, 0.99) if values else float("inf")
        errors = m.errors.get(page, [])
        out.append({
            "target": f"console {page}, {m.cases:,} cases, {m.clients} clients {load_text}",
            "measured": (_figures(values) if values else "no answer")
            + (f", {len(errors)} error(s)" if errors else ""),
            "goal": f"p99 < {GOAL_MS:.0f} ms",
            "met": p99 < GOAL_MS and not errors,
        })
    for page, why in m.skipped.items():
        out.append({"target": f"console {page}, {m.cases:,} cases, {m.clients} clients {load_text}",
                    "measured": f"skipped: {why}", "goal": f"p99 < {GOAL_MS:.0f} ms", "met": False})
    return out


def summary(**kwargs: Any) -> list[dict[str, Any]]:
    return rows(measure(**kwargs))


def print_details(m: Measured) -> None:
    """p99 per page and user kind, and each page's first answer (cold caches), slowest client."""
    kinds = [k for k in (ADMIN, DEPARTMENT_LEADER, DISTRICT, SECRETARY) if any(k == kind for _, kind in m.by_kind)]
    print("\np99 (ms) per page and user: " + ", ".join(kinds) + "; first answer of the page (cold), slowest client")
    width = max(len(page) for page in m.pages) + 2
    print("page".ljust(width) + "".join(k[:18].rjust(19) for k in kinds) + "   first (cold)")
    for page in m.pages:
        cells = []
        for kind in kinds:
            values = m.by_kind.get((page, kind), [])
            cells.append((f"{percentile(values, 0.99):.1f}" if values else "-").rjust(19))
        cold = m.first.get(page) or []
        print(page.ljust(width) + "".join(cells) + (f"   {max(cold):.1f}" if cold else "   -"))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--cases", type=int, default=1_000_000)
    parser.add_argument("--url", help="a data set kept by bench/dataset.py --keep, instead of loading --cases")
    parser.add_argument("--clients", type=int, default=20)
    parser.add_argument("--seconds", type=float, default=60.0)
    parser.add_argument("--warmup", type=float, default=10.0, help="seconds before answers are recorded")
    parser.add_argument("--rate", type=float, default=0, help="pages a second per client (0: back to back)")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--without", default="", help="pages left out, comma-separated: " + ", ".join(KEYS))
    args = parser.parse_args()
    unknown = [key for key in args.without.split(",") if key and key not in KEYS]
    if unknown:
        parser.error(f"unknown page(s) {', '.join(unknown)}: choose among {', '.join(KEYS)}")
    without = tuple(KEYS[key] for key in args.without.split(",") if key)
    m = measure(args.cases, args.url, args.clients, args.seconds, args.warmup, args.seed, rate=args.rate,
                without=without)
    print(f"machine: {machine()}")
    total_errors = sum(len(e) for e in m.errors.values())
    kinds = _kinds(m.clients)
    print(f"{m.cases:,} cases; {m.clients} clients ({kinds.count(ADMIN)} admin, {kinds.count(DEPARTMENT_LEADER)} "
          f"department leader, {kinds.count(DISTRICT)} district leader, {kinds.count(SECRETARY)} secretaries) for "
          f"{m.seconds:g} s, {'back to back' if not m.rate else f'{m.rate:g} page/s each'}; period "
          f"{_ddmmyyyy(m.period[0])}-{_ddmmyyyy(m.period[1])}; {total_errors} error(s); {m.retries} GET(s) sent again "
          "on a new connection")
    for page, why in m.skipped.items():
        print(f"skipped {page}: {why}")
    for error in [e for errors in m.errors.values() for e in errors][:5]:
        print(f"  {error}")
    print_table(rows(m))
    print_details(m)


if __name__ == "__main__":
    main()
