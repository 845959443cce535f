"""``eiso procedures review`` and ``GET /reports/procedure-review``: one list of findings, one row shape.

The rule is ``engine.application.catalogue.review``; this module gives its findings the row both doors
print (the command's JSON, the API's JSON, CSV and XLSX), and keeps to an agency what concerns it.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from typing import Any

from engine.application.catalogue import DeployedVersion, Finding, review
from engine.core.agency import concerns
from engine.store.catalogue import CatalogueEntry

__all__ = ["COLUMNS", "review_rows"]

COLUMNS = ["kind", "code", "changed_on", "version", "scope", "deployed_limit", "catalogue_limit", "detail"]


def row(finding: Finding) -> dict[str, Any]:
    return {"kind": finding.kind, "code": finding.code, "changed_on": finding.changed_on.isoformat(),
            "version": finding.version, "scope": finding.scope, "deployed_limit": finding.deployed_limit,
            "catalogue_limit": finding.catalogue_limit, "detail": finding.detail}


def review_rows(versions: Iterable[DeployedVersion], entries: Iterable[CatalogueEntry], at: datetime,
                agencies: Iterable[str] | None = None) -> list[dict[str, Any]]:
    """The review's findings as rows; with ``agencies`` (a user bound to them), the deployed versions that
    concern those agencies (``engine.core.agency.concerns``: every-agency versions, theirs, and those of
    agencies they cover) and the catalogue's procedures, which are national."""
    codes = None if agencies is None else tuple(agencies)
    return [row(f) for f in review(versions, entries, at)
            if codes is None or f.scope is None or concerns(f.scope, codes)]
