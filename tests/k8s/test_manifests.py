"""The deployment files: Kubernetes manifests (k8s/), the Dockerfile and their linters.

Each overlay is rendered with `kustomize build`, by the newest kustomize and by kubectl 1.30's,
every document is validated against the Kubernetes 1.30 OpenAPI schemas (kubernetes-validate,
strict), the result is linted with kube-score (settings and justified exclusions in
k8s/.kube-score.yaml), and the rest of this file asserts what an operator would notice. The
Dockerfile is linted with hadolint (.hadolint.yaml) and its COPY sources are checked against the
repository. The settings in the ConfigMap and the NetworkPolicies have their own files.
"""

from __future__ import annotations

import json
import re
import subprocess
from collections.abc import Iterator
from pathlib import Path

import kubernetes_validate
import pytest
import yaml

from tests.k8s.render import (
    K8S,
    NAMESPACE,
    NEWEST_KUSTOMIZE,
    OLDEST_KUSTOMIZE,
    OVERLAYS,
    REPO,
    config,
    container,
    documents,
    objects,
    pod_templates,
    rendered,
    selects,
    settings,
    tool,
)

KUBERNETES_VERSION = "1.30.0"
APP_IMAGE = "ghcr.io/kubeface/kubeface"
GPU_IMAGE = "ghcr.io/kubeface/kubeface-recognizer-gpu"
UID = 10001

# Seconds each long-running workload may need between SIGTERM and exit (its own drain), plus
# the preStop sleep where there is one; terminationGracePeriodSeconds must exceed it.
DRAIN_SECONDS = {
    "receiver": 15 + 5,
    "frontend": 10 + 5,
    "recognizer": 20,
    "processor": 30 + 5,
    "cluster": 5,  # a face is placed in one short transaction
    "nsqd": 30 + 5,
    "nsqlookupd": 5,
    "mysql": 30,
}
PRESTOP_SLEEP = {"receiver", "frontend", "nsqd"}
APP_SERVICES = {"receiver", "frontend", "processor", "recognizer", "cluster"}
# One replica at a time, by design: never two during a rollout.
SINGLETONS = {"cluster"}


def long_running(overlay: str) -> Iterator[dict]:
    for doc in documents(overlay):
        if doc["kind"] in ("Deployment", "StatefulSet"):
            yield doc


overlays = pytest.mark.parametrize("overlay", OVERLAYS)


# ---------------------------------------------------------------- rendering, schemas and linters


@overlays
def test_kubectl_1_30s_kustomize_renders_every_overlay_as_the_newest_does(overlay: str) -> None:
    # `kubectl apply -k` on the oldest Kubernetes we support must apply what the tests check.
    assert rendered(overlay, OLDEST_KUSTOMIZE) == rendered(overlay, NEWEST_KUSTOMIZE)


def test_the_newest_kustomize_is_the_one_the_install_script_pins() -> None:
    script = (REPO / "tools" / "install-k8s-tools.sh").read_text()
    (pinned,) = re.findall(r"^KUSTOMIZE_VERSION=(\S+)$", script, flags=re.MULTILINE)
    version = subprocess.run(
        [tool(NEWEST_KUSTOMIZE), "version"], capture_output=True, text=True, timeout=30, check=True
    )
    assert version.stdout.strip() == pinned, "stale kustomize: run tools/install-k8s-tools.sh"


@overlays
def test_every_document_matches_the_kubernetes_schema(overlay: str) -> None:
    failures = []
    for doc in documents(overlay):
        if doc["apiVersion"].startswith("keda.sh/"):
            continue  # no schema in kubernetes-validate: checked by hand below
        try:
            kubernetes_validate.validate(doc, KUBERNETES_VERSION, strict=True)
        except kubernetes_validate.ValidationError as exc:
            failures.append(f"{doc['kind']}/{doc['metadata']['name']}: {exc.message} at {list(exc.path)}")
    assert not failures, "\n".join(failures)


@overlays
def test_every_object_is_namespaced_in_kubeface(overlay: str) -> None:
    for doc in documents(overlay):
        if doc["kind"] != "Namespace":
            assert doc["metadata"].get("namespace") == NAMESPACE, doc["metadata"]["name"]


def test_processor_scaledobject_is_a_valid_keda_nsq_trigger() -> None:
    """Production only: overlays/local runs without KEDA (tests/k8s/test_local_overlay.py)."""
    overlay = "production"
    (scaled,) = objects(overlay, "ScaledObject").values()
    assert scaled["apiVersion"] == "keda.sh/v1alpha1"
    spec = scaled["spec"]
    target = spec["scaleTargetRef"]
    assert target.get("kind", "Deployment") == "Deployment"
    assert target["name"] in objects(overlay, "Deployment")
    assert target["name"] == "processor"
    assert 1 <= spec["minReplicaCount"] <= spec["maxReplicaCount"]
    (trigger,) = spec["triggers"]
    assert trigger["type"] == "nsq"
    meta = trigger["metadata"]
    assert all(isinstance(v, str) for v in meta.values()), "KEDA trigger metadata values are strings"
    read = settings(overlay)
    assert meta["topic"] == read.nsq_topic
    assert meta["channel"] == read.nsq_channel
    assert meta["nsqLookupdHTTPAddresses"].split(",") == read.nsqlookupd_http_addresses
    assert int(meta["depthThreshold"]) > 0
    # KEDA owns the replica count: a static one would be reset on every apply.
    assert "replicas" not in objects(overlay, "Deployment")["processor"]["spec"]


def load_kube_score_config() -> dict:
    return yaml.safe_load((K8S / ".kube-score.yaml").read_text())


def test_kube_score_exclusions_are_justified() -> None:
    for entry in load_kube_score_config()["ignore"]:
        assert len(entry.get("reason", "").split()) >= 8, f"{entry['test']}: say why it is ignored"
        assert set(entry["overlays"]) <= set(OVERLAYS)


@overlays
def test_kube_score_finds_nothing_critical(overlay: str, tmp_path: Path) -> None:
    cfg = load_kube_score_config()
    ignored = [e["test"] for e in cfg["ignore"] if overlay in e["overlays"]]
    manifest = tmp_path / f"{overlay}.yaml"
    manifest.write_text(rendered(overlay))
    command = [tool("kube-score"), "score", "--output-format", "ci"]
    for test in cfg.get("enable-optional-tests", []):
        command += ["--enable-optional-test", test]
    for test in ignored:
        command += ["--ignore-test", test]
    result = subprocess.run([*command, str(manifest)], capture_output=True, text=True, timeout=120)
    findings = [line for line in result.stdout.splitlines() if line.startswith(("[CRITICAL]", "[WARNING]"))]
    critical = [line for line in findings if line.startswith("[CRITICAL]")]
    assert not critical and result.returncode == 0, "\n".join(findings) + result.stderr


def test_dockerfile_passes_hadolint() -> None:
    result = subprocess.run(
        [tool("hadolint"), "--config", str(REPO / ".hadolint.yaml"), "--no-color", str(REPO / "Dockerfile")],
        capture_output=True,
        text=True,
        cwd=REPO,
        timeout=60,
    )
    assert result.returncode == 0, result.stdout + result.stderr


def test_hadolint_exclusions_are_justified() -> None:
    lines = (REPO / ".hadolint.yaml").read_text().splitlines()
    ignored = yaml.safe_load("\n".join(lines)).get("ignored", [])
    for rule in ignored:
        index = next(i for i, line in enumerate(lines) if line.strip() == f"- {rule}")
        assert lines[index - 1].strip().startswith("#"), f"{rule}: put the reason in a comment above it"


# ---------------------------------------------------------------- Dockerfile


def dockerfile_instructions() -> list[tuple[str, str]]:
    text = re.sub(r"\\\n", " ", (REPO / "Dockerfile").read_text())
    pairs = []
    for line in text.splitlines():
        line = line.strip()
        if line and not line.startswith("#"):
            word, _, rest = line.partition(" ")
            pairs.append((word.upper(), rest.strip()))
    return pairs


def test_every_dockerfile_copy_source_exists_and_is_in_the_build_context() -> None:
    allowed = {
        line[1:].strip().rstrip("/")
        for line in (REPO / ".dockerignore").read_text().splitlines()
        if line.startswith("!")
    }
    copies = [rest for word, rest in dockerfile_instructions() if word in ("COPY", "ADD")]
    assert copies
    for rest in copies:
        args = [a for a in rest.split() if not a.startswith("--")]
        if any(a.startswith("--from") for a in rest.split()):
            continue  # from another stage
        for source in args[:-1]:
            assert (REPO / source).exists(), f"COPY {source}: no such path in the repository"
            assert source.rstrip("/") in allowed, f"COPY {source}: excluded by .dockerignore"


def test_dockerfile_images_are_pinned_non_root_and_run_kubeface() -> None:
    instructions = dockerfile_instructions()
    args = dict(rest.split("=", 1) for word, rest in instructions if word == "ARG" and "=" in rest)
    stages = {}
    for word, rest in instructions:
        if word == "FROM":
            image, _, stage = rest.partition(" AS ")
            image = re.sub(r"\$\{(\w+)\}", lambda m: args[m.group(1)], image)
            if image not in stages:  # a later stage may build on an earlier one by name
                assert re.search(r":[\w.-]*\d[\w.-]*(@sha256:[0-9a-f]{64})?$", image), f"unpinned {image}"
            stages[stage.strip()] = image

    def base(stage: str) -> str:
        """The image a stage starts from, through the stages it builds on (ARGs at their defaults)."""
        image = stages[stage]
        return base(image) if image in stages else image

    assert base("app").startswith("python:3.11")
    assert base("dlib") == base("builder") == base("app")
    assert stages["recognizer-gpu"].startswith("nvidia/cuda:") and "cudnn-runtime" in stages["recognizer-gpu"]
    assert stages["gpu-builder"].startswith("nvidia/cuda:") and "cudnn-devel" in stages["gpu-builder"]
    text = (REPO / "Dockerfile").read_text()
    assert text.count('ENTRYPOINT ["kubeface"]') == 2
    assert text.count(f"USER {UID}:{UID}") == 2
    assert "MIGRATIONS_DIR=/app/migrations" in text and "COPY migrations /app/migrations" in text
    # The same install steps as `make`, with the OpenBLAS dlib of `make dlib-openblas` in the
    # CPU image instead of dlib-bin, checked at build time.
    assert "pip install --no-deps face_recognition==1.3.0" in text
    assert "pip install --no-deps ." in text
    assert "build-dlib-openblas.sh" in text and "ARG DLIB=openblas" in text
    assert "sys.exit(0 if dlib.DLIB_USE_BLAS or sys.argv[1] == 'bin'" in text


# ---------------------------------------------------------------- what an operator would notice


@overlays
def test_every_pod_is_locked_down(overlay: str) -> None:
    for where, template in pod_templates(overlay):
        pod = template["spec"]
        ctx = pod["securityContext"]
        assert ctx["runAsNonRoot"] is True and ctx["runAsUser"] == UID, where
        assert ctx["seccompProfile"] == {"type": "RuntimeDefault"}, where
        assert pod.get("automountServiceAccountToken") is False, where
        volumes = {v["name"]: v for v in pod.get("volumes", [])}
        for c in pod["containers"]:
            sc = c["securityContext"]
            assert sc["allowPrivilegeEscalation"] is False, where
            assert sc["readOnlyRootFilesystem"] is True, where
            assert sc["capabilities"]["drop"] == ["ALL"], where
            tmp = [m for m in c.get("volumeMounts", []) if m["mountPath"] == "/tmp"]
            assert tmp and "emptyDir" in volumes[tmp[0]["name"]], f"{where}: no writable /tmp"
            for section in ("requests", "limits"):
                assert {"cpu", "memory"} <= set(c["resources"][section]), f"{where}: {section}"
            assert ":" in c["image"] and not c["image"].endswith(":latest"), c["image"]
            for port in c.get("ports", []):
                assert port.get("name"), f"{where}: unnamed port {port['containerPort']}"


@overlays
def test_long_running_workloads_have_probes_pdbs_and_a_long_enough_grace(overlay: str) -> None:
    pdbs = objects(overlay, "PodDisruptionBudget").values()
    for workload in long_running(overlay):
        name = workload["metadata"]["name"]
        pod = workload["spec"]["template"]["spec"]
        for c in pod["containers"]:
            for probe in ("startupProbe", "readinessProbe", "livenessProbe"):
                assert probe in c, f"{name}: no {probe}"
        assert pod["terminationGracePeriodSeconds"] > DRAIN_SECONDS[name], name
        labels = workload["spec"]["template"]["metadata"]["labels"]
        assert [p for p in pdbs if selects(p["spec"]["selector"], labels)], f"{name}: no PodDisruptionBudget"
        prestop = container(workload).get("lifecycle", {}).get("preStop", {})
        if name in PRESTOP_SLEEP:
            assert prestop["sleep"]["seconds"] >= 5, name
        if workload["kind"] == "Deployment" and name in SINGLETONS:
            assert workload["spec"]["replicas"] == 1, name
            assert workload["spec"]["strategy"]["type"] == "Recreate", name
        elif workload["kind"] == "Deployment":
            strategy = workload["spec"]["strategy"]
            assert strategy["type"] == "RollingUpdate", name
            assert strategy["rollingUpdate"]["maxUnavailable"] == 0, name


@overlays
def test_app_pods_are_scraped_and_use_the_app_image(overlay: str) -> None:
    deployments = objects(overlay, "Deployment")
    assert set(deployments) == APP_SERVICES
    for name, deployment in deployments.items():
        annotations = deployment["spec"]["template"]["metadata"]["annotations"]
        c = container(deployment)
        assert annotations["prometheus.io/scrape"] == "true"
        assert annotations["prometheus.io/path"] == "/metrics"
        assert int(annotations["prometheus.io/port"]) in {p["containerPort"] for p in c["ports"]}
        assert c["args"] == [name]
        assert c["envFrom"][0]["configMapRef"]["name"].startswith("kubeface-config")
    for where, template in pod_templates(overlay):
        for c in template["spec"]["containers"]:
            if "kubeface" in c["image"]:
                expected = GPU_IMAGE if overlay == "production" and where == "Deployment/recognizer" else None
                if expected:
                    assert c["image"] == f"{expected}:0.1.0"
                elif overlay == "production":
                    assert c["image"] == f"{APP_IMAGE}:0.1.0", where
                else:
                    assert c["image"] == "localhost/kubeface:dev", where


@overlays
def test_recognizer_is_probed_over_grpc_behind_a_headless_service(overlay: str) -> None:
    recognizer = objects(overlay, "Deployment")["recognizer"]
    c = container(recognizer)
    assert c["startupProbe"]["grpc"]["port"] == 50051
    assert c["readinessProbe"]["grpc"]["port"] == 50051
    # /metrics answers while every recognition thread is wedged; /livez does not.
    assert c["livenessProbe"]["httpGet"] == {"path": "/livez", "port": "metrics"}
    service = objects(overlay, "Service")["recognizer-headless"]
    assert service["spec"]["clusterIP"] == "None"
    assert selects(
        {"matchLabels": service["spec"]["selector"]}, recognizer["spec"]["template"]["metadata"]["labels"]
    )
    expected = f"dns:///recognizer-headless.{NAMESPACE}.svc.cluster.local:50051"
    assert config(overlay)["RECOGNIZER_ADDRESS"] == expected


def test_production_recognizer_runs_on_a_gpu() -> None:
    pod = objects("production", "Deployment")["recognizer"]["spec"]["template"]["spec"]
    resources = container(objects("production", "Deployment")["recognizer"])["resources"]
    assert resources["requests"]["nvidia.com/gpu"] == 1 and resources["limits"]["nvidia.com/gpu"] == 1
    assert pod["nodeSelector"]
    assert any(t["key"] == "nvidia.com/gpu" and t["effect"] == "NoSchedule" for t in pod["tolerations"])
    local = container(objects("local", "Deployment")["recognizer"])["resources"]
    assert "nvidia.com/gpu" not in local["limits"]


@overlays
def test_every_configmap_and_secret_reference_resolves(overlay: str) -> None:
    present = {(d["kind"], d["metadata"]["name"]) for d in documents(overlay)}
    missing = set()
    for _, template in pod_templates(overlay):
        text = json.dumps(template)
        for kind, key in (
            ("ConfigMap", "configMapKeyRef"),
            ("ConfigMap", "configMapRef"),
            ("Secret", "secretKeyRef"),
        ):
            for name in re.findall(rf'"{key}": {{[^}}]*"name": "([^"]+)"', text):
                if (kind, name) not in present:
                    missing.add((kind, name))
    # Production expects the Secrets to exist already (created by the operator, not by git).
    expected_missing = {
        ("Secret", "kubeface-mysql"),
        ("Secret", "kubeface-api"),
        ("Secret", "kubeface-frontend"),
    }
    assert missing == (expected_missing if overlay == "production" else set())
    secrets = objects(overlay, "Secret")
    if overlay == "production":
        assert not secrets
    else:
        mysql = next(secret for name, secret in secrets.items() if name.startswith("kubeface-mysql"))
        services = ("receiver", "processor", "recognizer", "frontend", "retry")
        assert {"password", "root-password", *(f"{s}-password" for s in services)} <= set(mysql["data"])


@overlays
def test_the_frontend_has_an_operator_login_to_guard_its_token(overlay: str) -> None:
    """A frontend holding API_TOKEN without a login is refused in production (frontend/access.py)."""
    env = {e["name"]: e for e in container(objects(overlay, "Deployment")["frontend"])["env"]}
    assert "API_TOKEN" in env
    assert env["FRONTEND_PASSWORD"]["valueFrom"]["secretKeyRef"]["name"].startswith("kubeface-frontend")
    assert config(overlay)["FRONTEND_USER"]


@overlays
def test_nsq_topology(overlay: str) -> None:
    statefulsets = objects(overlay, "StatefulSet")
    services = objects(overlay, "Service")
    lookupd = statefulsets["nsqlookupd"]
    assert lookupd["spec"]["replicas"] == 3
    assert services[lookupd["spec"]["serviceName"]]["spec"]["clusterIP"] == "None"
    nsqd = statefulsets["nsqd"]
    assert services[nsqd["spec"]["serviceName"]]["spec"]["clusterIP"] == "None"
    args = container(nsqd)["args"]
    data_path = next(a.split("=", 1)[1] for a in args if a.startswith("-data-path="))
    claims = {t["metadata"]["name"] for t in nsqd["spec"]["volumeClaimTemplates"]}
    mounts = {m["mountPath"]: m["name"] for m in container(nsqd)["volumeMounts"]}
    assert mounts[data_path] in claims, "nsqd's queue must live on its PVC"
    assert any(a.startswith("-broadcast-address=$(POD_NAME).") for a in args)
    lookups = [a for a in args if a.startswith("-lookupd-tcp-address=")]
    assert len(lookups) == 3 == len(config(overlay)["NSQLOOKUPD_HTTP_ADDRESSES"].split(","))


def test_mysql_in_cluster_locally_and_external_in_production() -> None:
    local = objects("local", "StatefulSet")["mysql"]
    assert local["spec"]["volumeClaimTemplates"]
    assert "mysql" not in objects("production", "StatefulSet")
    service = objects("production", "Service")["mysql"]["spec"]
    assert service["type"] == "ExternalName" and service["externalName"] and "selector" not in service
    assert config("production")["MYSQL_HOST"] == "mysql"


@overlays
def test_image_root_is_shared_and_mounted_read_only(overlay: str) -> None:
    (claim,) = [c for c in objects(overlay, "PersistentVolumeClaim").values()]
    assert claim["spec"]["accessModes"] == (
        ["ReadWriteMany"] if overlay == "production" else ["ReadWriteOnce"]
    )
    users = 0
    for where, template in pod_templates(overlay):
        for volume in template["spec"].get("volumes", []):
            if volume.get("persistentVolumeClaim", {}).get("claimName") == claim["metadata"]["name"]:
                users += 1
                app = template["metadata"]["labels"]["app.kubernetes.io/name"]
                # Only the receiver writes, and only IMAGE_ROOT/uploads (POST /image/upload).
                assert volume["persistentVolumeClaim"]["readOnly"] is (app != "receiver"), where
                mounts = [
                    m
                    for c in template["spec"]["containers"]
                    for m in c.get("volumeMounts", [])
                    if m["name"] == volume["name"]
                ]
                root = config(overlay)["IMAGE_ROOT"]
                read_only = [m for m in mounts if m.get("readOnly")]
                writable = [m for m in mounts if not m.get("readOnly")]
                assert [m["mountPath"] for m in read_only] == [root], where
                expected = [(f"{root}/uploads", "uploads")] if app == "receiver" else []
                assert [(m["mountPath"], m.get("subPath")) for m in writable] == expected, where
    assert users >= 2  # receiver and recognizer


@overlays
def test_jobs_run_migrate_and_retry(overlay: str) -> None:
    (job,) = objects(overlay, "Job").values()
    # Schema first, then the services' least-privilege accounts.
    assert job["spec"]["template"]["spec"]["containers"][0]["args"] == ["migrate", "--accounts"]
    (cron,) = objects(overlay, "CronJob").values()
    assert cron["apiVersion"] == "batch/v1" and cron["spec"]["concurrencyPolicy"] == "Forbid"
    assert cron["spec"]["jobTemplate"]["spec"]["template"]["spec"]["containers"][0]["args"] == ["retry"]


@overlays
def test_services_and_ingress_use_named_ports(overlay: str) -> None:
    for name, service in objects(overlay, "Service").items():
        for port in service["spec"].get("ports", []):
            assert port.get("name") and isinstance(port.get("targetPort"), str), f"Service/{name}"
    (ingress,) = objects(overlay, "Ingress").values()
    backends = {
        path["backend"]["service"]["name"]
        for rule in ingress["spec"]["rules"]
        for path in rule["http"]["paths"]
        if path["backend"]["service"]["port"].get("name")
    }
    assert backends == {"receiver", "frontend"}
