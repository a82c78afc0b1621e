#!/usr/bin/env bash
# Builds a real kube-apiserver for the tests, once, from the Go module proxy (no
# binary can be downloaded here): a throw-away module that requires
# k8s.io/kubernetes and replaces each staging module with its release. About 8
# minutes on 2 cores; the binary is cached outside the repository.
# Usage: scripts/kube-apiserver.sh   (prints the binary's path)
set -euo pipefail
version=1.31.4
cache=${TESSERA_CACHE:-$HOME/.cache/tessera}
bin=$cache/kube-apiserver-v$version-1 # -1: reports its version
if [ -x "$bin" ]; then echo "$bin"; exit 0; fi
mkdir -p "$cache"
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
staging="api apiextensions-apiserver apimachinery apiserver cli-runtime client-go cloud-provider cluster-bootstrap
code-generator component-base component-helpers controller-manager cri-api cri-client csi-translation-lib
dynamic-resource-allocation endpointslice kms kube-aggregator kube-controller-manager kube-proxy kube-scheduler
kubectl kubelet metrics mount-utils pod-security-admission sample-apiserver sample-cli-plugin sample-controller"
{
  echo "module tessera.local/kubeapiserver"
  echo
  echo "go 1.22"
  echo
  echo "require k8s.io/kubernetes v$version"
  echo
  echo "replace ("
  for m in $staging; do echo "	k8s.io/$m => k8s.io/$m v0.${version#1.}"; done
  echo ")"
} >"$work/go.mod"
printf 'package tools\n\nimport _ "k8s.io/kubernetes/cmd/kube-apiserver"\n' >"$work/tools.go"
echo "kube-apiserver: building v$version into $bin (about 8 minutes, once)" >&2
# The version the server reports (helm checks charts' kubeVersion against it).
ldflags="-X k8s.io/component-base/version.gitVersion=v$version -X k8s.io/component-base/version.gitMajor=${version%%.*}"
ldflags="$ldflags -X k8s.io/component-base/version.gitMinor=$(echo "$version" | cut -d. -f2) -X k8s.io/component-base/version.gitTreeState=clean"
(cd "$work" && GOFLAGS=-mod=mod go mod tidy >&2 && CGO_ENABLED=0 go build -ldflags "$ldflags" -o "$bin.tmp" k8s.io/kubernetes/cmd/kube-apiserver >&2)
mv "$bin.tmp" "$bin"
echo "$bin"
