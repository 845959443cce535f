"""What the wheel ships besides code: the bundled procedures and the default configuration files.

The repository keeps them where users edit them, in the top-level ``bpmn/`` and ``config/``;
``setup.py`` maps those two directories onto the packages ``engine.bundled.bpmn`` and
``engine.bundled.config``, so a wheel, an editable install and a source checkout all read them
here, through ``importlib.resources``, whatever the working directory.
"""

from __future__ import annotations

from importlib.resources import files
from pathlib import Path

CALENDAR_OVERRIDES = "calendar-overrides.toml"
PORTAL_STEPS = "portal-steps.toml"


def _directory(package: str) -> Path:
    # pip unpacks wheels into site-packages, so the traversable is a real directory; the settings and
    # the catalog take paths, and a user overriding one gives a path too.
    return Path(str(files(package)))


def procedures_dir() -> Path:
    """The directory of the bundled procedures (``*.bpmn``) and the ISO step element template."""
    return _directory("engine.bundled.bpmn")


def config_file(name: str) -> Path:
    """A default configuration file: ``calendar-overrides.toml`` or ``portal-steps.toml``."""
    return _directory("engine.bundled.config") / name
