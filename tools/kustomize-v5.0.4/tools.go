//go:build tools

// Package tools pins the kustomize of kubectl 1.30, which tests/k8s renders k8s/ with.
package tools

import _ "sigs.k8s.io/kustomize/kustomize/v5"
