"""How long the watcher waits between passes: until just after the next due, at most the interval."""

from __future__ import annotations

from datetime import timedelta

import pytest

from engine.service import WAKE_AFTER_DUE, pause_until
from tests.unit.engine_harness import vn

NOW = vn("2026-03-02 08:00")


def test_nothing_due_waits_the_interval() -> None:
    assert pause_until(NOW, None, 30.0) == 30.0


def test_a_due_in_two_seconds_wakes_just_after_it() -> None:
    pause = pause_until(NOW, NOW + timedelta(seconds=2), 30.0)
    assert pause == pytest.approx(2 + WAKE_AFTER_DUE.total_seconds())
    assert pause > 2  # a pass at the due instant itself would not raise it (due strictly before the pass)


def test_a_far_due_waits_only_the_interval() -> None:
    assert pause_until(NOW, NOW + timedelta(hours=1), 30.0) == 30.0


def test_a_passed_due_means_no_wait() -> None:
    assert pause_until(NOW, NOW - timedelta(seconds=5), 30.0) == 0.0
