"""The HTTP API (FastAPI): procedures, cases, nonconformities and corrective action, reports, events."""

from engine.api.app import create_app

__all__ = ["create_app"]
