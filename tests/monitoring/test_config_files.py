"""The monitoring files and docker-compose.yml are well-formed and consistent; promtool proves every alert."""

from __future__ import annotations

import json
import re
import subprocess
from pathlib import Path
from typing import Any

import yaml

from monitoring.dashboards import DASHBOARDS, OUT, render
from tests.monitoring.support import required_binary

ROOT = Path(__file__).resolve().parents[2]
MONITORING = ROOT / "monitoring"
COMPOSE = yaml.safe_load((ROOT / "docker-compose.yml").read_text(encoding="utf-8"))
SERVICES: dict[str, Any] = COMPOSE["services"]
CONDITIONS = {"service_started", "service_healthy", "service_completed_successfully"}



def test_promtool_checks_and_unit_tests_every_alert_rule() -> None:
    promtool = required_binary("promtool")
    rules = MONITORING / "prometheus" / "alerts.yml"
    check = subprocess.run([promtool, "check", "rules", str(rules)], capture_output=True, text=True, check=False)
    assert check.returncode == 0, check.stdout + check.stderr
    tests = sorted((MONITORING / "prometheus").glob("*test*.yml"))
    run = subprocess.run([promtool, "test", "rules", *map(str, tests)], capture_output=True, text=True, check=False)
    assert run.returncode == 0, run.stdout + run.stderr
    alerts = {r["alert"] for g in yaml.safe_load(rules.read_text())["groups"] for r in g["rules"] if "alert" in r}
    tested = yaml.safe_load(tests[0].read_text())["tests"]
    firing = {c["alertname"] for t in tested for c in t.get("alert_rule_test", []) if c["exp_alerts"]}
    silent = {c["alertname"] for t in tested for c in t.get("alert_rule_test", []) if not c["exp_alerts"]}
    assert alerts == firing == silent, "every alert needs a firing and a not-firing test"


def test_prometheus_config_is_valid_and_scrapes_compose_services() -> None:
    promtool = required_binary("promtool")
    config = MONITORING / "prometheus" / "prometheus.yml"
    check = subprocess.run([promtool, "check", "config", str(config)], capture_output=True, text=True, check=False)
    assert check.returncode == 0, check.stdout + check.stderr
    for job in yaml.safe_load(config.read_text())["scrape_configs"]:
        for static in job["static_configs"]:
            for target in static["targets"]:
                host, port = target.split(":")
                if host == "localhost":
                    continue
                service = SERVICES[host]
                exposed = [str(p) for p in service.get("expose", [])] + [str(p).rsplit(":", 1)[-1]
                                                                         for p in service.get("ports", [])]
                assert port in exposed or port in " ".join(service.get("command", [])), (job["job_name"], target)


def test_alertmanager_config_is_valid() -> None:
    amtool = required_binary("amtool")
    run = subprocess.run([amtool, "check-config", str(MONITORING / "alertmanager" / "alertmanager.yml")],
                         capture_output=True, text=True, check=False)
    assert run.returncode == 0, run.stdout + run.stderr


def test_dashboards_json_is_generated_from_code_and_uses_provisioned_datasources() -> None:
    assert {p.name for p in OUT.glob("*.json")} == set(DASHBOARDS)
    for name, text in render().items():
        assert (OUT / name).read_text(encoding="utf-8") == text, f"run python -m monitoring.dashboards ({name})"
    provisioned = yaml.safe_load((MONITORING / "grafana/provisioning/datasources/eiso.yml").read_text())
    uids = {d["uid"]: d["type"] for d in provisioned["datasources"]}
    for name in DASHBOARDS:
        board = json.loads((OUT / name).read_text(encoding="utf-8"))
        assert len({p["id"] for p in board["panels"]}) == len(board["panels"])
        for panel in board["panels"]:
            for target in panel["targets"]:
                assert uids[target["datasource"]["uid"]] == target["datasource"]["type"]
                assert "case_id" not in target.get("expr", "")


def test_compose_images_are_pinned_and_volumes_declared() -> None:
    for name, service in SERVICES.items():
        image = service.get("image", "")
        assert re.fullmatch(r"[\w./-]+:[\w.-]+", image), (name, image)
        if "build" not in service:
            assert not image.endswith(":latest"), name
        for volume in service.get("volumes", []):
            source = volume.split(":")[0]
            if source.startswith("./"):
                assert (ROOT / source).exists(), (name, source)
            else:
                assert source in COMPOSE["volumes"], (name, source)


def test_compose_ports_have_health_checks_and_dependencies_are_sound() -> None:
    for name, service in SERVICES.items():
        if service.get("ports") or service.get("expose"):
            assert "healthcheck" in service, f"{name} listens but has no health check"
            test = " ".join(service["healthcheck"]["test"])
            ports = [str(p).rsplit(":", 1)[-1] for p in service.get("ports", [])] + list(map(str, service.get(
                "expose", [])))
            assert any(p in test for p in ports) or name in ("kafka", "postgres"), (name, test)
        for port in service.get("ports", []):
            assert str(port).startswith("127.0.0.1:"), (name, port)
        for dependency, spec in (service.get("depends_on") or {}).items():
            assert dependency in SERVICES, (name, dependency)
            assert spec["condition"] in CONDITIONS, (name, spec)
            if spec["condition"] == "service_healthy":
                assert "healthcheck" in SERVICES[dependency], (name, dependency)
            if spec["condition"] == "service_completed_successfully":
                assert SERVICES[dependency].get("restart") == "no", (name, dependency)


def test_compose_secrets_are_required_and_listed_in_env_example() -> None:
    text = (ROOT / "docker-compose.yml").read_text(encoding="utf-8")
    required = set(re.findall(r"\$\{(\w+):\?", text))
    assert {"POSTGRES_PASSWORD", "EISO_REPORTING_PASSWORD", "GRAFANA_ADMIN_PASSWORD"} <= required
    example = (ROOT / ".env.example").read_text(encoding="utf-8")
    defined = set(re.findall(r"^(\w+)=", example, flags=re.MULTILINE))
    assert required <= defined
    for name in ("prometheus", "alertmanager", "grafana", "api", "worker", "watcher", "metrics", "migrate"):
        assert name in SERVICES
    for file in ["Dockerfile", *(f for f in (MONITORING / "grafana" / "provisioning").rglob("*.yml"))]:
        assert (ROOT / file).exists()
