"""The procedure a replayed case follows: the version in force at its receipt, else the one in force now.

A past dossier was usually received before eiso knew the procedure (its first deployment is later than
the log): it is then held to the documented procedure as it stands, which is what an audit compares
practice against.
"""

from __future__ import annotations

from datetime import datetime

from engine.application.ports import Clock, Procedures
from engine.core.agency import EVERY_AGENCY
from engine.core.procedure import LoadedProcedure


class ReplayProcedures:
    def __init__(self, catalog: Procedures, clock: Clock):
        self.catalog = catalog
        self.clock = clock

    def in_force(self, code: str, at: datetime, agency: str | None = None) -> tuple[int, LoadedProcedure] | None:
        return self.catalog.in_force(code, at, agency) or self.catalog.in_force(code, self.clock.now(), agency)

    def get(self, code: str, version: int, scope: str = EVERY_AGENCY) -> LoadedProcedure:
        return self.catalog.get(code, version, scope)
