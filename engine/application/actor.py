"""Who makes a change, as the audit log names them."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Actor:
    """A signed-in user and their role (the API), or the operator and role ``cli`` (the command line)."""

    name: str
    role: str
