"""bench/history_import.py runs to its figures on a tiny log (no threshold: timing belongs in BENCHMARKS.md)."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from tests.conftest import ROOT


@pytest.mark.parametrize("log_format", ["csv", "xes.gz"])
def test_history_import_bench_prints_its_figures(log_format: str) -> None:
    result = subprocess.run([sys.executable, str(ROOT / "bench" / "history_import.py"), "--cases", "30",
                             "--format", log_format], cwd=ROOT, env={**os.environ}, capture_output=True, text=True,
                            timeout=600, check=False)
    assert result.returncode == 0, result.stderr[-3000:]
    assert "import: 30 cases" in result.stdout and "events/s" in result.stdout and "peak" in result.stdout
    assert "refused cases: 0" in result.stdout
