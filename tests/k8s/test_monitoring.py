"""Alert rules, the scrape config and the dashboard: valid, tested, and about metrics that exist."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from pathlib import Path

import pytest
import yaml

REPO = Path(__file__).resolve().parents[2]
MONITORING = REPO / "k8s" / "monitoring"
# Metrics Prometheus makes itself, or that every target has.
BUILTIN = {"up"}


def _promtool() -> str:
    found = shutil.which("promtool")
    assert found, "promtool is missing: `make promtool` installs Debian's prometheus package"
    return found


def _exported_metric_names() -> set[str]:
    """Every metric the services define, read from the source."""
    pattern = re.compile(r'(?:Counter|Gauge|Histogram|GaugeMetricFamily)\(\s*"([a-z_]+)"')
    names = set()
    for folder in ("kubeface", "receiver", "processor", "recognizer", "frontend"):
        for source in (REPO / folder).rglob("*.py"):
            names |= set(pattern.findall(source.read_text()))
    return names


def _referenced_metric_names(expr: str) -> set[str]:
    """Series names in a PromQL expression: identifiers that are not functions, labels or keywords."""
    bare = re.sub(r"\{[^}]*\}|\[[^\]]*\]|\b(?:by|without)\s*\([^)]*\)|\"[^\"]*\"", " ", expr)
    names = set(re.findall(r"\b([a-z_][a-z0-9_]*)\b(?!\s*\()", bare)) - {"and", "or", "unless", "bool"}
    # Histogram series carry suffixes that the definitions do not.
    return {re.sub(r"_(bucket|count|sum)$", "", name) for name in names}


def test_alert_rules_pass_promtool_check():
    result = subprocess.run(
        [_promtool(), "check", "rules", str(MONITORING / "alerts.yaml")], capture_output=True, text=True
    )
    assert result.returncode == 0, result.stdout + result.stderr


def test_alert_rules_pass_their_unit_tests():
    result = subprocess.run(
        [_promtool(), "test", "rules", "alerts_test.yaml"], cwd=MONITORING, capture_output=True, text=True
    )
    assert result.returncode == 0, result.stdout + result.stderr


def test_every_alert_is_unit_tested_and_explained():
    rules = yaml.safe_load((MONITORING / "alerts.yaml").read_text())["groups"][0]["rules"]
    tests = yaml.safe_load((MONITORING / "alerts_test.yaml").read_text())["tests"]
    tested = {case["alertname"] for test in tests for case in test.get("alert_rule_test", [])}
    for rule in rules:
        assert rule["alert"] in tested, f"{rule['alert']} has no promtool test"
        assert rule["annotations"]["description"], f"{rule['alert']} does not say what to do"


def test_alerts_and_dashboard_use_only_metrics_the_services_export():
    exported = _exported_metric_names() | BUILTIN
    rules = yaml.safe_load((MONITORING / "alerts.yaml").read_text())["groups"][0]["rules"]
    dashboard = json.loads((MONITORING / "dashboard.json").read_text())
    expressions = [rule["expr"] for rule in rules]
    expressions += [target["expr"] for panel in dashboard["panels"] for target in panel["targets"]]
    for expr in expressions:
        unknown = _referenced_metric_names(expr) - exported
        assert not unknown, f"{expr!r} uses metrics no service exports: {unknown}"


@pytest.mark.parametrize("label", ["namespace", "pod", "service"])
def test_scrape_config_sets_the_labels_the_alerts_group_by(label):
    config = yaml.safe_load((MONITORING / "prometheus-scrape.yaml").read_text())
    targets = {r.get("target_label") for job in config["scrape_configs"] for r in job["relabel_configs"]}
    assert label in targets
