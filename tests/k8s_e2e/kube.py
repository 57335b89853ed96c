"""kubectl, as the rollout test drives a real cluster: apply, wait, restart, scale, read pods."""

from __future__ import annotations

import json
import os
import subprocess
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

NAMESPACE = "kubeface"


def kubectl(*args: str, stdin: bytes | None = None, timeout: float = 900) -> str:
    """Run kubectl in the namespace; its stdout, or an AssertionError with its stderr."""
    result = subprocess.run(
        ["kubectl", "-n", NAMESPACE, *args], input=stdin, capture_output=True, timeout=timeout, check=False
    )
    assert result.returncode == 0, f"kubectl {' '.join(args)}: {result.stderr.decode(errors='replace')}"
    return result.stdout.decode()


def kubectl_json(*args: str) -> dict:
    return json.loads(kubectl(*args, "-o", "json"))


def cluster_ip(service: str) -> str:
    """The Service's cluster address: reachable from the node, and it follows a rollout (a
    port-forward stays on the one pod it picked, which the rollout then deletes)."""
    return kubectl_json("get", "service", service)["spec"]["clusterIP"]


@dataclass(frozen=True)
class Pod:
    name: str
    app: str
    restarts: int


def serving_pods() -> dict[str, Pod]:
    """The pods of every Deployment and StatefulSet (not the Jobs'), by uid."""
    pods = {}
    for item in kubectl_json("get", "pods")["items"]:
        owners = {ref["kind"] for ref in item["metadata"].get("ownerReferences", [])}
        if not owners & {"ReplicaSet", "StatefulSet"} or item["metadata"].get("deletionTimestamp"):
            continue
        statuses = item["status"].get("containerStatuses", [])
        pods[item["metadata"]["uid"]] = Pod(
            name=item["metadata"]["name"],
            app=item["metadata"]["labels"]["app.kubernetes.io/name"],
            restarts=sum(s["restartCount"] for s in statuses),
        )
    return pods


def rollout_restart(workload: str, timeout_seconds: int = 600) -> None:
    """`kubectl rollout restart`, then wait until every new pod is ready and the old ones gone."""
    kubectl("rollout", "restart", workload)
    kubectl("rollout", "status", workload, f"--timeout={timeout_seconds}s", timeout=timeout_seconds + 30)
    app = workload.split("/")[1]
    wait_for(lambda: _only_current_pods(app), timeout_seconds, f"{workload}'s old pods to go")


def _only_current_pods(app: str) -> bool:
    """No pod of `app` is terminating any more (rollout status returns before they exit)."""
    items = kubectl_json("get", "pods", "-l", f"app.kubernetes.io/name={app}")["items"]
    return not any(item["metadata"].get("deletionTimestamp") for item in items)


def scale(deployment: str, replicas: int, timeout_seconds: int = 600) -> None:
    kubectl("scale", deployment, f"--replicas={replicas}")
    kubectl("rollout", "status", deployment, f"--timeout={timeout_seconds}s", timeout=timeout_seconds + 30)
    app = deployment.split("/")[1]

    def settled() -> bool:
        items = kubectl_json("get", "pods", "-l", f"app.kubernetes.io/name={app}")["items"]
        return len(items) == replicas and _only_current_pods(app)

    wait_for(settled, timeout_seconds, f"{deployment} at {replicas} pods")


def wait_for(predicate, timeout_seconds: float, what: str, interval: float = 2.0) -> None:
    deadline = time.monotonic() + timeout_seconds
    while not predicate():
        assert time.monotonic() < deadline, f"timed out after {timeout_seconds}s waiting for {what}"
        time.sleep(interval)


def run_retry_job(name: str, timeout_seconds: int = 300) -> None:
    """One run of the retry CronJob now, as an operator would start it."""
    kubectl("create", "job", name, "--from=cronjob/kubeface-retry")
    kubectl("wait", "--for=condition=complete", f"job/{name}", f"--timeout={timeout_seconds}s")


def require_cluster() -> None:
    """Fail early, saying what to do, when no cluster answers."""
    result = subprocess.run(["kubectl", "get", "nodes"], capture_output=True, text=True, check=False)
    assert result.returncode == 0, (
        f"no cluster answers (KUBECONFIG={os.environ.get('KUBECONFIG', '')}): {result.stderr.strip()};"
        " make cluster, then make k8s-e2e"
    )


@contextmanager
def helper_pod(app: str, mount_images: bool = False) -> Iterator[str]:
    """A sleeping pod of the kubeface image, labelled app.kubernetes.io/name=`app`, ready; its
    name. With `mount_images`, the images volume read-write at /data/images (the app pods mount
    it read-only). Deleted on the way out."""
    name = f"{app}-{uuid.uuid4().hex[:6]}"
    kubectl("apply", "-f", "-", stdin=_helper_pod_manifest(name, app, mount_images).encode())
    try:
        kubectl("wait", "--for=condition=ready", f"pod/{name}", "--timeout=300s")
        yield name
    finally:
        kubectl("delete", "pod", name, "--wait=false")


def _helper_pod_manifest(name: str, app: str, mount_images: bool) -> str:
    image = kubectl_json("get", "deployment", "receiver")["spec"]["template"]["spec"]["containers"][0][
        "image"
    ]
    mounts = "volumeMounts: [{name: images, mountPath: /data/images}]" if mount_images else "volumeMounts: []"
    volumes = (
        "volumes: [{name: images, persistentVolumeClaim: {claimName: kubeface-images}}]"
        if mount_images
        else "volumes: []"
    )
    return f"""
apiVersion: v1
kind: Pod
metadata: {{name: {name}, labels: {{app.kubernetes.io/name: {app}}}}}
spec:
  automountServiceAccountToken: false
  restartPolicy: Never
  terminationGracePeriodSeconds: 1
  securityContext:
    runAsNonRoot: true
    runAsUser: 10001
    runAsGroup: 10001
    fsGroup: 10001
    seccompProfile: {{type: RuntimeDefault}}
  containers:
    - name: helper
      image: {image}
      imagePullPolicy: IfNotPresent
      command: ["sleep", "600"]
      resources: {{requests: {{cpu: 10m, memory: 32Mi}}, limits: {{cpu: 500m, memory: 128Mi}}}}
      securityContext:
        {{allowPrivilegeEscalation: false, readOnlyRootFilesystem: true, capabilities: {{drop: [ALL]}}}}
      {mounts}
  {volumes}
"""
