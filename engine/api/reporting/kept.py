"""Reports that were slow to count, kept a while: the same answer for the same question, without counting again.

A report over every agency reads millions of rows (the bottleneck report: each completed step of the
period); counted in SQL it still takes seconds. An answer that took at least ``SLOW`` seconds to count
is kept per question: the report, the database, the user's agency scope, the filters and the period.
Younger than ``TTL`` seconds it is given as it is; older, up to ``STALE``, it is still given at once while
one count of that question runs in the background (at most ``BACKGROUND`` at a time, in a session of
its own) and replaces it. Older still, or never kept, the request counts. A quicker answer is never kept:
small scopes, and tests, always see the live figures. The numbers are the report's own, counted by its
one rule; only when they were counted differs (at most ``STALE`` seconds before).

The console's procedures pages keep their counts the same way (``Recent``, engine/console/pages/procedures.py).
"""

from __future__ import annotations

import logging
import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Hashable
from dataclasses import dataclass
from typing import Any, TypeVar

from sqlmodel import Session

__all__ = ["KEPT", "Kept"]

_T = TypeVar("_T")
log = logging.getLogger(__name__)


@dataclass(frozen=True)
class _Entry:
    value: Any
    counted: float  # time.monotonic() when counted


class Kept:
    SLOW = 1.0
    TTL = 30.0
    STALE = 300.0
    SIZE = 256
    BACKGROUND = 1

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._entries: OrderedDict[Hashable, _Entry] = OrderedDict()
        self._counting: set[Hashable] = set()
        self._background = threading.BoundedSemaphore(self.BACKGROUND)

    def get(self, session: Session, key: Hashable, count: Callable[[Session], _T]) -> _T:
        """The answer to ``key``: a kept one, else ``count(session)`` (kept when it was slow)."""
        bind = session.get_bind()
        key = (str(getattr(bind, "url", id(bind))), key)
        with self._lock:
            entry = self._entries.get(key)
            if entry is not None:
                age = time.monotonic() - entry.counted
                if age < self.STALE:
                    self._entries.move_to_end(key)
                    if age >= self.TTL and key not in self._counting and self._background.acquire(blocking=False):
                        self._counting.add(key)
                        threading.Thread(target=self._recount, args=(bind, key, count), daemon=True,
                                         name="report-recount").start()
                    value: _T = entry.value
                    return value
                del self._entries[key]
        return self._count(session, key, count)

    def _count(self, session: Session, key: Hashable, count: Callable[[Session], _T]) -> _T:
        began = time.monotonic()
        value = count(session)
        with self._lock:
            if time.monotonic() - began >= self.SLOW:
                self._entries[key] = _Entry(value, time.monotonic())
                self._entries.move_to_end(key)
                while len(self._entries) > self.SIZE:
                    self._entries.popitem(last=False)
            else:  # quick again: live figures from now on
                self._entries.pop(key, None)
        return value

    def _recount(self, bind: Any, key: Hashable, count: Callable[[Session], Any]) -> None:
        try:
            with Session(bind) as session:
                self._count(session, key, count)
        except Exception:  # the kept answer stays; the next request past TTL tries again
            log.exception("counting a kept report again failed")
        finally:
            with self._lock:
                self._counting.discard(key)
            self._background.release()


KEPT = Kept()
