"""Prometheus metrics for eiso: business counters fed by the service, open work read from the database.

``install(app)`` is the one call a process makes: it declares the metrics on a registry, observes
the service's outcomes and, when asked, adds the database collector (one exporter per deployment).
"""

from monitoring.metrics import Metrics, WorkerMetrics, install

__all__ = ["Metrics", "WorkerMetrics", "install"]
