"""The vendored bpmn-js (engine/console/static/vendor/bpmn-js/, written by scripts/vendor-bpmn-js): every file is
the one the pinned release published (its sha256 in VERSION), the licence ships beside it, the font files the
CSS loads are there, and the wheel's package data covers them all."""

from __future__ import annotations

import hashlib
import re
import tomllib
from glob import glob
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
VENDOR = ROOT / "engine" / "console" / "static" / "vendor"
BPMN_JS = VENDOR / "bpmn-js"
SCRIPT = ROOT / "scripts" / "vendor-bpmn-js"
SHA_LINE = re.compile(r"^([0-9a-f]{64})  (\S.*)$")
THE_CONSOLE_USES = {"bpmn-navigated-viewer.production.min.js", "bpmn-modeler.production.min.js",
                    "assets/diagram-js.css", "assets/bpmn-js.css", "assets/bpmn-font/css/bpmn.css", "LICENSE"}


def listed() -> dict[str, str]:
    """Path (relative to bpmn-js/) -> sha256, as VERSION lists them."""
    out: dict[str, str] = {}
    for line in (BPMN_JS / "VERSION").read_text(encoding="utf-8").splitlines():
        found = SHA_LINE.match(line)
        if found:
            out[found.group(2)] = found.group(1)
    return out


def on_disk() -> set[str]:
    return {p.relative_to(BPMN_JS).as_posix() for p in BPMN_JS.rglob("*") if p.is_file()} - {"VERSION"}


def test_version_names_the_version_the_script_pins() -> None:
    pinned = re.search(r"^VERSION=(\S+)$", SCRIPT.read_text(encoding="utf-8"), re.MULTILINE)
    assert pinned is not None
    assert (BPMN_JS / "VERSION").read_text(encoding="utf-8").splitlines()[0] == pinned.group(1)


def test_every_file_has_the_sha256_version_lists() -> None:
    sums = listed()
    assert set(sums) >= THE_CONSOLE_USES
    assert set(sums) == on_disk(), "a vendored file without its sha256 in VERSION, or one listed but missing"
    for name, digest in sums.items():
        assert hashlib.sha256((BPMN_JS / name).read_bytes()).hexdigest() == digest, name


def test_the_licence_ships_with_its_watermark_clause() -> None:
    licence = (BPMN_JS / "LICENSE").read_text(encoding="utf-8")
    assert "bpmn.io" in licence and "watermark must stay fully visible" in licence


def test_the_fonts_the_css_loads_are_vendored() -> None:
    css = BPMN_JS / "assets" / "bpmn-font" / "css" / "bpmn.css"
    urls = {re.split(r"[?#]", url)[0] for url in re.findall(r"url\(['\"]?([^'\")]+)", css.read_text(encoding="utf-8"))}
    fonts = {(css.parent / url).resolve().relative_to(BPMN_JS).as_posix()
             for url in urls if not url.startswith("data:")}
    assert {f"assets/bpmn-font/font/bpmn.{ext}" for ext in ("eot", "woff2", "woff", "ttf", "svg")} <= fonts
    assert fonts <= on_disk()


@pytest.mark.parametrize("name", ["README.md", *sorted(f"bpmn-js/{f}" for f in on_disk() | {"VERSION"})])
def test_the_wheel_carries_the_file(name: str) -> None:
    """The globs of pyproject.toml's [tool.setuptools.package-data] for ``engine``, as setuptools reads them."""
    patterns = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["tool"]["setuptools"][
        "package-data"]["engine"]
    engine = ROOT / "engine"
    covered = {Path(p).resolve() for pattern in patterns for p in glob(str(engine / pattern), recursive=True)}
    assert (VENDOR / name).resolve() in covered
