#!/usr/bin/env bash
# Storage for the one-node cluster: a default StorageClass (`local-dir`) and a pool of `local`
# PersistentVolumes, each a folder in .state/cluster/pv. No provisioner ships with Kubernetes
# for a bare node, so PVCs bind to this pool.
#
# Why `local` volumes and not `hostPath` (or the controller-manager's built-in hostpath
# provisioner): the kubelet applies a pod's fsGroup to a `local` volume, and not to a hostPath
# one; MariaDB and nsqd run as uid 10001 with fsGroup 10001 and must write their volume.
# Why WaitForFirstConsumer: the usual mode for `local` volumes; a PVC binds when its pod is
# scheduled. Retain: Kubernetes cannot delete a `local` volume itself; instead each run of this
# script (every `make cluster`) wipes the volumes whose claim is gone and returns them to the pool.
# Capacity is nominal (50Gi, more than any claim here asks): a folder enforces no size.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
# shellcheck source=env.sh
source "$here/env.sh"
POOL_SIZE=${CLUSTER_PV_POOL:-12}

kubectl apply -f - >/dev/null <<YAML
apiVersion: storage.k8s.io/v1
kind: StorageClass
metadata:
  name: local-dir
  annotations: {storageclass.kubernetes.io/is-default-class: "true"}
provisioner: kubernetes.io/no-provisioner
volumeBindingMode: WaitForFirstConsumer
reclaimPolicy: Retain
YAML

for ((i = 1; i <= POOL_SIZE; i++)); do
    name=$(printf 'local-pv-%02d' "$i")
    dir=$STATE/pv/$name
    phase=$(kubectl get pv "$name" -o 'jsonpath={.status.phase}' 2>/dev/null || true)
    if [[ $phase == Released || $phase == Failed ]]; then
        # Its claim is deleted (and with it every pod using it): wipe, and offer it again.
        find "$dir" -mindepth 1 -delete
        kubectl patch pv "$name" --type json -p '[{"op": "remove", "path": "/spec/claimRef"}]' >/dev/null
        echo "recycled volume $name"
    fi
    [[ -n $phase ]] && continue
    # World-writable: pods without an fsGroup may also write (a development cluster only).
    mkdir -p "$dir" && chmod 0777 "$dir"
    kubectl apply -f - >/dev/null <<YAML
apiVersion: v1
kind: PersistentVolume
metadata:
  name: $name
  labels: {kubeface.dev/pool: local-dir}
spec:
  capacity: {storage: 50Gi}
  accessModes: [ReadWriteOnce, ReadWriteMany]
  persistentVolumeReclaimPolicy: Retain
  storageClassName: local-dir
  local: {path: $dir}
  nodeAffinity:
    required:
      nodeSelectorTerms:
        - matchExpressions:
            - {key: kubernetes.io/hostname, operator: In, values: [$NODE_NAME]}
YAML
done
echo "storage: default StorageClass local-dir, $POOL_SIZE local volumes in $STATE/pv"
