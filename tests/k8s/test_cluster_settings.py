"""The ConfigMap `kubeface-config`: only settings that differ from the code's defaults, each read
as a pod reads it (the whole ConfigMap as its environment), and agreeing with the manifests."""

from __future__ import annotations

from pathlib import Path
from urllib.parse import urlsplit

import pytest
import yaml

from kubeface.settings import Settings
from tests.k8s.render import (
    K8S,
    OVERLAYS,
    config,
    config_literals,
    named_ports,
    objects,
    pods,
    settings,
    settings_from,
)

overlays = pytest.mark.parametrize("overlay", OVERLAYS)


def _assert_each_changes_a_value(literals: dict[str, str], inherited: dict[str, str], where: str) -> None:
    """Each literal is a real setting whose value, once parsed, differs from what it overrides."""
    before, after = settings_from(inherited), settings_from({**inherited, **literals})
    for key, value in literals.items():
        field = key.lower()
        assert key == key.upper() and field in Settings.model_fields, f"{where}: {key} is no setting"
        assert getattr(after, field) != getattr(before, field), (
            f"{where}: {key}={value} restates the value it would have anyway; drop it, or it drifts"
        )


def test_base_lists_only_settings_that_differ_from_the_code_defaults() -> None:
    _assert_each_changes_a_value(config_literals(K8S / "base"), {}, "base")


@overlays
def test_overlays_list_only_settings_that_differ_from_base(overlay: str) -> None:
    inherited = _inherited_literals(K8S / "overlays" / overlay)
    literals = config_literals(K8S / "overlays" / overlay)
    _assert_each_changes_a_value(literals, inherited, overlay)
    assert config(overlay) == inherited | literals, "the ConfigMap has other sources than these literals"


def _inherited_literals(folder: Path) -> dict[str, str]:
    """The literals of what the overlay builds on: base/'s, then an overlay's it builds on
    (overlays/local-policies is overlays/local plus the NetworkPolicies)."""
    inherited: dict[str, str] = {}
    kustomization = yaml.safe_load((folder / "kustomization.yaml").read_text())
    for resource in kustomization.get("resources", []):
        parent = (folder / resource).resolve()
        if parent == K8S / "base":
            inherited |= config_literals(parent)
        elif parent.parent == K8S / "overlays":
            inherited |= _inherited_literals(parent) | config_literals(parent)
    return inherited


@overlays
def test_pods_read_the_cluster_values_and_no_secret(overlay: str) -> None:
    read = settings(overlay)
    assert read.environment.value == ("production" if overlay == "production" else "development")
    assert read.bind_host == "0.0.0.0"
    assert str(read.image_root) == "/data/images"
    assert read.detection_max_side == Settings.model_fields["detection_max_side"].default
    secrets = {name.upper() for name, f in Settings.model_fields.items() if "SecretStr" in str(f.annotation)}
    assert not secrets & set(config(overlay)), "secrets belong in the Secret kubeface-mysql / kubeface-api"


@overlays
def test_settings_agree_with_the_ports_and_names_in_the_manifests(overlay: str) -> None:
    read = settings(overlay)
    ports = {name: named_ports(template) for name, template in pods(overlay).items()}
    services = {
        name: {p["name"]: p["port"] for p in s["spec"].get("ports", [])}
        for name, s in objects(overlay, "Service").items()
    }
    assert ports["receiver"]["http"] == read.receiver_port
    assert ports["frontend"]["http"] == read.frontend_port
    assert ports["processor"]["metrics"] == read.processor_metrics_port
    assert ports["recognizer"]["grpc"] == read.recognizer_port
    assert ports["recognizer"]["metrics"] == read.recognizer_metrics_port
    assert read.recognizer_address.endswith(f":{read.recognizer_port}")
    assert urlsplit(read.frontend_receiver_url).port == services["receiver"]["http"]
    assert urlsplit(read.processor_metrics_url).port == services["processor-metrics"]["metrics"]
    assert urlsplit(read.recognizer_metrics_url).port == read.recognizer_metrics_port
    assert read.nsqd_http_address.endswith(f":{services['nsqd']['http']}")
    for address in read.nsqlookupd_http_addresses:
        assert address.endswith(f":{ports['nsqlookupd']['http']}")
    if "mysql" in pods(overlay):  # in-cluster MariaDB: its database and user are the settings'
        env = {e["name"]: e.get("value") for e in pods(overlay)["mysql"]["spec"]["containers"][0]["env"]}
        assert env["MARIADB_DATABASE"] == read.mysql_database
        assert env["MARIADB_USER"] == read.mysql_user
        assert services["mysql"]["mysql"] == ports["mysql"]["mysql"] == read.mysql_port


def _service_link_variables(service: dict) -> set[str]:
    """What the kubelet puts in every pod's environment for a Service, unless the pod says
    enableServiceLinks: false (Docker-link style: RECEIVER_PORT=tcp://10.96.0.7:8000, ...)."""
    prefix = service["metadata"]["name"].upper().replace("-", "_")
    names = {f"{prefix}_SERVICE_HOST", f"{prefix}_PORT"}
    for port in service["spec"]["ports"]:
        names |= {f"{prefix}_SERVICE_PORT", f"{prefix}_PORT_{port['port']}_TCP"}
        if "name" in port:
            names.add(f"{prefix}_SERVICE_PORT_{port['name'].upper().replace('-', '_')}")
    return names


@overlays
def test_no_service_link_variable_reaches_a_pod_that_would_read_it_as_a_setting(overlay: str) -> None:
    """A Service `receiver` makes RECEIVER_PORT=tcp://<ip>:8000, which kubeface reads as its
    RECEIVER_PORT setting and refuses to start; so do `frontend` and `mysql`."""
    services = [s for s in objects(overlay, "Service").values() if s["spec"].get("type") != "ExternalName"]
    linked = {name for service in services for name in _service_link_variables(service)}
    clashes = sorted(name for name in linked if name.lower() in Settings.model_fields)
    assert clashes, "no clash left: this check may go, with the enableServiceLinks it guards"
    for name, template in pods(overlay).items():
        assert template["spec"].get("enableServiceLinks") is False, f"{name} would read {clashes} as settings"
