"""``eiso history import`` on an event log that ships inside a registry package (issue 14, Tests).

The log is the process-mining "running example" (W. van der Aalst; exported by Fluxicon Nitro): 6 cases, 42
events, in the source distribution of ``opyenxes`` 0.3.0 on PyPI (``example/xes_file/general_example.xes``).
opyenxes is GPL-3.0: the file is not copied into this repository, it is fetched when the test runs (``pip
download`` of the pinned sdist, its SHA-256 checked, kept under ``~/.cache/eiso-test-logs``) and only read as
input. (pm4py's sdist, AGPL-3.0, carries no log; the MIT-licensed process-mining packages looked at ship none.)
Where the registry cannot be reached the test is skipped, except in CI (``CI=true``), where it fails.

By hand, from the log: per case, the activities are
  1: register request, examine thoroughly, check ticket, decide, reject request
  2: register request, check ticket, examine casually, decide, pay compensation
  3: register request, examine casually, check ticket, decide, reinitiate request, examine thoroughly,
     check ticket, decide, pay compensation
  4: register request, check ticket, examine thoroughly, decide, reject request
  5: register request, examine casually, check ticket, decide, reinitiate request, check ticket,
     examine casually, decide, reinitiate request, examine casually, check ticket, decide, reject request
  6: register request, examine casually, check ticket, decide, pay compensation
so 42 rows: register request 6, examine casually 6, examine thoroughly 3, check ticket 9, decide 9, reinitiate
request 3, pay compensation 3, reject request 3. The procedure made for it: register, then examine and check the
ticket in parallel, then decide; paying or rejecting returns the result (``case.returned``), and "reinitiate
request" is left out of the map: 3 rows unmapped, 39 mapped, and each case's receipt: 45 events.
"""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys
import tarfile
import tomllib
from pathlib import Path

import pytest

from tests.conformance.support import bpmn

PACKAGE, VERSION = "opyenxes", "0.3.0"
SDIST = f"{PACKAGE}-{VERSION}.tar.gz"
SDIST_SHA256 = "49a9c1d419ef0a855d435391da0ad89e9953b13e0cbe12cdd515cfdbd29c345d"
MEMBER = f"{PACKAGE}-{VERSION}/example/xes_file/general_example.xes"
AGENCY = "000.00.12.H10"
PROCEDURE = bpmn("9.000201", {
    "start": "start", "register": "task", "split": "and", "examine": "task", "check_ticket": "task", "join": "and",
    "decide": "task", "end": "end",
}, [("start", "register"), ("register", "split"), ("split", "examine"), ("split", "check_ticket"),
    ("examine", "join"), ("check_ticket", "join"), ("join", "decide"), ("decide", "end")])
MAP = """procedure = "9.000201"

[activities]
"register request" = "register"
"examine casually" = "examine"
"examine thoroughly" = "examine"
"check ticket" = "check_ticket"
"decide" = "decide"
"pay compensation" = "case.returned"
"reject request" = "case.returned"
"""


def eiso(tmp_path: Path, url: str, *args: str) -> subprocess.CompletedProcess[str]:
    """The ``eiso`` command on the database at ``url`` (tests/conftest.py's SQLite file or fresh PostgreSQL)."""
    env = {**os.environ, "EISO_DATABASE_URL": url, "COLUMNS": "200"}
    env.pop("EISO_DEBUG", None)
    result = subprocess.run([sys.executable, "-m", "engine.cli.app", *args], check=False, capture_output=True,
                            text=True, env=env, cwd=tmp_path, timeout=300)
    assert "Traceback" not in result.stderr, result.stderr
    return result


def _cache() -> Path:
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "eiso-test-logs"


def _unavailable(reason: str) -> None:
    if os.environ.get("CI") == "true":
        pytest.fail(f"the registry's event log is needed in CI: {reason}")
    pytest.skip(f"the registry's event log cannot be fetched here: {reason}")


def _sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def running_example(into: Path) -> Path:
    """The running example, read out of the pinned sdist (fetched once into the cache) into ``into``."""
    cache = _cache()
    sdist = cache / SDIST
    if not sdist.is_file() or _sha256(sdist) != SDIST_SHA256:
        cache.mkdir(parents=True, exist_ok=True)
        fetched = subprocess.run([sys.executable, "-m", "pip", "download", "--no-binary", ":all:", "--no-deps",
                                  "--disable-pip-version-check", f"{PACKAGE}=={VERSION}", "-d", str(cache)],
                                 check=False, capture_output=True, text=True, timeout=600)
        if fetched.returncode != 0 or not sdist.is_file():
            _unavailable(f"pip download {PACKAGE}=={VERSION}: {fetched.stderr.strip()[-500:]}")
    assert _sha256(sdist) == SDIST_SHA256, f"{sdist} is not the pinned {SDIST}"
    with tarfile.open(sdist, "r:gz") as archive:
        member = archive.extractfile(MEMBER)
        assert member is not None, f"{SDIST} has no {MEMBER}"
        target = into / "running-example.xes"
        target.write_bytes(member.read())
    return target


def test_the_running_example_from_a_registry_package_is_suggested_then_imported(tmp_path: Path,
                                                                               database_url: str) -> None:
    log = running_example(tmp_path)
    (tmp_path / "request.bpmn").write_bytes(PROCEDURE)
    deployed = eiso(tmp_path, database_url, "procedures", "deploy", "request.bpmn")
    assert deployed.returncode == 0, deployed.stderr

    suggested = eiso(tmp_path, database_url, "history", "import", log.name, "--procedure", "9.000201",
                     "--agency", AGENCY, "--suggest")
    assert suggested.returncode == 0, suggested.stderr
    proposal = tomllib.loads((tmp_path / "running-example.activities.toml").read_text(encoding="utf-8"))
    assert proposal["procedure"] == "9.000201"
    assert set(proposal["activities"]) == {"register request", "examine casually", "examine thoroughly",
                                           "check ticket", "decide", "reinitiate request", "pay compensation",
                                           "reject request"}
    # the activities named as the steps are proposed for them
    assert (proposal["activities"]["check ticket"], proposal["activities"]["decide"]) == ("check_ticket", "decide")

    (tmp_path / "map.toml").write_text(MAP, encoding="utf-8")
    done = eiso(tmp_path, database_url, "history", "import", log.name, "--map", "map.toml", "--agency",
                AGENCY, "--format", "json", "--actor", "kiem-toan")
    assert done.returncode == 0, done.stderr
    summary = json.loads(done.stdout)
    assert (summary["rows"], summary["cases"], summary["cases_replayed"], summary["cases_refused"]) == (42, 6, 6, 0)
    assert summary["unmapped_activities"] == {"reinitiate request": 3} and summary["rows_unmapped"] == 3
    assert (summary["rows_ignored"], summary["rows_duplicate"], summary["rows_other_lifecycle"]) == (0, 0, 0)
    assert summary["events"] == 42 - 3 + 6 and summary["events_by_outcome"] == {"applied": 45}
    assert summary["sha256"] == hashlib.sha256(log.read_bytes()).hexdigest()

    # The six cases closed (paid or rejected) in December 2010 and January 2011: all six are judged.
    report = eiso(tmp_path, database_url, "conformance", "9.000201", "--from", "2010-12-01", "--to",
                  "2011-02-01", "--format", "json")
    assert report.returncode == 0, report.stderr
    conformance = json.loads(report.stdout)["conformance"]
    assert conformance["cases"] == 6
    assert sum(v["cases"] for v in conformance["variants"]) == 6
