"""The console benchmark (bench/console_pages.py) runs to its table on a tiny data set: every page answered,
signed in through the form, for each kind of user (no threshold: timing belongs in BENCHMARKS.md)."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from bench import console_pages
from tests.conftest import ROOT, postgres_url


def test_console_benchmark_prints_a_row_for_every_page() -> None:
    database = postgres_url()
    if database is None:
        pytest.skip("no PostgreSQL: run through scripts/test (EISO_TEST_POSTGRES_URL)")
    result = subprocess.run([sys.executable, str(ROOT / "bench" / "console_pages.py"), "--cases", "2000",
                             "--clients", "3", "--seconds", "3", "--warmup", "0.5"], cwd=ROOT,
                            env={**os.environ, "EISO_DATABASE_URL": database}, capture_output=True, text=True,
                            timeout=900, check=False)
    assert result.returncode == 0, result.stderr[-3000:]
    out = result.stdout
    assert "machine:" in out and " 0 error(s)" in out, out[-3000:]
    table = [line for line in out.splitlines() if line.startswith("console ")]
    for page in console_pages.PAGES:
        rows = [line for line in table if line.startswith(f"console {page}, 2,000 cases, 3 clients")]
        assert len(rows) == 1, (page, out[-3000:])
        assert "p99 " in rows[0] and "skipped" not in rows[0], rows[0]
