#!/usr/bin/env bash
# Runs kustomize at the version the manifests are checked with, built once from the Go module
# proxy into the cache (like Vault and Docker Compose in deploy/local/), so that `make lint`
# and the manifest tests (tests/k8s/) render the same on any machine with Go.
# Usage: kustomize.sh <kustomize arguments...>
#   e.g. kustomize.sh build deploy/k8s/overlays/in-cluster
#   EIP_KUSTOMIZE_VERSION   release to build (default v5.8.1: its go.mod asks for Go 1.24, which
#                           the Go the project already needs for Vault satisfies)
EIP_COMPONENT=kustomize
# shellcheck source=../local/common.sh
source "$(dirname "${BASH_SOURCE[0]}")/../local/common.sh"
KUSTOMIZE_VERSION="${EIP_KUSTOMIZE_VERSION:-v5.8.1}"
KUSTOMIZE_HOME="$EIP_CACHE_DIR/kustomize/$KUSTOMIZE_VERSION"
KUSTOMIZE_BIN="$KUSTOMIZE_HOME/kustomize"

install() {
  [[ -x $KUSTOMIZE_BIN ]] && return 0
  export PATH="$PATH:/usr/local/go/bin"
  command -v go >/dev/null ||
    die "Go is required to build kustomize (https://go.dev, or Debian's golang)"
  mkdir -p "$KUSTOMIZE_HOME"
  # Tests and `make lint` may start together: one builds, the other waits for it.
  exec 8>"$KUSTOMIZE_HOME/.install.lock"
  flock 8
  if [[ -x $KUSTOMIZE_BIN ]]; then exec 8>&-; return 0; fi
  log "building kustomize $KUSTOMIZE_VERSION from the Go module proxy (once per machine, minutes)"
  local tmp build_log="$KUSTOMIZE_HOME/build.log"
  tmp=$(mktemp -d)
  # CGO_ENABLED=0: a static binary, as the kustomize releases are; GOTOOLCHAIN=local: fail
  # plainly rather than fetch another Go if a version ever needs a newer one.
  GOMODCACHE="$EIP_CACHE_DIR/go/mod" GOCACHE="$EIP_CACHE_DIR/go/build" CGO_ENABLED=0 \
    GOTOOLCHAIN=local GOBIN="$tmp" \
    go install -trimpath -ldflags="-s -w" "sigs.k8s.io/kustomize/kustomize/v5@$KUSTOMIZE_VERSION" \
    >"$build_log" 2>&1 ||
    { tail -n 30 "$build_log" >&2; rm -rf "$tmp"; die "kustomize build failed (log: $build_log)"; }
  mv "$tmp/kustomize" "$KUSTOMIZE_BIN"
  rm -rf "$tmp"
  exec 8>&-
  log "built $("$KUSTOMIZE_BIN" version)"
}

install
exec "$KUSTOMIZE_BIN" "$@"
