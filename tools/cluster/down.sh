#!/usr/bin/env bash
# Tear the one-node cluster down (`make cluster-down`): stop every container and process it
# started (by PID), and remove what it left on the host: network namespaces, mounts, the
# bridge, the KUBE-* iptables chains (and any CNI-* chain of its own network), containerd and
# kubelet state, and the state folder. The binaries in .cache stay. Safe to run twice, or when
# nothing runs; afterwards `make cluster` starts from scratch.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
# shellcheck source=env.sh
source "$here/env.sh"
[[ $(id -u) == 0 ]] || { echo "make cluster-down needs root" >&2; exit 1; }

stop() { # stop NAME: SIGTERM the recorded PID, SIGKILL after 20 s
    local f=$PIDS/$1.pid pid
    [[ -f $f ]] || return 0
    pid=$(cat "$f")
    if kill -0 "$pid" 2>/dev/null; then
        kill -TERM "$pid"
        for _ in $(seq 40); do kill -0 "$pid" 2>/dev/null || break; sleep 0.5; done
        kill -0 "$pid" 2>/dev/null && kill -KILL "$pid"
        echo "stopped $1 (pid $pid)"
    fi
    rm -f "$f"
}

# The kubelet first, so that it restarts nothing while the containers go.
stop kubelet

# Every container of the cluster's containerd: kill its task, keep its network namespace's path
# (containerd made it, /run/netns/cni-*) to remove after, then delete it.
netns=()
if running containerd; then
    ctr=(ctr --address "$CONTAINERD_SOCK" -n k8s.io)
    for id in $("${ctr[@]}" containers ls -q); do
        while read -r ns; do netns+=("$ns"); done < <("${ctr[@]}" containers info "$id" |
            grep -o '"/var/run/netns/[^"]*"\|"/run/netns/[^"]*"' | tr -d '"' | sort -u)
        "${ctr[@]}" tasks kill -a -s SIGKILL "$id" >/dev/null 2>&1 || true
    done
    for id in $("${ctr[@]}" containers ls -q); do
        for _ in $(seq 20); do "${ctr[@]}" tasks delete "$id" >/dev/null 2>&1 && break
            "${ctr[@]}" tasks ls -q | grep -qxF "$id" || break; sleep 0.5; done
        "${ctr[@]}" containers delete "$id" >/dev/null 2>&1 || true
    done
fi
stop containerd
# Shims whose task could not be deleted outlive containerd; they name its socket.
for pid in $(pgrep -f "containerd-shim-runc-v2 .*-address $CONTAINERD_SOCK( |$)" || true); do
    kill -KILL "$pid" 2>/dev/null || true
done
for ns in ${netns[@]+"${netns[@]}"}; do
    umount "$ns" 2>/dev/null || true
    rm -f "$ns"
done

for name in kube-router kube-proxy kube-scheduler kube-controller-manager kube-apiserver etcd; do stop "$name"; done

# Service and policy rules: kube-proxy's and kube-router's own cleanup, then whatever KUBE-* chain is left (the kubelet's
# KUBE-FIREWALL and canaries) in every table.
[[ -x $K8S_BIN/kube-proxy ]] && "$K8S_BIN/kube-proxy" --cleanup >/dev/null 2>&1 || true
# kube-router's policy rules and ipsets.
[[ -x $K8S_BIN/kube-router ]] && "$K8S_BIN/kube-router" --cleanup-config >/dev/null 2>&1 || true
for ipt in iptables ip6tables; do
    for table in filter nat mangle raw; do
        chains=$($ipt -t "$table" -S 2>/dev/null | awk '$1 == "-N" && $2 ~ /^KUBE-/ {print $2}')
        # A CNI-* chain belongs to this cluster only if a rule naming our network jumps to it;
        # podman's own CNI chains stay.
        chains+=" $($ipt -t "$table" -S 2>/dev/null | grep -F "\"$CNI_NETWORK\"" |
            grep -o -- '-j CNI-[A-Za-z0-9_-]*' | awk '{print $2}' | sort -u || true)"
        [[ -n ${chains// /} ]] || continue
        # Rules jumping to them first (from any chain), then flush, then delete.
        rules=$($ipt -t "$table" -S | grep -E -- "-j ($(echo $chains | tr ' ' '|'))( |$)" | grep -v '^-N' || true)
        while read -r rule; do
            [[ -z $rule ]] || eval "$ipt -t $table ${rule/#-A/-D}" || true
        done <<<"$rules"
        for c in $chains; do $ipt -t "$table" -F "$c" 2>/dev/null || true; done
        for c in $chains; do $ipt -t "$table" -X "$c" 2>/dev/null || true; done
    done
done

# kube-router's ipsets, once no rule refers to them (its --cleanup-config leaves some).
for set in $(ipset list -n 2>/dev/null | grep -E '^(inet6:)?(KUBE-|kube-router)' || true); do
    ipset destroy "$set" 2>/dev/null || true
done

ip link show "$BRIDGE" >/dev/null 2>&1 && ip link delete "$BRIDGE"

# Mounts under the state folder (container root filesystems, pod volumes, secrets), deepest first.
if [[ -d $STATE ]]; then
    findmnt -rn -o TARGET | grep -F "$STATE/" | sort -r | while read -r m; do
        umount "$m" 2>/dev/null || umount -l "$m"
    done
fi
# What the kubelet and libcni keep outside the state folder.
find /var/log/containers -maxdepth 1 -lname "$STATE/*" -delete 2>/dev/null || true
rm -f /var/lib/cni/results/"$CNI_NETWORK"-* 2>/dev/null || true

rm -rf "$STATE"
echo "cluster down"
