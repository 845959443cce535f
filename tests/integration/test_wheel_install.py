"""The wheel as a user installs it: built from the sources, installed (not editable) with its dependencies in a
fresh virtual environment, then `eiso --version`, `eiso demo`, `eiso procedures deploy --bundled`, `eiso serve`
(/health, /docs offline) and `eiso worker` (on the test Kafka, when there is one) run from a directory that is
not the checkout, with none of the path variables set. About a minute: pip resolves the dependencies through its
cache."""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import sys
import time
import tomllib
import urllib.request
import zipfile
from pathlib import Path

import pytest

from tests.conftest import ROOT

SOURCES = ["pyproject.toml", "setup.py", "README.md", "engine", "connectors", "monitoring", "bpmn", "config"]
PATH_VARIABLES = ("EISO_CALENDAR_OVERRIDES", "EISO_PROCEDURES_DIR", "EISO_KAFKA_PORTAL_STEPS", "EISO_DATABASE_URL",
                  "EISO_KAFKA_BOOTSTRAP", "PYTHONPATH", "EISO_DEBUG")


def _run(args: list[str | Path], cwd: Path, env: dict[str, str], timeout: float = 300
         ) -> subprocess.CompletedProcess[str]:
    result = subprocess.run([str(a) for a in args], cwd=cwd, env=env, capture_output=True, text=True,
                            timeout=timeout, check=False)
    assert "Traceback" not in result.stderr, result.stderr
    return result


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture(scope="module")
def installed(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """(the venv's bin directory, the wheel)."""
    base = tmp_path_factory.mktemp("wheel")
    source = base / "src"  # a copy: building in the checkout would leave build/ there
    for name in SOURCES:
        if (ROOT / name).is_dir():
            shutil.copytree(ROOT / name, source / name, ignore=shutil.ignore_patterns("__pycache__", "*.pyc"))
        else:
            source.mkdir(exist_ok=True)
            shutil.copy2(ROOT / name, source / name)
    env = {k: v for k, v in os.environ.items() if k not in PATH_VARIABLES}
    built = _run([sys.executable, "-m", "pip", "wheel", "--no-deps", "-q", "-w", base / "dist", source], base, env)
    assert built.returncode == 0, built.stderr
    wheel = next((base / "dist").glob("eiso-*.whl"))
    venv = base / "venv"
    assert _run([sys.executable, "-m", "venv", venv], base, env).returncode == 0
    pip = _run([venv / "bin" / "python", "-m", "pip", "install", "-q", "--disable-pip-version-check", wheel], base,
               env, timeout=600)
    assert pip.returncode == 0, pip.stderr
    return venv / "bin", wheel


@pytest.fixture
def elsewhere(tmp_path: Path) -> tuple[Path, dict[str, str]]:
    env = {k: v for k, v in os.environ.items() if k not in PATH_VARIABLES}
    env.update(COLUMNS="200", EISO_DATABASE_URL=f"sqlite:///{tmp_path / 'eiso.db'}")
    return tmp_path, env


def test_the_wheel_carries_the_bundled_files(installed: tuple[Path, Path]) -> None:
    names = set(zipfile.ZipFile(installed[1]).namelist())
    assert {n for n in names if n.startswith("engine/bundled/bpmn/") and n.endswith(".bpmn")} == {
        f"engine/bundled/bpmn/{p.name}" for p in (ROOT / "bpmn").glob("*.bpmn")}
    assert {"engine/console/templates/base.html", "engine/console/static/console.css",
            "engine/console/static/vendor/bpmn-js/bpmn-modeler.production.min.js"} <= names
    assert {"engine/bundled/bpmn/eiso-iso-step.element-template.json", "engine/bundled/config/calendar-overrides.toml",
            "engine/bundled/config/portal-steps.toml", "engine/bundled/config/catalogue-sample.csv",
            "connectors/schemas/case-event.schema.json"} <= names


def test_demo_deploy_and_version_run_from_another_directory(installed: tuple[Path, Path],
                                                           elsewhere: tuple[Path, dict[str, str]]) -> None:
    bin_dir, _ = installed
    cwd, env = elsewhere
    where = _run([bin_dir / "python", "-c", "import engine; print(engine.__file__)"], cwd, env)
    assert where.stdout.startswith(str(bin_dir.parent)), where.stdout  # the installed copy, not the checkout
    version = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["project"]["version"]
    assert _run([bin_dir / "eiso", "--version"], cwd, env).stdout.strip() == f"eiso {version}"
    demo = _run([bin_dir / "eiso", "demo", "--cases", "40", "--db", cwd / "demo.db"], cwd, env)
    assert demo.returncode == 0, demo.stderr
    assert "4 procedures deployed" in demo.stdout
    deploy = _run([bin_dir / "eiso", "procedures", "deploy", "--bundled", "--format", "json"], cwd, env)
    assert deploy.returncode == 0, deploy.stderr
    assert {row["procedure"] for row in json.loads(deploy.stdout)} == {
        p.name.split("-")[0] for p in (ROOT / "bpmn").glob("*.bpmn")}
    listed = _run([bin_dir / "eiso", "nc", "list"], cwd, env)
    assert listed.returncode == 0, listed.stderr


def test_serve_answers_health_and_docs_from_another_directory(installed: tuple[Path, Path],
                                                             elsewhere: tuple[Path, dict[str, str]]) -> None:
    bin_dir, _ = installed
    cwd, env = elsewhere
    port = _free_port()
    server = subprocess.Popen([bin_dir / "eiso", "serve", "--port", str(port)], cwd=cwd, env=env,
                              stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/health", timeout=2) as answer:
                    assert answer.status == 200
                    break
            except OSError:
                assert server.poll() is None, server.stderr.read().decode() if server.stderr else ""
                assert time.monotonic() < deadline, "eiso serve did not answer /health within 60 s"
                time.sleep(0.3)
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/docs-assets/swagger-ui-bundle.js", timeout=5) as js:
            assert js.status == 200
        # the console: its sign-in page (a template), its styles and the vendored bpmn-js, all from the wheel
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/", timeout=5) as signin:
            assert signin.url.endswith("/console/signin?next=/console/") and 'name="token"' in signin.read().decode()
        for asset in ("console.css", "vendor/bpmn-js/bpmn-modeler.production.min.js",
                      "vendor/bpmn-js/bpmn-navigated-viewer.production.min.js", "vendor/bpmn-js/LICENSE"):
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/console/static/{asset}", timeout=5) as found:
                assert found.status == 200 and len(found.read()) > 0, asset
    finally:
        server.terminate()
        server.wait(timeout=30)


def test_worker_runs_from_another_directory(installed: tuple[Path, Path],
                                            elsewhere: tuple[Path, dict[str, str]]) -> None:
    bootstrap = os.environ.get("EISO_TEST_KAFKA_BOOTSTRAP")
    if not bootstrap:
        if os.environ.get("CI"):
            raise RuntimeError("CI must provide EISO_TEST_KAFKA_BOOTSTRAP (scripts/test starts Kafka)")
        pytest.skip("no Kafka: run through scripts/test (EISO_TEST_KAFKA_BOOTSTRAP)")
    bin_dir, _ = installed
    cwd, env = elsewhere
    prefix = f"wheel{os.getpid()}{int(time.time())}"
    env.update(EISO_KAFKA_BOOTSTRAP=bootstrap, EISO_KAFKA_TOPIC=f"{prefix}.events", EISO_KAFKA_GROUP=prefix,
               EISO_KAFKA_DLQ_TOPIC=f"{prefix}.dlq", EISO_KAFKA_OUTBOUND_TOPIC=f"{prefix}.out",
               EISO_KAFKA_SESSION_TIMEOUT_MS="6000")
    assert _run([bin_dir / "eiso", "procedures", "deploy", "--bundled"], cwd, env).returncode == 0
    simulated = _run([bin_dir / "eiso", "simulate", "--cases", "20", "--month", "2026-10"], cwd, env)
    sent = subprocess.run([bin_dir / "eiso", "events", "produce", "-"], input=simulated.stdout, cwd=cwd, env=env,
                          capture_output=True, text=True, timeout=120, check=False)
    assert sent.returncode == 0, sent.stderr
    worker = _run([bin_dir / "eiso", "worker", "--exit-when-idle", "2"], cwd, env, timeout=180)
    assert worker.returncode == 0, worker.stderr
    assert "worker stopped: 0 message(s)" not in worker.stdout, worker.stdout
