"""The project's NetworkPolicies (k8s/components/network-policies) on a real cluster whose network
plugin enforces them (`make cluster`: kube-router's policy controller), applied over the running
local overlay as overlays/local-policies:
- the mesh still works: an enrolment reaches the recognizer, a posted photo ends PROCESSED as the
  right person (receiver, nsqd, nsqlookupd, processor, recognizer, MySQL, DNS);
- connections the policies do not list are refused: from a pod without an allowed label to
  MySQL and to the recognizer's gRPC, and from the frontend (it parses untrusted images) to the
  recognizer, while the nsqd ports it is allowed (TCP to read the outcome stream, HTTP) answer.

The test client runs on the node, as in test_rollout.py: kube-router lets a node reach its own
pods (kubelet probes need it), so the policies' ingress rules do not stop it.
Afterwards the NetworkPolicies are deleted, so the other e2e tests run as before.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.k8s_e2e.conftest import OVERLAY, REPO, recognised_as
from tests.k8s_e2e.kube import helper_pod, kubectl, rollout_restart, wait_for

pytestmark = [pytest.mark.k8s_e2e, pytest.mark.timeout(1800)]

POLICY_OVERLAY = OVERLAY.parent / "local-policies"
POLICIES = REPO / "k8s" / "components" / "network-policies" / "network-policies.yaml"
# The clients of the mesh: restarted once the policies are in, so that every connection they
# hold is opened under the policies (an established connection outlives a new policy).
CLIENTS = ["deployment/receiver", "deployment/processor", "deployment/recognizer", "deployment/frontend"]
CONNECT_TIMEOUT_SECONDS = 5
# Run in a pod: one TCP connect, bounded; prints "open" or why not.
CONNECT = """
import socket, sys
try:
    socket.create_connection((sys.argv[1], int(sys.argv[2])), timeout=float(sys.argv[3])).close()
    print("open")
except OSError as exc:
    print(f"not open: {type(exc).__name__}: {exc}")
"""


@pytest.fixture(scope="module")
def policies(deployed) -> Iterator[None]:
    """overlays/local-policies applied over the running local overlay, the clients restarted;
    the NetworkPolicies deleted afterwards."""
    kubectl("apply", "-k", str(POLICY_OVERLAY))
    try:
        for workload in CLIENTS:
            rollout_restart(workload)
        yield
    finally:
        kubectl("delete", "-f", str(POLICIES), "--ignore-not-found")


def connect(pod: str, host: str, port: int) -> str:
    """What a TCP connect from `pod` to host:port gives: "open", or the error."""
    return kubectl(
        "exec", pod, "--", "python", "-c", CONNECT, host, str(port), str(CONNECT_TIMEOUT_SECONDS), timeout=60
    ).strip()


def refused(outcome: str) -> bool:
    """Dropped or rejected by the network, not a name that did not resolve (DNS stays allowed)."""
    return outcome.startswith("not open") and "gaierror" not in outcome


def test_the_mesh_works_under_its_network_policies(policies, api, sql, pool, enrolled) -> None:
    # Enrolment: the receiver asks the recognizer to encode one more photo of Obama.
    (person,) = sql("SELECT id FROM person WHERE name = %s", (enrolled["obama"],))
    added = api.post(f"/person/{person['id']}/photos", json={"paths": [pool.fresh()]})
    assert added.status_code == 201, added.text

    # A post: receiver -> nsqd -> processor (found through nsqlookupd) -> recognizer -> MySQL.
    # The restarted recognizer loads the enrolments first: until then a photo ends PENDING.
    def obama_recognised() -> bool:
        return recognised_as(api, sql, pool.fresh()) == ("PROCESSED", enrolled["obama"])

    wait_for(obama_recognised, 300, "a photo of Obama recognised under the policies", interval=1)


def test_connections_the_policies_do_not_list_are_refused(policies) -> None:
    with helper_pod("netpol-stranger") as stranger:  # a label no policy allows anything to
        outcomes = {
            "stranger -> mysql:3306": connect(stranger, "mysql", 3306),
            "stranger -> recognizer-headless:50051": connect(stranger, "recognizer-headless", 50051),
        }
    frontend = "deployment/frontend"
    outcomes["frontend -> recognizer-headless:50051"] = connect(frontend, "recognizer-headless", 50051)
    print(outcomes)  # noqa: T201 - how each was refused, for the report (pytest -rP)
    assert {name: o for name, o in outcomes.items() if not refused(o)} == {}
    # The same client on a port its policies list does connect: the refusals are the policies'.
    assert connect(frontend, "nsqd", 4151) == "open"
    assert connect(frontend, "nsqd", 4150) == "open"  # the outcome stream (Server-Sent Events)
