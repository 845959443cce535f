"""The monitoring files and docker-compose.yml are well-formed and consistent; promtool proves every alert."""

from __future__ import annotations

import json
import re
import subprocess
from pathlib import Path
from typing import Any

import yaml

from tests.monitoring.support import required_binary
from tools.dashboards import DASHBOARDS, OUT, render

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
        assert (OUT / name).read_text(encoding="utf-8") == text, f"run python -m tools.dashboards ({name})"
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


def _known_variables() -> set[str]:
    from connectors.settings import KafkaSettings
    from engine.api.settings import ApiSettings
    from engine.console.settings import ConsoleSettings
    from engine.settings import CalendarSettings, DatabaseSettings, EngineSettings
    from monitoring.settings import MonitoringSettings

    known = {"EISO_DEBUG"}
    for settings in (KafkaSettings, ApiSettings, CalendarSettings, DatabaseSettings, EngineSettings,
                     MonitoringSettings, ConsoleSettings):
        prefix = settings.model_config.get("env_prefix", "")
        for name, field in settings.model_fields.items():
            aliases = getattr(field.validation_alias, "choices", None) or []
            known |= {f"{prefix}{name}".upper(), *(str(alias).upper() for alias in aliases)}
    return known


def _eiso_services() -> dict[str, Any]:
    return {name: s for name, s in SERVICES.items() if s.get("image") == "eiso:local"}


def test_compose_eiso_variables_are_read_by_some_settings_and_paths_exist_in_the_image() -> None:
    known = _known_variables()
    for name, service in _eiso_services().items():
        for variable, value in service["environment"].items():
            assert variable in known, f"{name}: {variable} is read by no settings class"
            if str(value).startswith("/app/"):  # the Dockerfile copies the repository to /app
                assert (ROOT / str(value).removeprefix("/app/")).exists(), (name, variable, value)
        # The image installs the wheel, whose default files are package data: no path variable is needed
        # (tests/integration/test_wheel_install.py runs the installed wheel without them).
        assert not {"EISO_CALENDAR_OVERRIDES", "EISO_PROCEDURES_DIR"} & set(service["environment"]), name


def test_compose_commands_are_real_eiso_commands_with_real_options() -> None:
    import click
    import typer

    from engine.cli.app import app

    root = typer.main.get_command(app)
    for name, service in _eiso_services().items():
        args = list(service["command"])
        command: click.Command = root
        path = ["eiso"]
        while isinstance(command, click.Group):
            sub = command.get_command(click.Context(command), args[0])
            assert sub is not None, f"{name}: no command eiso {' '.join([*path[1:], args[0]])}"
            path.append(args.pop(0))
            command = sub
        command.make_context(" ".join(path), list(args))  # unknown options and bad values raise here


def test_compose_health_checks_use_what_the_images_hold() -> None:
    """python:3.11-slim has neither curl nor wget: the eiso services check themselves with Python; the
    Prometheus, Alertmanager and Grafana images are busybox or Alpine based and have wget."""
    for name, service in SERVICES.items():
        if "healthcheck" not in service:
            continue
        test = service["healthcheck"]["test"]
        assert test[0] in ("CMD", "CMD-SHELL"), name
        if service.get("image") == "eiso:local":
            assert test[1] == "python" and "curl" not in test and "wget" not in test, name
            port = re.search(r"127\.0\.0\.1:(\d+)/", " ".join(test))
            assert port is not None and port.group(1) in " ".join(service["command"]), (name, test)
        elif any(service["image"].startswith(i) for i in ("prom/", "grafana/")):
            assert test[1] == "wget", name


def test_grafana_provisioning_paths_match_the_compose_mounts() -> None:
    grafana = SERVICES["grafana"]
    mounts = {v.split(":")[1]: v.split(":")[0] for v in grafana["volumes"]}
    provider = yaml.safe_load((MONITORING / "grafana/provisioning/dashboards/eiso.yml").read_text())["providers"][0]
    dashboards = provider["options"]["path"]
    assert mounts[dashboards] == "./monitoring/grafana/dashboards"
    assert mounts["/etc/grafana/provisioning"] == "./monitoring/grafana/provisioning"
    assert not dashboards.startswith("/var/lib/grafana"), "not inside the grafana-data volume"
    home = grafana["environment"]["GF_DASHBOARDS_DEFAULT_HOME_DASHBOARD_PATH"]
    assert home.startswith(dashboards + "/") and (OUT / home.rsplit("/", 1)[1]).exists()
    datasources = (MONITORING / "grafana/provisioning/datasources/eiso.yml").read_text()
    for variable in re.findall(r"\$(\w+)", datasources):
        assert variable in grafana["environment"], f"grafana needs {variable} in its environment"
    prometheus = SERVICES["prometheus"]
    assert {"./monitoring/prometheus/prometheus.yml", "./monitoring/prometheus/alerts.yml"} <= {
        v.split(":")[0] for v in prometheus["volumes"]}


def test_the_reporting_role_script_is_what_postgres_runs_at_first_start() -> None:
    postgres = SERVICES["postgres"]
    assert any(v.startswith("./monitoring/postgres/10-reporting-role.sh:/docker-entrypoint-initdb.d/")
               for v in postgres["volumes"])
    assert "EISO_REPORTING_PASSWORD" in postgres["environment"]
    script = (MONITORING / "postgres" / "10-reporting-role.sh").read_text()
    assert "default_transaction_read_only = on" in script
    assert not re.search(r"^\s*GRANT\b", script, flags=re.MULTILINE | re.IGNORECASE)  # the migration grants SELECT
