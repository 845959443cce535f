"""The settings' default files come from the package (importlib.resources), so an installed eiso runs from any
directory; each stays overridable, and a missing or broken one names itself and the variable that overrides it."""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from datetime import date
from importlib.metadata import version
from importlib.resources import files
from pathlib import Path

import pytest

from connectors.decoding import Decoder, event_schema
from connectors.portal import PortalConfigError
from engine.bootstrap import make_calendar
from engine.bundled import CALENDAR_OVERRIDES, PORTAL_STEPS, config_file, procedures_dir
from engine.core.calendar_overrides import CalendarConfigError
from engine.settings import CalendarSettings, EngineSettings


@pytest.fixture
def elsewhere(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """An unrelated working directory, and none of the path variables set."""
    for name in ("EISO_CALENDAR_OVERRIDES", "EISO_PROCEDURES_DIR", "EISO_KAFKA_PORTAL_STEPS"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.chdir(tmp_path)
    yield tmp_path


def test_defaults_are_the_packaged_files_whatever_the_working_directory(elsewhere: Path) -> None:
    overrides = CalendarSettings().overrides
    assert overrides is not None and overrides == config_file(CALENDAR_OVERRIDES) and overrides.is_file()
    assert overrides.parent == Path(str(files("engine.bundled.config")))
    bundled = EngineSettings().procedures_dir
    assert bundled == procedures_dir() == Path(str(files("engine.bundled.bpmn")))
    assert len(list(bundled.glob("*.bpmn"))) == 4
    assert (bundled / "eiso-iso-step.element-template.json").is_file()
    assert config_file(PORTAL_STEPS).is_file()
    assert event_schema()["$schema"].startswith("https://json-schema.org/")
    make_calendar(CalendarSettings())  # reads the packaged overrides without a path variable


def test_every_path_stays_overridable(elsewhere: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    own = elsewhere / "mine.toml"
    own.write_text('[[holiday]]\ndate = 2026-12-03\nreason = "province decision"\n', encoding="utf-8")
    monkeypatch.setenv("EISO_CALENDAR_OVERRIDES", str(own))
    monkeypatch.setenv("EISO_PROCEDURES_DIR", str(elsewhere))
    assert CalendarSettings().overrides == own
    assert EngineSettings().procedures_dir == elsewhere
    assert not make_calendar(CalendarSettings()).is_working_day(date(2026, 12, 3))
    monkeypatch.setenv("EISO_CALENDAR_OVERRIDES", "")
    assert CalendarSettings().overrides is None  # empty: no overrides file, not the working directory
    assert make_calendar(CalendarSettings()).is_working_day(date(2026, 12, 3))


def test_a_missing_or_unreadable_overrides_file_names_itself_and_its_variable(elsewhere: Path) -> None:
    missing = elsewhere / "nowhere.toml"
    with pytest.raises(CalendarConfigError, match=r"nowhere\.toml.*not found.*EISO_CALENDAR_OVERRIDES"):
        make_calendar(CalendarSettings(overrides=missing))
    broken = elsewhere / "broken.toml"
    broken.write_text("[[holiday]\n", encoding="utf-8")
    with pytest.raises(CalendarConfigError, match=r"broken\.toml.*EISO_CALENDAR_OVERRIDES"):
        make_calendar(CalendarSettings(overrides=broken))
    if os.geteuid() != 0:  # root reads any file
        broken.write_text("", encoding="utf-8")
        broken.chmod(0)
        with pytest.raises(CalendarConfigError, match=r"broken\.toml.*cannot read.*EISO_CALENDAR_OVERRIDES"):
            make_calendar(CalendarSettings(overrides=broken))


def test_a_missing_portal_table_names_itself_and_its_variable(elsewhere: Path,
                                                             monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("EISO_KAFKA_PORTAL_STEPS", str(elsewhere / "steps.toml"))
    with pytest.raises(PortalConfigError, match=r"steps\.toml.*EISO_KAFKA_PORTAL_STEPS"):
        Decoder().check_portal_mapping()
    monkeypatch.delenv("EISO_KAFKA_PORTAL_STEPS")
    Decoder().check_portal_mapping()  # the packaged table, from an unrelated directory


def test_the_holidays_package_knows_this_years_announcements() -> None:
    """Vietnam Culture Day (24 November, from 2026) and 2026's swap (Monday 31 August off, made up on
    Saturday 22 August) come from `holidays`; pyproject.toml's floor is the first release that knows them."""
    calendar = make_calendar(CalendarSettings(overrides=None))
    assert not calendar.is_working_day(date(2026, 11, 24))
    assert calendar.is_working_day(date(2026, 8, 22))
    assert not calendar.is_working_day(date(2026, 8, 31))
    pyproject = (Path(__file__).resolve().parents[2] / "pyproject.toml").read_text(encoding="utf-8")
    assert '"holidays>=0.109"' in pyproject
    installed = tuple(int(part) for part in version("holidays").split(".")[:2])
    assert installed >= (0, 109)


def test_the_event_schema_is_package_data() -> None:
    text = (files("connectors") / "schemas" / "case-event.schema.json").read_text(encoding="utf-8")
    assert json.loads(text) == event_schema()
