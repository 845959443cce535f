"""Developer tools, not shipped in the wheel (setup.py packages engine, connectors and monitoring only).

``python -m tools.dashboards`` writes the Grafana dashboards' JSON into monitoring/grafana/dashboards/;
``python -m tools.render`` plots their panels (scripts/render-dashboards); ``tools.feed`` produces JSON Lines
to Kafka for the dashboards' live test (users run ``eiso events produce -``).
"""
