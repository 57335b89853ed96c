"""overlays/local deploys, unchanged, on a bare one-node cluster with two cores (`make cluster`):
no registry, no KEDA, no ingress controller, no provisioner beyond a default StorageClass.
`make k8s-e2e` (tests/k8s_e2e) applies it for real; these checks need no cluster."""

from __future__ import annotations

from tests.k8s.render import documents, objects, pod_templates

OVERLAY = "local"
# What `kubectl apply` accepts on a cluster that has only Kubernetes' own APIs.
BUILT_IN_GROUPS = {"", "apps", "batch", "policy", "networking.k8s.io", "storage.k8s.io"}
# The images made on the machine: `make image` and `make cluster-images`.
LOCAL_IMAGES = {"localhost/kubeface:dev", "localhost/mariadb:10.11", "localhost/nsq:v1.3.0"}
NODE_MILLICORES = 2000
PROCESSORS_UNDER_LOAD = 3  # what the e2e scales the processor to


def _millicores(quantity: str) -> int:
    return int(quantity[:-1]) if quantity.endswith("m") else int(float(quantity) * 1000)


def _cpu_request(template: dict) -> int:
    return sum(_millicores(c["resources"]["requests"]["cpu"]) for c in template["spec"]["containers"])


def test_it_needs_only_kubernetes_own_apis() -> None:
    """No KEDA ScaledObject (its CRD is missing on a bare cluster: the apply would fail)."""
    for doc in documents(OVERLAY):
        group = doc["apiVersion"].rpartition("/")[0]
        assert group in BUILT_IN_GROUPS, f"{doc['kind']}/{doc['metadata']['name']} needs {doc['apiVersion']}"
    assert not objects(OVERLAY, "ScaledObject")


def test_every_container_runs_an_image_built_here_and_never_pulls() -> None:
    for where, template in pod_templates(OVERLAY):
        for c in template["spec"].get("initContainers", []) + template["spec"]["containers"]:
            assert c["image"] in LOCAL_IMAGES, f"{where}: {c['image']} is not built on the machine"
            assert c["imagePullPolicy"] == "Never", where


def test_claims_bind_to_the_default_storage_class_on_one_node() -> None:
    claims = list(objects(OVERLAY, "PersistentVolumeClaim").values())
    claims += [
        claim
        for sts in objects(OVERLAY, "StatefulSet").values()
        for claim in sts["spec"].get("volumeClaimTemplates", [])
    ]
    assert claims
    for claim in claims:
        assert "storageClassName" not in claim["spec"], claim["metadata"]["name"]
        assert claim["spec"]["accessModes"] == ["ReadWriteOnce"], claim["metadata"]["name"]


def test_every_pod_a_rollout_surge_and_the_scaled_processors_fit_two_cores() -> None:
    """Otherwise a rollout (maxUnavailable 0) waits for ever on a pod that cannot be scheduled."""
    running = {}
    for where, template in pod_templates(OVERLAY):
        kind, name = where.split("/")
        replicas = objects(OVERLAY, kind)[name]["spec"].get("replicas", 1) if kind != "CronJob" else 1
        running[where] = (_cpu_request(template), replicas)
    steady = sum(cpu * replicas for cpu, replicas in running.values())
    biggest_surge = max(cpu for where, (cpu, _) in running.items() if where.startswith("Deployment/"))
    more_processors = (PROCESSORS_UNDER_LOAD - 1) * running["Deployment/processor"][0]
    assert steady + biggest_surge + more_processors <= NODE_MILLICORES * 0.8, running


def test_one_replica_of_each_app_service() -> None:
    for name, deployment in objects(OVERLAY, "Deployment").items():
        assert deployment["spec"].get("replicas", 1) == 1, name


def test_a_rollout_of_nsqd_leaves_one_taking_publishes() -> None:
    """The StatefulSet restarts one pod at a time; with one replica, posts would get 503 meanwhile."""
    assert objects(OVERLAY, "StatefulSet")["nsqd"]["spec"]["replicas"] >= 2
