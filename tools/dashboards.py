"""The Grafana dashboards, written as code and kept as JSON in monitoring/grafana/dashboards/.

``python -m tools.dashboards`` rewrites the JSON files; a test checks they are up to date and
runs every query against a real Prometheus and PostgreSQL. The database gauges are taken with
``max without (instance, job)`` so that a second exporter of the same database changes nothing.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

# The JSON is provisioned to Grafana from the monitoring folder; only its generator lives here.
OUT = Path(__file__).resolve().parent.parent / "monitoring" / "grafana" / "dashboards"
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


def panel(title: str, kind: str, target: dict[str, Any] | list[dict[str, Any]], w: int = 12, h: int = 8,
          unit: str | None = None, description: str = "", thresholds: list[tuple[float | None, str]] | None = None,
          decimals: int | None = None, time_from: str | None = None) -> dict[str, Any]:
    targets = [dict(t) for t in (target if isinstance(target, list) else [target])]
    for number, t in enumerate(targets):
        t["refId"] = chr(ord("A") + number)
    defaults: dict[str, Any] = {}
    if unit:
        defaults["unit"] = unit
    if decimals is not None:
        defaults["decimals"] = decimals
    if thresholds:
        defaults["thresholds"] = {"mode": "absolute",
                                  "steps": [{"color": c, "value": v} for v, c in thresholds]}
    built = {"title": title, "type": kind, "description": description, "datasource": targets[0]["datasource"],
             "targets": targets, "fieldConfig": {"defaults": defaults, "overrides": []},
             "gridPos": {"w": w, "h": h, "x": 0, "y": 0}}
    if time_from:  # the panel's own range (Grafana's "relative time"), whatever the dashboard's
        built["timeFrom"] = time_from
    return built


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
    objective = "max(eiso_quality_objective) or vector(0.95)"
    in_time, judged = db("eiso_cases_in_time_month", AGENCY), db("eiso_cases_judged_month", AGENCY)
    return dashboard("eiso-leaders", "eiso — leaders' overview", [
        panel("On-time rate this month by agency", "bargauge",
              prom(f"max by (agency) (eiso_on_time_ratio{{{AGENCY}}})", "{{agency}}"), w=12, unit="percentunit",
              description="(Early + on time) / (resolved this month + open past their due), as `eiso report` "
                          "counts it; red below the quality objective (EISO_QUALITY_OBJECTIVE, 0.95).",
              thresholds=[(None, "red"), (0.95, "green")], decimals=1),
        panel("On-time rate, agencies shown", "stat", prom(f"{in_time} / {judged}", "on time"),
              w=4, unit="percentunit", thresholds=[(None, "red"), (0.95, "green")], decimals=1,
              description="Summed counts, not an average of rates."),
        panel("Quality objective", "stat", prom(objective, "objective"), w=4, unit="percentunit"),
        panel("Late cases now", "stat", prom(db("eiso_cases_overdue", AGENCY), "late"), w=4,
              thresholds=[(None, "green"), (1, "red")],
              description="Open cases past their due instant, as `eiso report` counts open overdue: a case "
                          "awaiting a supplement has its clock stopped and no due, so it is not late now."),
        panel("On-time rate this month against the objective", "timeseries", [
            prom(f"max by (agency) (eiso_on_time_ratio{{{AGENCY}}})", "{{agency}}"),
            prom(objective, "objective")], w=12, unit="percentunit"),
        panel("Overdue steps now", "stat", prom(db("eiso_steps_overdue", AGENCY), "overdue"), w=4,
              thresholds=[(None, "green"), (1, "orange")]),
        panel("Cases judged this month", "stat", prom(judged, "judged"), w=4,
              description="Resolved this month plus open past their due: the on-time rate's denominator."),
        panel("Deadlines missed in the period", "stat",
              prom(f"round(sum(max without (instance, job) "
                   f"(increase(eiso_deadlines_missed_total{{{AGENCY}}}[$__range]))))", "missed"), w=4,
              thresholds=[(None, "green"), (1, "orange")],
              description="Steps and cases that went past their due in the dashboard's time range."),
        panel("Overdue steps by agency", "timeseries", prom(db("eiso_steps_overdue", AGENCY, "agency"),
                                                            "{{agency}}"), w=12),
        panel("Open cases by procedure", "timeseries", prom(db("eiso_cases_open", AGENCY, "procedure"),
                                                            "{{procedure}}"), w=12),
        panel("On-time rate by month (trend)", "timeseries", sql(f"""
              SELECT month AS "time", agency AS metric,
                     sum(early + on_time)::float / sum(judged) AS value
              FROM v_monthly_timeliness WHERE {SQL_AGENCY}
              GROUP BY 1, 2 ORDER BY 1""", fmt="time_series"), w=12, unit="percentunit", time_from="12M",
              description="Each calendar month (the calendar's zone) as `eiso report` counts it: (early + on "
                          "time) / (resolved in the month + open past their due at the month's end, or now for "
                          "this month). The last 12 months, whatever the dashboard's range."),
        panel("Open nonconformities by type", "bargauge", sql(f"""
              SELECT type AS metric, count(*) AS value FROM v_open_nonconformities WHERE {SQL_AGENCY}
              GROUP BY 1 ORDER BY 2 DESC"""), w=12,
              description="From the database: those the deadline watcher raised included."),
        panel("Late cases now (list)", "table", sql(f"""
              SELECT case_id, agency, procedure, status, received_at, due_at, overdue_for
              FROM v_late_cases WHERE {SQL_AGENCY} ORDER BY due_at LIMIT 500"""), w=24, h=10),
        panel("Cases resolved late", "table", sql(f"""
              SELECT case_id, agency, procedure, received_at, due_at, resolved_at, delay_working_hours
              FROM v_cases_resolved_late WHERE {SQL_AGENCY} ORDER BY resolved_at DESC LIMIT 500"""), w=24, h=10),
    ], [variable("agency", "Agency")])


def procedure_view() -> dict[str, Any]:
    where = f"{PROCEDURE},{AGENCY}"
    buckets = f"sum by (procedure, step, le) (increase(eiso_step_working_hours_bucket{{{where}}}[$__range]))"
    p90 = f"histogram_quantile(0.9, {buckets})"
    mean = (f"sum by (procedure, step) (increase(eiso_step_working_hours_sum{{{where}}}[$__range])) / "
            f"sum by (procedure, step) (increase(eiso_step_working_hours_count{{{where}}}[$__range]))")
    # The allowance of the every-agency deployment (scope "*"), which the steps of most agencies follow; a
    # procedure deployed only for some agencies: the largest of their allowances, so that over 100% is over
    # each of them. The histograms carry no scope (a case's deployment is not a label), hence no finer join.
    allowance = (f'(max by (procedure, step) (eiso_step_allowance_working_hours{{{PROCEDURE},scope="*"}}) or '
                 f"max by (procedure, step) (eiso_step_allowance_working_hours{{{PROCEDURE}}}))")
    return dashboard("eiso-procedure", "eiso — procedure view", [
        panel("Step working time against its allowance (working hours)", "bargauge", [
            prom(p90, "{{procedure}} {{step}} p90"), prom(mean, "{{procedure}} {{step}} mean"),
            prom(allowance, "{{procedure}} {{step}} allowance")], w=12, h=12, unit="h",
              description="Steps completed in the time range: 90th percentile and mean working time (pauses "
                          "excluded), and the allowance in the newest version of the procedure deployed for "
                          "every agency (deployed only for some agencies: the largest of their allowances)."),
        panel("Step working time, 90th percentile over allowance", "bargauge",
              prom(f"{p90} / on (procedure, step) {allowance}", "{{procedure}} {{step}}"), w=12, h=12,
              unit="percentunit", thresholds=[(None, "green"), (0.8, "orange"), (1, "red")],
              description="Above 100%: one step in ten or more took longer than its allowance (the every-agency "
                          "deployment's; deployed only for some agencies: the largest of theirs)."),
        panel("Where cases wait: open steps", "bargauge",
              prom(db("eiso_steps_open", where, "procedure, step"), "{{procedure}} {{step}}"), w=12),
        panel("Overdue steps by step", "timeseries",
              prom(db("eiso_steps_overdue", where, "procedure, step"), "{{procedure}} {{step}}"), w=12),
        panel("Case working time, median (working hours)", "bargauge", prom(
            f"histogram_quantile(0.5, sum by (procedure, le) "
            f"(increase(eiso_case_working_hours_bucket{{{where}}}[$__range])))", "{{procedure}}"), w=12, unit="h"),
        panel("Steps completed in the period", "bargauge",
              prom(f"round(sum by (procedure) (increase(eiso_step_working_hours_count{{{where}}}[$__range])))",
                   "{{procedure}}"), w=12),
        panel("Cases that followed the procedure (closed this month)", "bargauge",
              prom(f"max without (instance, job) (eiso_cases_conforming_ratio{{{where}}})",
                   "{{agency}} {{procedure}}"), w=24, unit="percentunit", decimals=1,
              thresholds=[(None, "red"), (0.8, "orange"), (0.95, "green")],
              description="Per agency and procedure, the share of the cases closed this month (calendar zone) that "
                          "followed the procedure: they fit its model by token-based replay, with no step skipped, "
                          "out of order or repeated and no activity outside it (eiso conformance CODE shows which)."),
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
              prom("max by (topic, partition) (eiso_kafka_consumer_lag)", "{{topic}}:{{partition}}"),
              description="Messages behind the high watermark, as the worker holding the partition reports it."),
        panel("Dead letters in the period", "stat",
              prom("round(sum by (topic) (increase(eiso_dead_letters_total[$__range])))", "{{topic}}"), w=8,
              thresholds=[(None, "green"), (1, "red")]),
        panel("Refused and parked events per second", "timeseries",
              prom('sum by (outcome) (rate(eiso_events_consumed_total{outcome=~"refused|parked"}[$__rate_interval]))',
                   "{{outcome}}"), w=8,
              description="Refused: invalid, kept with the reason (`eiso events refused`); parked: waiting for "
                          "their case or procedure (`eiso events parked`)."),
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
