#!/usr/bin/env bash
# The one-node cluster's own check, run by hand (as root), never by `make test` or CI: it takes
# minutes, needs root, and changes the host's network (a bridge, iptables rules, ipsets).
#   1. make cluster; the node is Ready;
#   2. a pod resolves a Service's name through the cluster DNS and reaches another pod through
#      that Service's ClusterIP (the server: nsqd's HTTP /ping, from localhost/nsq; the client:
#      bash's /dev/tcp in localhost/debian:bookworm; both loaded with load-image.sh);
#   3. a second `make cluster` changes nothing that runs;
#   3b. a NetworkPolicy lets an allowed pod in and refuses another (kube-router enforces it);
#   4. make cluster-down leaves no process, mount, bridge, network namespace or KUBE-*/CNI-*
#      chain of the cluster;
#   5. make cluster again, and step 2 again. The cluster is left running.
# Usage: tools/cluster/check.sh          (needs `make cluster-images` once, for localhost/nsq)
#        tools/cluster/check.sh --live   steps 2 and 3b only, on the running cluster (no down/up:
#                                        for when others are using it)
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
# shellcheck source=env.sh
source "$here/env.sh"
fail() { echo "CHECK FAILED: $*" >&2; exit 1; }

server() { # server NS: nsqd's HTTP /ping behind the Service `echo` (port 80), ready
    kubectl -n "$1" apply -f - >/dev/null <<'YAML'
apiVersion: v1
kind: Pod
metadata: {name: server, labels: {app: server}}
spec:
  containers:
    - name: nsqd
      image: localhost/nsq:v1.3.0
      imagePullPolicy: Never
      command: [/nsqd, -data-path=/tmp, -http-address=0.0.0.0:4151]
      readinessProbe: {httpGet: {path: /ping, port: 4151}, periodSeconds: 1}
---
apiVersion: v1
kind: Service
metadata: {name: echo}
spec:
  selector: {app: server}
  ports: [{port: 80, targetPort: 4151}]
YAML
    kubectl -n "$1" wait --for=condition=Ready pod/server --timeout=120s >/dev/null
}

service_round_trip() { # a client pod reaches a server pod by Service name (DNS + ClusterIP)
    local ns=cluster-check-$RANDOM
    "$here/load-image.sh" localhost/nsq:v1.3.0 localhost/debian:bookworm >/dev/null
    kubectl create namespace "$ns" >/dev/null
    server "$ns"
    kubectl -n "$ns" apply -f - >/dev/null <<'YAML'
apiVersion: v1
kind: Pod
metadata: {name: client}
spec:
  restartPolicy: Never
  containers:
    - name: client
      image: localhost/debian:bookworm
      imagePullPolicy: Never
      # The short name goes through the pod's search path to the cluster DNS, then to the
      # ClusterIP, which kube-proxy's rules send to the server pod.
      command:
        - bash
        - -c
        - |
          set -e
          getent hosts echo
          for _ in $(seq 60); do
            timeout 3 bash -c 'exec 3<>/dev/tcp/echo/80
              printf "GET /ping HTTP/1.0\r\nHost: echo\r\n\r\n" >&3
              tail -1 <&3' && exit 0
            sleep 1
          done
          exit 1
YAML
    kubectl -n "$ns" wait --for=jsonpath='{.status.phase}'=Succeeded pod/client --timeout=120s >/dev/null ||
        { kubectl -n "$ns" describe pod client | tail -20; kubectl -n "$ns" logs client || true; fail "client pod did not succeed"; }
    local out clusterip
    out=$(kubectl -n "$ns" logs client)
    clusterip=$(kubectl -n "$ns" get service echo -o 'jsonpath={.spec.clusterIP}')
    echo "$out"
    grep -q "^$clusterip .*echo.$ns.svc.cluster.local" <<<"$out" || fail "DNS did not give the Service's ClusterIP $clusterip"
    [[ $(tail -1 <<<"$out") == OK ]] || fail "no OK from the server through the Service"
    kubectl delete namespace "$ns" --wait=false >/dev/null
    echo "ok: DNS name -> ClusterIP $clusterip -> pod"
}

network_policies() { # kube-router refuses what a NetworkPolicy does not allow, and lets the rest in
    local ns=cluster-policy-$RANDOM
    kubectl create namespace "$ns" >/dev/null
    server "$ns"
    kubectl -n "$ns" apply -f - >/dev/null <<'YAML'
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: {name: default-deny}
spec: {podSelector: {}, policyTypes: [Ingress]}
---
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: {name: allow-client}
spec:
  podSelector: {matchLabels: {app: server}}
  ingress: [{from: [{podSelector: {matchLabels: {role: client}}}]}]
YAML
    reaches "$ns" allowed client || fail "a pod the policy allows was refused"
    ! reaches "$ns" denied other || fail "a pod no policy allows got through: policies not enforced"
    kubectl delete namespace "$ns" --wait=false >/dev/null
    echo "ok: NetworkPolicy enforced (allowed pod reached the server, another pod was refused)"
}

reaches() { # reaches NS POD ROLE: whether a pod labelled role=ROLE gets /ping through the Service
    kubectl -n "$1" run "$2" --image=localhost/debian:bookworm --image-pull-policy=Never --restart=Never \
        -l "role=$3" --command -- bash -c 'for _ in 1 2 3 4 5; do timeout 2 bash -c "exec 3<>/dev/tcp/echo/80
            printf \"GET /ping HTTP/1.0\r\n\r\n\" >&3; tail -1 <&3" && exit 0; sleep 1; done; exit 1' >/dev/null
    kubectl -n "$1" wait --for=jsonpath='{.status.phase}'=Succeeded "pod/$2" --timeout=60s >/dev/null 2>&1
}

leftovers() { # whatever of the cluster survives cluster-down
    pgrep -af -- "$STATE" || true
    findmnt -rn -o TARGET | grep -F "$STATE" || true
    ip -br link show "$BRIDGE" 2>/dev/null || true
    ls /run/netns 2>/dev/null | grep '^cni-' || true
    ipset list -n 2>/dev/null | grep -i kube || true
    for ipt in iptables ip6tables; do
        for t in filter nat mangle raw; do
            $ipt -t "$t" -S | grep -E -- "^-N KUBE-|\"$CNI_NETWORK\"" | sed "s/^/$ipt $t: /" || true
        done
    done
}

if [[ ${1:-} == --live ]]; then
    service_round_trip
    network_policies
    echo "CHECK PASSED (live)"
    exit 0
fi

t0=$SECONDS
make -C "$REPO" --no-print-directory cluster
echo "== up in $((SECONDS - t0)) s"
kubectl get nodes -o wide
service_round_trip

pids_before=$(cat "$PIDS"/*.pid | sort)
make -C "$REPO" --no-print-directory cluster >/dev/null
[[ $(cat "$PIDS"/*.pid | sort) == "$pids_before" ]] || fail "a second make cluster restarted processes"
kubectl wait --for=condition=Ready "node/$NODE_NAME" --timeout=10s >/dev/null
echo "ok: a second make cluster kept every process"
network_policies

# Resident memory of the cluster's processes (the containers' processes not included).
ps -o rss= -p "$(cat "$PIDS"/*.pid | paste -sd,)" | awk '{s += $1} END {printf "cluster processes: %d MiB resident\n", s / 1024}'
t0=$SECONDS
make -C "$REPO" --no-print-directory cluster-down
echo "== down in $((SECONDS - t0)) s"
left=$(leftovers)
[[ -z $left ]] || fail "left behind after cluster-down:
$left"
echo "ok: nothing of the cluster left"

t0=$SECONDS
make -C "$REPO" --no-print-directory cluster
echo "== up again in $((SECONDS - t0)) s"
service_round_trip
echo "CHECK PASSED (the cluster is running: make cluster-down removes it)"
