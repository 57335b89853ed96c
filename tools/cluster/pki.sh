#!/usr/bin/env bash
# The one-node cluster's certificates, from openssl, into DIR (made once; kept while the
# cluster lives, removed by cluster-down). One CA signs everything; each component gets its
# own client identity, so that RBAC and the Node authorizer see who is asking.
# Usage: tools/cluster/pki.sh DIR NODE_IP
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
# shellcheck source=env.sh
source "$here/env.sh"
dir=$1 node_ip=$2
cd "$dir"
ec=(-newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes)

if [[ ! -f ca.crt ]]; then
    openssl req -x509 "${ec[@]}" -keyout ca.key -out ca.crt -days 3650 -subj /CN=kubeface-cluster-ca \
        -addext basicConstraints=critical,CA:TRUE -addext keyUsage=critical,keyCertSign,cRLSign 2>/dev/null
fi

cert() { # cert NAME SUBJECT USAGE [SUBJECT-ALT-NAMES]: a key and a CA-signed certificate
    [[ -f $1.crt ]] && return 0
    openssl req -new "${ec[@]}" -keyout "$1.key" -out "$1.csr" -subj "$2" 2>/dev/null
    {
        echo "basicConstraints=critical,CA:FALSE"
        echo "keyUsage=critical,digitalSignature,keyEncipherment"
        echo "extendedKeyUsage=$3"
        [[ -z ${4:-} ]] || echo "subjectAltName=$4"
    } >"$1.ext"
    openssl x509 -req -in "$1.csr" -CA ca.crt -CAkey ca.key -CAcreateserial -days 3650 \
        -extfile "$1.ext" -out "$1.crt" 2>/dev/null
    rm -f "$1.csr" "$1.ext"
}

cert apiserver /CN=kube-apiserver serverAuth \
    "DNS:kubernetes,DNS:kubernetes.default,DNS:kubernetes.default.svc,DNS:kubernetes.default.svc.cluster.local,DNS:localhost,IP:$SERVICE_API_IP,IP:127.0.0.1,IP:$node_ip"
cert kubelet-server "/CN=$NODE_NAME" serverAuth "DNS:$NODE_NAME,IP:$node_ip,IP:127.0.0.1"
# system:masters: the admin (kubectl, CoreDNS) and the apiserver calling kubelets (logs, exec).
cert admin /O=system:masters/CN=kubernetes-admin clientAuth
cert apiserver-kubelet-client /O=system:masters/CN=kube-apiserver-kubelet-client clientAuth
cert kube-controller-manager /CN=system:kube-controller-manager clientAuth
cert kube-scheduler /CN=system:kube-scheduler clientAuth
cert kube-proxy /CN=system:kube-proxy clientAuth
cert kubelet "/O=system:nodes/CN=system:node:$NODE_NAME" clientAuth

# Service-account tokens are signed with this key and checked with its public half.
if [[ ! -f sa.key ]]; then
    openssl genpkey -algorithm RSA -pkeyopt rsa_keygen_bits:2048 -out sa.key 2>/dev/null
    openssl pkey -in sa.key -pubout -out sa.pub
fi
chmod 600 ./*.key
