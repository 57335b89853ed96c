#!/usr/bin/env bash
# Bring up a one-node Kubernetes on this machine (`make cluster`) and print its KUBECONFIG.
# Every process runs on the host, recorded by PID in .state/cluster/pids; pods run in Debian's
# containerd on a CNI bridge, Services through kube-proxy's iptables rules, NetworkPolicies
# through kube-router's policy controller, DNS from a CoreDNS pod (kube-dns, 10.96.0.10).
# Running it again starts only what is not running, so it never breaks a running node; it also
# returns released volumes to the pool (see storage.sh).
# Why each setting: the machine notes, shared/notes/kubernetes-on-this-machine.md (measured here).
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
# shellcheck source=env.sh
source "$here/env.sh"
[[ $(id -u) == 0 ]] || { echo "make cluster needs root (containerd, iptables, bridges)" >&2; exit 1; }
started=$SECONDS

# --- What it needs ----------------------------------------------------------------------------
need=()
for pkg in containerd runc etcd-server containernetworking-plugins conntrack iptables podman gcc libc6-dev openssl; do
    dpkg -s "$pkg" >/dev/null 2>&1 || need+=("$pkg")
done
((${#need[@]} == 0)) || "$REPO/tools/apt-install.sh" "${need[@]}"
"$here/build.sh" "$K8S_BIN" >/dev/null

# Another cluster (another checkout's) holds the fixed ports: say so rather than half-start.
if ! running kube-apiserver && ss -Hltn 'sport = :6443' | grep -q .; then
    echo "port 6443 is taken: is a cluster from another checkout running? (make cluster-down there)" >&2
    exit 1
fi
mkdir -p "$STATE"/{pki,pids,logs,cni/net.d,cni/ipam,containerd,kubelet,etcd,pv}
chmod 700 "$STATE" "$STATE/pki"

# Packets between pods and Services are routed through the host. cluster-down leaves it on:
# podman's networks turn it on too, and turning it off under a running build would cut it off.
sysctl -qw net.ipv4.ip_forward=1

start() { # start NAME COMMAND...: unless already running; its own session, so a Ctrl-C of a
    # later make does not reach it.
    local name=$1; shift
    running "$name" && return 0
    setsid "$@" >>"$LOGS/$name.log" 2>&1 </dev/null &
    echo $! >"$PIDS/$name.pid"
    sleep 0.3
    running "$name" || { echo "$name exited at once:" >&2; tail -20 "$LOGS/$name.log" >&2; exit 1; }
    echo "started $name (pid $(cat "$PIDS/$name.pid"))"
}

write() { # write FILE < CONTENT: only when the content differs. kube-proxy exits when its
    # config file is rewritten, even with the same content, so a second run must not touch it.
    local tmp; tmp=$(mktemp)
    cat >"$tmp"
    if cmp -s "$tmp" "$1"; then rm -f "$tmp"; else mv "$tmp" "$1" && chmod 644 "$1"; fi
}

# --- Certificates and kubeconfigs (openssl; made once) ----------------------------------------
NODE_IP=$(node_ip)
"$here/pki.sh" "$STATE/pki" "$NODE_IP"
kubeconfig() { # kubeconfig FILE CERT-NAME: a client config for the component with that cert
    [[ -f $1 ]] && return 0
    local k=(kubectl --kubeconfig "$1")
    "${k[@]}" config set-cluster kubeface --server="https://$NODE_IP:6443" \
        --certificate-authority="$STATE/pki/ca.crt" --embed-certs=true >/dev/null
    "${k[@]}" config set-credentials "$2" --client-certificate="$STATE/pki/$2.crt" \
        --client-key="$STATE/pki/$2.key" --embed-certs=true >/dev/null
    "${k[@]}" config set-context default --cluster=kubeface --user="$2" >/dev/null
    "${k[@]}" config use-context default >/dev/null
    chmod 600 "$1"
}
for c in admin kube-controller-manager kube-scheduler kubelet kube-proxy; do
    kubeconfig "$STATE/$c.kubeconfig" "$c"
done

# --- Control plane ------------------------------------------------------------------------------
start etcd etcd --name=kubeface --data-dir="$STATE/etcd" \
    --listen-client-urls=http://127.0.0.1:2379 --advertise-client-urls=http://127.0.0.1:2379 \
    --listen-peer-urls=http://127.0.0.1:2380 --initial-advertise-peer-urls=http://127.0.0.1:2380 \
    --initial-cluster=kubeface=http://127.0.0.1:2380 --listen-metrics-urls=http://127.0.0.1:2381
wait_for 30 etcd curl -sf http://127.0.0.1:2379/health
pki=$STATE/pki
start kube-apiserver kube-apiserver --etcd-servers=http://127.0.0.1:2379 \
    --advertise-address="$NODE_IP" --secure-port=6443 --allow-privileged=true \
    --service-cluster-ip-range="$SERVICE_CIDR" --service-node-port-range=30000-32767 \
    --authorization-mode=Node,RBAC --enable-admission-plugins=NodeRestriction \
    --client-ca-file="$pki/ca.crt" --tls-cert-file="$pki/apiserver.crt" --tls-private-key-file="$pki/apiserver.key" \
    --kubelet-client-certificate="$pki/apiserver-kubelet-client.crt" --kubelet-client-key="$pki/apiserver-kubelet-client.key" \
    --service-account-issuer=https://kubernetes.default.svc.cluster.local \
    --service-account-key-file="$pki/sa.pub" --service-account-signing-key-file="$pki/sa.key" \
    --kubelet-preferred-address-types=InternalIP,Hostname
wait_for 60 kube-apiserver kubectl get --raw /readyz
# One instance of each: nothing to elect, and a lease would only slow a restart.
start kube-controller-manager kube-controller-manager --kubeconfig="$STATE/kube-controller-manager.kubeconfig" \
    --authentication-kubeconfig="$STATE/kube-controller-manager.kubeconfig" \
    --authorization-kubeconfig="$STATE/kube-controller-manager.kubeconfig" \
    --leader-elect=false --bind-address=127.0.0.1 --use-service-account-credentials=true \
    --service-account-private-key-file="$pki/sa.key" --root-ca-file="$pki/ca.crt" \
    --cluster-signing-cert-file="$pki/ca.crt" --cluster-signing-key-file="$pki/ca.key" \
    --service-cluster-ip-range="$SERVICE_CIDR"
start kube-scheduler kube-scheduler --kubeconfig="$STATE/kube-scheduler.kubeconfig" \
    --authentication-kubeconfig="$STATE/kube-scheduler.kubeconfig" \
    --authorization-kubeconfig="$STATE/kube-scheduler.kubeconfig" \
    --leader-elect=false --bind-address=127.0.0.1

# --- Pod network --------------------------------------------------------------------------------
# The bridge is made here rather than by the CNI plugin on the first pod, so that it exists with
# its gateway address from the start. The plugin adopts it (same name, same address).
if ! ip link show "$BRIDGE" >/dev/null 2>&1; then
    ip link add "$BRIDGE" type bridge
    ip addr add "$BRIDGE_IP/${POD_CIDR#*/}" dev "$BRIDGE"
fi
ip link set "$BRIDGE" up
# No ipMasq: pods need not leave the machine, and without it the plugin adds no CNI-* chains.
# hairpinMode lets a pod reach itself through its own Service.
write "$STATE/cni/net.d/10-kubeface.conflist" <<EOF
{"cniVersion": "1.0.0", "name": "$CNI_NETWORK", "plugins": [
  {"type": "bridge", "bridge": "$BRIDGE", "isGateway": true, "ipMasq": false, "hairpinMode": true,
   "ipam": {"type": "host-local", "dataDir": "$STATE/cni/ipam", "ranges": [[{"subnet": "$POD_CIDR", "gateway": "$BRIDGE_IP"}]],
            "routes": [{"dst": "0.0.0.0/0"}]}},
  {"type": "loopback"}
]}
EOF

# --- containerd ---------------------------------------------------------------------------------
# A private instance (own root, state and socket), so that nothing else on the machine is
# touched and cluster-down can remove all of it.
# restrict_oom_score_adj: without it every sandbox fails ("can't get final child's PID from
# pipe: EOF"): it asks for oom_score_adj -998, which needs CAP_SYS_RESOURCE, absent here.
write "$STATE/containerd/config.toml" <<EOF
version = 2
root = "$STATE/containerd/root"
state = "$STATE/containerd/state"
[grpc]
  address = "$CONTAINERD_SOCK"
[plugins."io.containerd.grpc.v1.cri"]
  sandbox_image = "$PAUSE_IMAGE"
  restrict_oom_score_adj = true
  [plugins."io.containerd.grpc.v1.cri".cni]
    bin_dir = "/usr/lib/cni"
    conf_dir = "$STATE/cni/net.d"
  [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc]
    runtime_type = "io.containerd.runc.v2"
EOF
start containerd containerd --config "$STATE/containerd/config.toml"
wait_for 30 containerd ctr --address "$CONTAINERD_SOCK" version
"$here/node-images.sh"

# --- kubelet ------------------------------------------------------------------------------------
# cgroupfs without per-QoS cgroups or node-allocatable enforcement: the hybrid cgroup v1/v2
# host refuses the rest. localStorageCapacityIsolation stays true (with false, pods that ask
# for ephemeral-storage stay Pending). Eviction and image GC thresholds are out of reach: an
# image imported here cannot be pulled back, and a full disk is the operator's to see.
write "$STATE/kubelet/config.yaml" <<EOF
apiVersion: kubelet.config.k8s.io/v1beta1
kind: KubeletConfiguration
containerRuntimeEndpoint: unix://$CONTAINERD_SOCK
cgroupDriver: cgroupfs
cgroupsPerQOS: false
enforceNodeAllocatable: []
localStorageCapacityIsolation: true
failSwapOn: false
clusterDNS: ["$DNS_IP"]
clusterDomain: cluster.local
resolvConf: /etc/resolv.conf
authentication:
  anonymous: {enabled: false}
  webhook: {enabled: true}
  x509: {clientCAFile: $pki/ca.crt}
authorization: {mode: Webhook}
tlsCertFile: $pki/kubelet-server.crt
tlsPrivateKeyFile: $pki/kubelet-server.key
readOnlyPort: 0
# Container logs stay in the state folder (the default, /var/log/pods, would outlive cluster-down).
podLogsDir: $STATE/kubelet/pod-logs
healthzBindAddress: 127.0.0.1
evictionHard: {memory.available: 100Mi, nodefs.available: 1%, imagefs.available: 1%}
imageGCHighThresholdPercent: 100
imageGCLowThresholdPercent: 99
EOF
start kubelet kubelet --config="$STATE/kubelet/config.yaml" --kubeconfig="$STATE/kubelet.kubeconfig" \
    --root-dir="$STATE/kubelet/root" --hostname-override="$NODE_NAME" --node-ip="$NODE_IP"
wait_for 120 "node $NODE_NAME Ready" kubectl wait --for=condition=Ready "node/$NODE_NAME" --timeout=1s

# --- Services -----------------------------------------------------------------------------------
# conntrack settings 0: leave the host's conntrack table size and timeouts as they are.
write "$STATE/kube-proxy.yaml" <<EOF
apiVersion: kubeproxy.config.k8s.io/v1alpha1
kind: KubeProxyConfiguration
clientConnection: {kubeconfig: $STATE/kube-proxy.kubeconfig}
mode: iptables
clusterCIDR: $POD_CIDR
hostnameOverride: $NODE_NAME
metricsBindAddress: 127.0.0.1:10249
healthzBindAddress: 127.0.0.1:10256
conntrack: {maxPerCore: 0, min: 0, tcpEstablishedTimeout: 0s, tcpCloseWaitTimeout: 0s}
EOF
start kube-proxy kube-proxy --config="$STATE/kube-proxy.yaml"

# --- NetworkPolicies ----------------------------------------------------------------------------
# The bridge plugin ignores NetworkPolicies. kube-router's policy controller alone (no routing,
# no service proxy, no CNI of its own) enforces them with iptables and ipsets on the pods' IPs,
# beside the bridge: pod-to-pod traffic crosses the host's FORWARD chain (bridge-nf-call-iptables).
start kube-router kube-router --kubeconfig="$STATE/admin.kubeconfig" --hostname-override="$NODE_NAME" \
    --run-firewall=true --run-router=false --run-service-proxy=false --enable-cni=false \
    --enable-pod-egress=false --service-cluster-ip-range="$SERVICE_CIDR" --health-port=20244

# --- DNS ------------------------------------------------------------------------------------------
kubectl apply -f "$here/coredns.yaml" >/dev/null
kubectl -n kube-system rollout status deployment/coredns --timeout=120s >/dev/null

# --- Storage ------------------------------------------------------------------------------------
"$here/storage.sh"

echo "cluster up in $((SECONDS - started)) s: node $NODE_NAME ($NODE_IP), Kubernetes $K8S_VERSION"
echo "export KUBECONFIG=$KUBECONFIG"
