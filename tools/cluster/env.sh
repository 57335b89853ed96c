# Settings shared by the one-node cluster's scripts (sourced, not run): one home for every
# path, address and version they agree on. Only one such cluster can run on a machine at a
# time: it binds fixed ports (6443, 2379, 10250...) and owns the bridge below.
K8S_VERSION=v1.31.4
REPO=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
# The binaries, built once per version by build.sh (kept by `make cluster-down`).
K8S_BIN=$REPO/.cache/kubernetes-$K8S_VERSION
# Everything the running node owns: certificates, configs, PIDs, logs, etcd, containerd,
# kubelet and volume data. `make cluster-down` removes it all.
STATE=$REPO/.state/cluster
PIDS=$STATE/pids
LOGS=$STATE/logs
export KUBECONFIG=$STATE/admin.kubeconfig
CONTAINERD_SOCK=$STATE/containerd/containerd.sock
NODE_NAME=kubeface
# A /24 on one bridge: enough for one node's pods; the bridge's own address is their gateway.
POD_CIDR=10.244.0.0/24
BRIDGE=kubeface0
BRIDGE_IP=10.244.0.1
CNI_NETWORK=kubeface-pods
SERVICE_CIDR=10.96.0.0/16
SERVICE_API_IP=10.96.0.1
# The kube-dns Service (coredns.yaml): the kubelet's clusterDNS.
DNS_IP=10.96.0.10
# The pause image every pod sandbox starts from: built here (no registry has it for us).
PAUSE_IMAGE=localhost/pause:3.10
COREDNS_IMAGE=localhost/coredns:1.11.3
PATH=$K8S_BIN:/usr/sbin:/sbin:$PATH

# The address the node is known by: the source address of the default route.
node_ip() { ip -4 route get 1.1.1.1 | sed -n 's/.* src \([0-9.]*\).*/\1/p'; }

# Whether the process recorded under PIDS/NAME.pid is alive.
running() { local f=$PIDS/$1.pid; [[ -f $f ]] && kill -0 "$(cat "$f")" 2>/dev/null; }

# Poll until the command succeeds, for at most $1 seconds.
wait_for() {
    local secs=$1 what=$2; shift 2
    for ((i = 0; i < secs * 2; i++)); do "$@" >/dev/null 2>&1 && return 0; sleep 0.5; done
    echo "timed out after ${secs}s waiting for $what (logs: $LOGS)" >&2
    return 1
}
