"""The Grafana dashboards, written as code and kept as JSON in monitoring/grafana/dashboards/.

``python -m monitoring.dashboards`` rewrites the JSON files; a test checks they are up to date and
runs every query against a real Prometheus and PostgreSQL. The database gauges are taken with
``max without (instance, job)`` so that a second exporter of the same database changes nothing.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

OUT = Path(__file__).resolve().parent / "grafana" / "dashboards"
PROM = {"type": "prometheus", "uid": "eiso-prometheus"}
PG = {"type": "grafana-postgresql-datasource", "uid": "eiso-postgres"}
AGENCY = 'agency=~"$agency"'
PROCEDURE = 'procedure=~"$procedure"'
SQL_AGENCY = "agency ~ '^(${agency:regex})$'"
SQL_PROCEDURE = "procedure ~ '^(${procedure:regex})$'"


def db(metric: str, selector: str, by: str = "") -> str:
    """A database gauge summed (by ``by``), whichever exporters report it."""
    grouping = f" by ({by})" if by else ""
    return f"sum{grouping} (max without (instance, job) ({metric}{{{selector}}}))"


def prom(expr: str, legend: str = "") -> dict[str, Any]:
    return {"datasource": PROM, "expr": expr, "legendFormat": legend, "refId": "A"}


def sql(query: str, fmt: str = "table") -> dict[str, Any]:
    return {"datasource": PG, "rawSql": " ".join(query.split()), "format": fmt, "rawQuery": True,
            "editorMode": "code", "refId": "A"}


def panel(title: str, kind: str, target: dict[str, Any], w: int = 12, h: int = 8, unit: str | None = None,
          description: str = "", thresholds: list[tuple[float | None, str]] | None = None) -> dict[str, Any]:
    defaults: dict[str, Any] = {}
    if unit:
        defaults["unit"] = unit
    if thresholds:
        defaults["thresholds"] = {"mode": "absolute",
                                  "steps": [{"color": c, "value": v} for v, c in thresholds]}
    return {"title": title, "type": kind, "description": description, "datasource": target["datasource"],
            "targets": [target], "fieldConfig": {"defaults": defaults, "overrides": []},
            "gridPos": {"w": w, "h": h, "x": 0, "y": 0}}


def variable(name: str, label: str) -> dict[str, Any]:
    return {"name": name, "label": label, "type": "query", "datasource": PROM,
            "query": {"query": f"label_values(eiso_cases_open, {name})", "refId": "V"},
            "definition": f"label_values(eiso_cases_open, {name})", "refresh": 2, "includeAll": True,
            "multi": True, "allValue": ".*", "current": {"text": "All", "value": "$__all"}, "sort": 1}


def dashboard(uid: str, title: str, panels: list[dict[str, Any]], variables: list[dict[str, Any]]) -> dict[str, Any]:
    x = y = row_height = 0
    for number, p in enumerate(panels, start=1):  # left to right, a new row when the width is used up
        p["id"] = number
        if x + p["gridPos"]["w"] > 24:
            x, y, row_height = 0, y + row_height, 0
        p["gridPos"].update(x=x, y=y)
        x += p["gridPos"]["w"]
        row_height = max(row_height, p["gridPos"]["h"])
    return {"uid": uid, "title": title, "tags": ["eiso"], "timezone": "Asia/Ho_Chi_Minh", "schemaVersion": 39,
            "editable": True, "refresh": "1m", "time": {"from": "now-24h", "to": "now"},
            "templating": {"list": variables}, "panels": panels}


def leaders() -> dict[str, Any]:
    objective = 'max(eiso_quality_objective) or vector(0.95)'
    return dashboard("eiso-leaders", "eiso — leaders' overview", [
        panel("On-time rate this month by agency", "bargauge",
              prom(f'max by (agency) (eiso_on_time_ratio{{{AGENCY}}})', "{{agency}}"), w=12, unit="percentunit",
              description="Cases resolved early or on time over cases resolved this month; red below the "
                          "quality objective (EISO_QUALITY_OBJECTIVE, 0.95).",
              thresholds=[(None, "red"), (0.95, "green")]),
        panel("Quality objective", "stat", prom(objective, "objective"), w=4, unit="percentunit"),
        panel("Late cases now", "stat", prom(db("eiso_cases_overdue", AGENCY), "late"), w=4,
              thresholds=[(None, "green"), (1, "red")]),
        panel("Overdue steps now", "stat", prom(db("eiso_steps_overdue", AGENCY), "overdue"), w=4,
              thresholds=[(None, "green"), (1, "orange")]),
        panel("Overdue steps by agency", "timeseries", prom(db("eiso_steps_overdue", AGENCY, "agency"),
                                                            "{{agency}}"), w=12),
        panel("Open cases by procedure", "timeseries", prom(db("eiso_cases_open", AGENCY, "procedure"),
                                                            "{{procedure}}"), w=12),
        panel("Deadlines missed in the period", "bargauge",
              prom(f'sum by (agency, kind) (increase(eiso_deadlines_missed_total{{{AGENCY}}}[$__range]))',
                   "{{agency}} {{kind}}"), w=12),
        panel("On-time rate by month (trend)", "timeseries", sql(f"""
              SELECT month AS "time", agency AS metric,
                     sum(early + on_time)::float / sum(resolved) AS value
              FROM v_monthly_timeliness WHERE {SQL_AGENCY}
              GROUP BY 1, 2 ORDER BY 1""", fmt="time_series"), w=12, unit="percentunit"),
        panel("Late cases now (list)", "table", sql(f"""
              SELECT case_id, agency, procedure, status, received_at, due_at, overdue_for
              FROM v_late_cases WHERE {SQL_AGENCY} ORDER BY due_at LIMIT 500"""), w=24, h=10),
        panel("Cases resolved late", "table", sql(f"""
              SELECT case_id, agency, procedure, received_at, due_at, resolved_at, delay_working_hours
              FROM v_cases_resolved_late WHERE {SQL_AGENCY} ORDER BY resolved_at DESC LIMIT 500"""), w=24, h=10),
    ], [variable("agency", "Agency")])


def procedure_view() -> dict[str, Any]:
    where = f"{PROCEDURE},{AGENCY}"
    rate = f'increase(eiso_step_working_hours_bucket{{{where}}}[$__range])'
    return dashboard("eiso-procedure", "eiso — procedure view", [
        panel("Step working time, 90th percentile (working hours)", "bargauge",
              prom(f"histogram_quantile(0.9, sum by (step, le) ({rate}))", "{{step}}"), w=12, unit="h"),
        panel("Step allowance (working hours)", "bargauge",
              prom(f'max by (step) (eiso_step_allowance_working_hours{{{PROCEDURE}}})', "{{step}}"), w=12, unit="h"),
        panel("Mean working time per step (working hours)", "bargauge", prom(
            f'sum by (step) (increase(eiso_step_working_hours_sum{{{where}}}[$__range])) / '
            f'sum by (step) (increase(eiso_step_working_hours_count{{{where}}}[$__range]))', "{{step}}"),
            w=12, unit="h"),
        panel("Where cases wait: open steps", "bargauge", prom(db("eiso_steps_open", where, "step"), "{{step}}"),
              w=12),
        panel("Overdue steps by step", "timeseries", prom(db("eiso_steps_overdue", where, "step"), "{{step}}"),
              w=12),
        panel("Case working time, median (working hours)", "timeseries", prom(
            f"histogram_quantile(0.5, sum by (procedure, le) "
            f"(increase(eiso_case_working_hours_bucket{{{where}}}[$__range])))", "{{procedure}}"), w=12, unit="h"),
        panel("Steps completed late (all time)", "table", sql(f"""
              SELECT agency, procedure, step, completed, late, mean_delay_working_hours
              FROM v_step_timeliness WHERE {SQL_PROCEDURE} AND {SQL_AGENCY}
              ORDER BY late DESC, completed DESC"""), w=24, h=10),
        panel("Overdue steps (list)", "table", sql(f"""
              SELECT case_id, agency, procedure, step, unit, activated_at, due_at, overdue_for
              FROM v_overdue_steps WHERE {SQL_PROCEDURE} AND {SQL_AGENCY} ORDER BY due_at LIMIT 500"""),
              w=24, h=10),
    ], [variable("procedure", "Procedure"), variable("agency", "Agency")])


def engine_health() -> dict[str, Any]:
    return dashboard("eiso-engine", "eiso — engine health", [
        panel("Events handled per second by outcome", "timeseries",
              prom("sum by (outcome) (rate(eiso_events_consumed_total[$__rate_interval]))", "{{outcome}}"),
              unit="ops"),
        panel("Consumer lag per partition", "timeseries",
              prom("sum by (topic, partition) (eiso_kafka_consumer_lag)", "{{topic}}:{{partition}}")),
        panel("Dead letters in the period", "stat",
              prom("sum by (topic) (increase(eiso_dead_letters_total[$__range]))", "{{topic}}"), w=8,
              thresholds=[(None, "green"), (1, "red")]),
        panel("Refused events per second", "timeseries",
              prom('sum(rate(eiso_events_consumed_total{outcome="refused"}[$__rate_interval]))', "refused"), w=8),
        panel("Database retries per second", "timeseries",
              prom("sum(rate(eiso_worker_database_retries_total[$__rate_interval]))", "retries"), w=8),
        panel("Targets up", "stat", prom('up{job=~"eiso-.*"}', "{{job}} {{instance}}"), w=8,
              thresholds=[(None, "red"), (1, "green")]),
        panel("Database reachable from the exporter", "stat", prom("max(eiso_database_up)", "database"), w=8,
              thresholds=[(None, "red"), (1, "green")]),
        panel("Batches committed per second", "timeseries",
              prom("sum(rate(eiso_worker_batches_total[$__rate_interval]))", "batches"), w=8),
        panel("Nonconformities raised per second by type", "timeseries",
              prom("sum by (type) (rate(eiso_nonconformities_raised_total[$__rate_interval]))", "{{type}}"),
              w=24),
    ], [])


DASHBOARDS = {"leaders.json": leaders, "procedure.json": procedure_view, "engine.json": engine_health}


def render() -> dict[str, str]:
    return {name: json.dumps(build(), indent=2, ensure_ascii=False) + "\n" for name, build in DASHBOARDS.items()}


def main() -> None:
    OUT.mkdir(parents=True, exist_ok=True)
    for name, text in render().items():
        (OUT / name).write_text(text, encoding="utf-8")
        print(OUT / name)


if __name__ == "__main__":
    main()
