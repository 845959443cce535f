"""The default configuration, shipped in the wheel as the package data engine.bundled.config (see setup.py)."""
