"""The bundled procedures, shipped in the wheel as the package data engine.bundled.bpmn (see setup.py)."""
