"""The long-running watcher logs one key=value line per pass that found something: cases, raised, failed,
duration; nothing from SpiffWorkflow's per-task logging at INFO."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

from tests.conftest import ROOT
from tests.integration.test_cli_hostile_text import _case, _deploy_and_ingest


def test_the_watch_daemon_logs_its_passes_as_key_value_lines(tmp_path: Path) -> None:
    assert _deploy_and_ingest(tmp_path, _case("w1", "LATE-1")).returncode == 0
    env = {**os.environ, "EISO_DATABASE_URL": f"sqlite:///{tmp_path / 'cli.db'}", "COLUMNS": "200"}
    env.pop("EISO_DEBUG", None)
    err = tmp_path / "watch.err"
    with err.open("w") as stderr:
        daemon = subprocess.Popen([sys.executable, "-m", "engine.cli.app", "watch", "--interval", "0.3"],
                                  stdout=subprocess.DEVNULL, stderr=stderr, env=env, cwd=ROOT)
        try:
            deadline = time.monotonic() + 60
            while time.monotonic() < deadline and "watch pass cases=" not in err.read_text():
                time.sleep(0.2)
            time.sleep(1.5)  # several more passes, with nothing left to do: not logged at INFO
        finally:
            daemon.send_signal(signal.SIGTERM)
            daemon.wait(timeout=30)
    log = err.read_text()
    passes = [line for line in log.splitlines() if "watch pass cases=" in line]
    assert len(passes) == 1, log
    assert " INFO eiso.watch: " in passes[0] and "raised=" in passes[0] and "duration_ms=" in passes[0], log
    assert "spiff" not in log and "Traceback" not in log, log
