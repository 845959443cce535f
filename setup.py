"""The package list, which pyproject.toml cannot express: the discovered packages plus two mapped ones.

bpmn/ and config/ stay at the top of the repository, where users read and edit them, and ship in
the wheel as the data packages engine.bundled.bpmn and engine.bundled.config (their directories are
mapped in pyproject.toml's [tool.setuptools.package-dir]), read through importlib.resources by
engine/bundled. Data files ([tool.setuptools.data-files]) would land outside any package, where
importlib.resources cannot find them; a copy of the two directories under engine/ would be two
files to keep equal.
"""

from setuptools import find_namespace_packages, setup

DISCOVERED = ["engine", "engine.*", "connectors", "connectors.*", "monitoring", "monitoring.*"]
BUNDLED = ["engine.bundled.bpmn", "engine.bundled.config"]

setup(packages=[*find_namespace_packages(include=DISCOVERED), *BUNDLED])
