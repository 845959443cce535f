"""The step allowance gauge names the deployment's scope (issue 10, section 3): the newest version in force of
every (procedure, scope), scope labels bounded like agencies; and the procedure view's "against allowance"
panels take the every-agency allowance (or, for a procedure deployed only for some agencies, the largest of
theirs), proved by promtool on the dashboards' own queries."""

from __future__ import annotations

import subprocess
from datetime import datetime
from pathlib import Path

import yaml
from prometheus_client import CollectorRegistry

from engine.bootstrap import build
from engine.core.clock import ManualClock
from engine.settings import DatabaseSettings, Settings
from monitoring.collector import DatabaseCollector
from monitoring.metrics import OTHER, Labels
from monitoring.settings import MonitoringSettings
from tests.conftest import FIXTURES
from tests.monitoring.support import required_binary
from tools.dashboards import procedure_view
from tools.render import grafana_variables, substitute

SOURCE = (FIXTURES / "test-procedure.bpmn").read_bytes()
APPRAISE = b'<camunda:property name="deadline" value="P2D"/>'
AT = datetime.fromisoformat("2026-03-02T08:00:00+07:00")
A, B, UNLISTED = "000.00.01.H10", "000.00.02.H10", "000.00.99.H10"
METRIC = "eiso_step_allowance_working_hours"


def _appraise_in(days: str) -> bytes:
    return SOURCE.replace(APPRAISE, f'<camunda:property name="deadline" value="{days}"/>'.encode())


def test_the_gauge_has_the_newest_version_in_force_of_every_procedure_and_scope(tmp_path: Path) -> None:
    app = build(Settings(database=DatabaseSettings(url=f"sqlite:///{tmp_path / 'eiso.db'}")), clock=ManualClock(AT))
    try:
        catalog = app.catalog
        catalog.deploy(SOURCE, "every.bpmn", AT)  # every agency, version 1: 16 h
        catalog.deploy(_appraise_in("P3D"), "every.bpmn", AT)  # every agency, version 2: 24 h, the newest
        catalog.deploy(_appraise_in("P5D"), "a.bpmn", AT, agencies=[A])  # A's version 1: 40 h
        catalog.deploy(_appraise_in("P1D"), "a-b.bpmn", AT, agencies=[A, B])  # A and B together: 8 h
        catalog.deploy(_appraise_in("P7D"), "b.bpmn", AT, agencies=[B])
        catalog.retire("9.000001", 1, AT, scope=B)  # B's only version retired: no series for B
        catalog.deploy(_appraise_in("P4D"), "unlisted.bpmn", AT, agencies=[UNLISTED])  # beyond the allow-list
        registry = CollectorRegistry()
        labels = Labels.from_settings(MonitoringSettings(agencies=f"{A},{B}"))
        registry.register(DatabaseCollector(app.engine, app.calendar, catalog, app.clock, 0.95, labels=labels))

        def appraise(scope: str) -> float | None:
            return registry.get_sample_value(METRIC, {"procedure": "9.000001", "scope": scope, "step": "appraise"})

        assert [appraise(s) for s in ("*", A, f"{A},{B}", OTHER)] == [24.0, 40.0, 8.0, 32.0]
        assert appraise(B) is None
        assert registry.get_sample_value(METRIC, {"procedure": "9.000001", "scope": "*", "step": "receive"}) == 4.0
        scopes = {s.labels["scope"] for family in registry.collect() if family.name == METRIC for s in family.samples}
        assert scopes == {"*", A, f"{A},{B}", OTHER}
    finally:
        app.engine.dispose()


def test_a_scope_label_names_only_agencies_labelled_by_name() -> None:
    labels = Labels.from_settings(MonitoringSettings(max_agencies=2))
    assert [labels.scope(s) for s in ("*", A, f"{A},{B}", UNLISTED, f"{A},{UNLISTED}")] == [
        "*", A, f"{A},{B}", OTHER, OTHER]


def _allowance_panels() -> dict[str, str]:
    """The procedure view's PromQL of the allowance panels, as Grafana sends it with every variable on "All"."""
    variables = grafana_variables(3600)
    found = {}
    for panel in procedure_view()["panels"]:
        if "allowance" in panel["title"]:
            for target in panel["targets"]:
                if "p90" not in target["legendFormat"] and "mean" not in target["legendFormat"]:
                    found[panel["title"]] = substitute(target["expr"], variables)
    assert len(found) == 2, found
    return found


def test_the_procedure_view_compares_with_the_every_agency_allowance(tmp_path: Path) -> None:
    """promtool evaluates the panels' queries over two exporters' series: a procedure with an every-agency
    version and scoped ones (the every-agency allowance, whatever the scoped ones say), one deployed only for
    some agencies (the largest of theirs); one series per procedure and step, never one per scope."""
    promtool = required_binary("promtool")
    series = []
    for instance in ("exporter-1", "exporter-2"):  # a second exporter of the same database changes nothing
        for procedure, scope, hours in (("P1", "*", 16), ("P1", A, 40), ("P1", OTHER, 4), ("P2", A, 8),
                                        ("P2", B, 24)):
            series.append({"series": f'{METRIC}{{instance="{instance}",job="eiso-metrics",procedure="{procedure}",'
                                     f'scope="{scope}",step="appraise"}}', "values": f"{hours}x5"})
        for procedure, le, count in (("P1", "8.0", 0), ("P1", "12.0", 10), ("P1", "+Inf", 10),
                                     ("P2", "8.0", 0), ("P2", "12.0", 10), ("P2", "+Inf", 10)):
            series.append({"series": f'eiso_step_working_hours_bucket{{agency="{A}",instance="worker",'
                                     f'job="eiso-worker",le="{le}",procedure="{procedure}",step="appraise"}}',
                           "values": f"0+{count}x5"})
    allowance, ratio = _allowance_panels().values()
    expected_allowance = [{"labels": f'{{procedure="{p}",step="appraise"}}', "value": v} for p, v in
                          (("P1", 16), ("P2", 24))]
    ratio_query = ratio.replace(grafana_variables(3600)["$__range"], "4m")
    tests = {"rule_files": [], "evaluation_interval": "1m", "tests": [{
        "interval": "1m", "input_series": series,
        "promql_expr_test": [
            {"expr": allowance, "eval_time": "4m", "exp_samples": expected_allowance},
            # p90 of 10 steps between 8 and 12 h is 11.6 h: 72.5% of P1's 16 h, 48.3% of P2's 24 h (in per mille)
            {"expr": f"round(1000 * {ratio_query})", "eval_time": "4m", "exp_samples": [
                {"labels": '{procedure="P1",step="appraise"}', "value": 725},
                {"labels": '{procedure="P2",step="appraise"}', "value": 483}]},
        ]}]}
    path = tmp_path / "allowance_test.yml"
    path.write_text(yaml.safe_dump(tests, sort_keys=False), encoding="utf-8")
    run = subprocess.run([promtool, "test", "rules", str(path)], capture_output=True, text=True, check=False)
    assert run.returncode == 0, run.stdout + run.stderr
