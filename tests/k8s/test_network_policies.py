"""The production NetworkPolicies (components/network-policies), evaluated on the rendered
manifests: which connections each pod may open, and which it may accept.

A connection is (client, server, port, protocol); pods are named by app.kubernetes.io/name and
named ports are resolved on the server's containers, as a CNI does.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterator

import pytest

from tests.k8s.render import named_ports, objects, pods, selects, settings

OVERLAY = "production"
DNS = "kube-system/kube-dns"
MYSQL = "mysql"  # the external server, wherever its ipBlock points

# A consumer of the outcome stream finds nsqd through nsqlookupd and reads it over TCP.
OUTCOME_STREAM = {("nsqlookupd", "http"), ("nsqd", "tcp")}
# What each pod connects to (besides DNS): the code's clients, by their settings.
NEEDS = {
    "receiver": {
        (MYSQL, "mysql"),
        ("nsqd", "http"),
        ("recognizer", "grpc"),
        *OUTCOME_STREAM,  # ?wait and /events
    },
    "processor": {
        (MYSQL, "mysql"),
        ("nsqlookupd", "http"),
        ("nsqd", "tcp"),
        ("nsqd", "http"),  # publishes outcomes
        ("recognizer", "grpc"),
    },
    "recognizer": {(MYSQL, "mysql")},
    "frontend": {
        (MYSQL, "mysql"),
        ("receiver", "http"),  # operator actions
        ("nsqd", "http"),  # /stats
        ("processor", "metrics"),
        ("recognizer", "metrics"),
        *OUTCOME_STREAM,  # live pages
    },
    "retry": {(MYSQL, "mysql"), ("nsqd", "http")},
    "cluster": {(MYSQL, "mysql")},
    "migrate": {(MYSQL, "mysql")},
    "nsqd": {("nsqlookupd", "tcp")},
    "nsqlookupd": set(),
}
# Who, outside the namespace, connects to which pod and port.
FROM_OUTSIDE = {
    ("ingress-nginx", "receiver", "http"),
    ("ingress-nginx", "frontend", "http"),
    *(("monitoring", app, "http") for app in ("receiver", "frontend")),
    *(("monitoring", app, "metrics") for app in ("processor", "recognizer", "cluster")),
    ("keda", "nsqd", "http"),
    ("keda", "nsqlookupd", "http"),
}
# They decode untrusted images (dlib, Pillow): a compromise there must not reach the Internet.
PARSE_UNTRUSTED_IMAGES = ("recognizer", "frontend")


def policies() -> list[dict]:
    return list(objects(OVERLAY, "NetworkPolicy").values())


def applying(app: str, direction: str) -> list[dict]:
    """The policies that select the pod and restrict `direction` (Ingress or Egress)."""
    labels = pods(OVERLAY)[app]["metadata"]["labels"]
    return [
        p["spec"]
        for p in policies()
        if selects(p["spec"]["podSelector"], labels) and direction in p["spec"]["policyTypes"]
    ]


def peers(rule_peers: list[dict] | None) -> Iterator[str]:
    """Each peer as a pod name, `namespace/k8s-app` for another namespace's pods, `namespace`
    for a whole namespace, a CIDR for an ipBlock, or `anywhere` when the rule names none."""
    if not rule_peers:
        yield "anywhere"
        return
    for peer in rule_peers:
        if "ipBlock" in peer:
            assert not peer["ipBlock"].get("except"), "keep ipBlocks plain"
            yield peer["ipBlock"]["cidr"]
        elif "namespaceSelector" in peer:
            namespace = (
                peer["namespaceSelector"].get("matchLabels", {}).get("kubernetes.io/metadata.name", "*")
            )
            pod = peer.get("podSelector", {}).get("matchLabels", {}).get("k8s-app")
            yield f"{namespace}/{pod}" if pod else namespace
        else:
            yield from (
                app
                for app, t in pods(OVERLAY).items()
                if selects(peer["podSelector"], t["metadata"]["labels"])
            )


def port_of(server: str, port: int | str) -> int | None:
    """A port number; a named one as the server's containers name it (None: no such port there)."""
    if isinstance(port, int):
        return port
    if server in pods(OVERLAY):
        return named_ports(pods(OVERLAY)[server]).get(port)
    return settings(OVERLAY).mysql_port if (server, port) == (MYSQL, "mysql") else None


def is_address(server: str) -> bool:
    try:
        ipaddress.ip_network(server)
    except ValueError:
        return False
    return True


def egress(app: str) -> set[tuple[str, int, str]]:
    """(server, port, protocol) that the pod may connect to; port 0: any port."""
    allowed = set()
    for spec in applying(app, "Egress"):
        for rule in spec.get("egress", []):
            for server in peers(rule.get("to")):
                for port in rule.get("ports") or [{"port": 0}]:
                    number = port_of(server, port["port"])
                    if number is not None:  # a port the server lacks allows nothing
                        allowed.add((server, number, port.get("protocol", "TCP")))
    return allowed


def ingress(app: str) -> set[tuple[str, int, str]]:
    """(client, port, protocol) that the pod accepts; port 0: any port."""
    allowed = set()
    for spec in applying(app, "Ingress"):
        for rule in spec.get("ingress", []):
            for client in peers(rule.get("from")):
                for port in rule.get("ports") or [{"port": 0}]:
                    number = port_of(app, port["port"])
                    if number is not None:
                        allowed.add((client, number, port.get("protocol", "TCP")))
    return allowed


def mysql_addresses() -> set[str]:
    """The ipBlocks that pods may reach on MySQL's port: where the external server is."""
    return {
        server
        for app in pods(OVERLAY)
        for server, port, _ in egress(app)
        if is_address(server) and port == settings(OVERLAY).mysql_port
    }


def test_only_production_has_network_policies() -> None:
    assert not objects("local", "NetworkPolicy"), "the component is opt-in"
    assert "allow-mysql-clients" not in objects(OVERLAY, "NetworkPolicy")  # MySQL is external


def test_every_pod_is_denied_everything_not_listed() -> None:
    for app in pods(OVERLAY):
        assert applying(app, "Ingress") and applying(app, "Egress"), f"{app}: traffic is open by default"


@pytest.mark.parametrize("app", sorted(NEEDS))
def test_each_pod_reaches_dns_and_only_the_services_it_uses(app: str) -> None:
    assert set(pods(OVERLAY)) == set(NEEDS), "a new workload needs its egress listed here"
    (address,) = mysql_addresses()
    found = {
        (MYSQL if server == address else server, port, protocol) for server, port, protocol in egress(app)
    }
    expected = {(server, port_of(server, port), "TCP") for server, port in NEEDS[app]}
    assert found == expected | {(DNS, 53, "UDP"), (DNS, 53, "TCP")}


@pytest.mark.parametrize("app", PARSE_UNTRUSTED_IMAGES)
def test_pods_that_parse_untrusted_images_cannot_reach_the_internet(app: str) -> None:
    for server, port, _ in egress(app):
        if server in pods(OVERLAY) or server == DNS:
            continue
        assert is_address(server) and port != 0, f"{app} may connect to {server} on {port or 'any port'}"
        assert not ipaddress.ip_network(server).is_global, f"{app} reaches Internet addresses {server}"


def test_every_connection_is_allowed_at_both_ends() -> None:
    apps = pods(OVERLAY)
    sent = {
        (app, server, port, proto) for app in apps for server, port, proto in egress(app) if server in apps
    }
    accepted = {(client, app, port, p) for app in apps for client, port, p in ingress(app) if client in apps}
    assert sent == accepted, f"egress only: {sent - accepted}; ingress only: {accepted - sent}"


def test_only_the_ingress_controller_prometheus_and_keda_connect_from_outside() -> None:
    apps = pods(OVERLAY)
    found = {(client, app, port) for app in apps for client, port, _ in ingress(app) if client not in apps}
    assert found == {(client, app, port_of(app, port)) for client, app, port in FROM_OUTSIDE}
