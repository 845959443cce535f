"""``eiso history import`` on a synthetic year of dossiers: time, events per second, resident memory.

    python3 bench/history_import.py                          # 100,000 cases, CSV in time order, SQLite
    python3 bench/history_import.py --cases 150000 --format xes.gz
    EISO_DATABASE_URL=postgresql+psycopg://... python3 bench/history_import.py --postgres

It writes a log of ``--cases`` dossiers of procedure 1.001806 received on 2025's working days: receipt,
assignment, appraisal (a start and a completion for a third of them), review for most, the return;
about 4.7 rows a case. The CSV is in time order, as one-stop-shop exports are, so the cases' rows are
spread over the file and the reader groups them through its temporary SQLite file; the XES is grouped
by trace. Then it runs ``eiso history import`` in a subprocess against a fresh database (a fresh
PostgreSQL database with ``--postgres``, else a SQLite file), sampling the subprocess's VmRSS and
VmHWM (peak) from ``/proc`` every half second, and prints the time, events per second, the RSS at
quarters of the run and the peak. A benchmark, not a test: no threshold on time or memory in CI.
"""

from __future__ import annotations

import argparse
import csv
import gzip
import json
import os
import random
import resource
import subprocess
import sys
import tempfile
import time
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import IO, Any
from zoneinfo import ZoneInfo

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench.environment import drop_database, fresh_database, machine  # noqa: E402

MIB = 1024 * 1024
HCM = ZoneInfo("Asia/Ho_Chi_Minh")
AGENCY = "000.00.12.H10"
PROCEDURE = ROOT / "bpmn" / "1.001806-cap-phep-so-cao-bang.bpmn"
ACTIVITIES = {"Tiếp nhận hồ sơ": "receive_dossier", "Phân công thụ lý": "assign", "Thẩm định hồ sơ": "appraise",
              "Xem xét, trình ký": "review", "Trả kết quả": "case.returned", "Gọi điện cho công dân": "ignore"}
HEADING = ["case:concept:name", "concept:name", "time:timestamp", "lifecycle:transition", "org:group",
           "case:agency", "case:procedure"]


def working_days(year: int) -> list[date]:
    day, days = date(year, 1, 2), []
    while day.year == year:
        if day.weekday() < 5:
            days.append(day)
        day += timedelta(days=1)
    return days


def dossier(number: int, days: list[date], rng: random.Random) -> list[tuple[datetime, str, str]]:
    """(time, activity, lifecycle) rows of one case, in time order."""
    day = days[number % (len(days) - 20)]
    at = datetime(day.year, day.month, day.day, 7, 30, tzinfo=HCM) + timedelta(minutes=rng.randrange(0, 420))
    rows = [(at, "Tiếp nhận hồ sơ", "complete")]
    at += timedelta(hours=rng.uniform(0.5, 6))
    rows.append((at, "Phân công thụ lý", "complete"))
    if number % 3 == 0:
        rows.append((at + timedelta(hours=rng.uniform(1, 20)), "Thẩm định hồ sơ", "start"))
    at += timedelta(days=rng.uniform(2, 12))
    rows.append((at, "Thẩm định hồ sơ", "complete"))
    if number % 5:
        at += timedelta(hours=rng.uniform(1, 30))
        rows.append((at, "Xem xét, trình ký", "complete"))
    if number % 10 == 0:
        rows.append((at + timedelta(minutes=5), "Gọi điện cho công dân", "complete"))
    rows.append((at + timedelta(days=rng.uniform(1, 4)), "Trả kết quả", "complete"))
    return rows


def write_csv(path: Path, cases: int, seed: int) -> int:
    """Rows in time order across cases (as an export sorted by time): a few days' worth held at a time."""
    rng, days = random.Random(seed), working_days(2025)
    pending: list[tuple[datetime, str, str, str]] = []
    written = 0
    with path.open("w", encoding="utf-8", newline="") as handle:
        out = csv.writer(handle)
        out.writerow(HEADING)
        for number in range(cases):
            case_id = f"{AGENCY}-25-{number:07d}"
            pending.extend((at, case_id, activity, lifecycle) for at, activity, lifecycle in dossier(number, days, rng))
            if len(pending) > 50_000:
                pending.sort()
                keep = pending[-20_000:]
                written += _flush(out, pending[:-20_000])
                pending = keep
        pending.sort()
        written += _flush(out, pending)
    return written


def _flush(out: Any, rows: list[tuple[datetime, str, str, str]]) -> int:
    for at, case_id, activity, lifecycle in rows:
        out.writerow([case_id, activity, at.isoformat(), lifecycle, "Một cửa", AGENCY, "1.001806"])
    return len(rows)


def write_xes(path: Path, cases: int, seed: int) -> int:
    rng, days = random.Random(seed), working_days(2025)
    written = 0
    handle: IO[str]
    with gzip.open(path, "wt", encoding="utf-8") as handle:
        handle.write('<?xml version="1.0" encoding="UTF-8"?>\n<log xes.version="1.0">\n')
        for number in range(cases):
            handle.write(f'<trace><string key="concept:name" value="{AGENCY}-25-{number:07d}"/>'
                         f'<string key="agency" value="{AGENCY}"/><string key="procedure" value="1.001806"/>')
            for at, activity, lifecycle in dossier(number, days, rng):
                handle.write(f'<event><string key="concept:name" value="{activity}"/><date key="time:timestamp" '
                             f'value="{at.isoformat()}"/><string key="lifecycle:transition" value="{lifecycle}"/>'
                             "</event>")
                written += 1
            handle.write("</trace>\n")
        handle.write("</log>\n")
    return written


def rss(pid: int) -> tuple[int, int]:
    values = {}
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith(("VmRSS:", "VmHWM:")):
                values[line.split(":")[0]] = int(line.split()[1]) * 1024
    except OSError:
        pass
    return values.get("VmRSS", 0), values.get("VmHWM", 0)


def eiso(env: dict[str, str], *args: str) -> subprocess.Popen[str]:
    return subprocess.Popen([sys.executable, "-m", "engine.cli.app", *args], cwd=ROOT, env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cases", type=int, default=100_000)
    parser.add_argument("--format", choices=["csv", "xes.gz"], default="csv")
    parser.add_argument("--postgres", action="store_true", help="a fresh database on EISO_DATABASE_URL's server")
    parser.add_argument("--seed", type=int, default=14)
    options = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="eiso-history-bench-") as folder:
        work = Path(folder)
        log = work / f"history.{options.format}"
        started = time.monotonic()
        rows = (write_csv if options.format == "csv" else write_xes)(log, options.cases, options.seed)
        generated = time.monotonic() - started
        size = log.stat().st_size
        (work / "map.toml").write_text("[activities]\n" + "".join(
            f'"{a}" = "{t}"\n' for a, t in ACTIVITIES.items()), encoding="utf-8")
        database = fresh_database(os.environ["EISO_DATABASE_URL"]) if options.postgres else \
            f"sqlite:///{work / 'history.db'}"
        env = {**os.environ, "EISO_DATABASE_URL": database}
        env.pop("EISO_KAFKA_BOOTSTRAP", None)
        try:
            deploy = eiso(env, "procedures", "deploy", str(PROCEDURE))
            if deploy.wait() != 0:
                raise SystemExit(f"deploy failed: {deploy.stderr.read() if deploy.stderr else ''}")
            report = run_import(env, log, work / "map.toml")
        finally:
            if options.postgres:
                drop_database(database)
    summary, elapsed, cpu, samples, peak = report
    events = summary["events"]
    print(f"machine: {machine()}")
    print(f"log: {options.cases:,} cases, {rows:,} rows ({options.format}, {size / MIB:.1f} MiB, generated in "
          f"{generated:.0f} s); database: {'PostgreSQL' if options.postgres else 'SQLite'}")
    print(f"import: {summary['cases_replayed']:,} cases, {events:,} events in {elapsed:.0f} s "
          f"({events / elapsed:,.0f} events/s; CPU {cpu:.0f} s of the import process, {events / max(cpu, 1e-9):,.0f} "
          f"events per CPU second: the machine is shared); refused cases: {summary['cases_refused']}; outcomes "
          f"{summary['events_by_outcome']}")
    quarters = [samples[min(len(samples) - 1, int(len(samples) * q))] for q in (0.25, 0.5, 0.75, 1.0)] if samples \
        else []
    print("RSS at 25/50/75/100% of the run: " + ", ".join(f"{value / MIB:.0f} MiB" for value in quarters)
          + f"; peak {peak / MIB:.0f} MiB")


def run_import(env: dict[str, str], log: Path, activity_map: Path
               ) -> tuple[dict[str, Any], float, float, list[int], int]:
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    started = time.monotonic()
    process = eiso(env, "history", "import", str(log), "--map", str(activity_map), "--format", "json", "-q")
    samples: list[int] = []
    peak = 0
    while process.poll() is None:
        current, high = rss(process.pid)
        if current:
            samples.append(current)
            peak = max(peak, high)
        time.sleep(0.5)
    elapsed = time.monotonic() - started
    out, err = process.communicate()
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    if process.returncode not in (0, 1) or not out.strip():
        raise SystemExit(f"import failed ({process.returncode}): {err[-3000:]}")
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return json.loads(out), elapsed, cpu, samples, peak


if __name__ == "__main__":
    main()
