#!/usr/bin/env bash
# Runs `docker compose` — the docker CLI's plugin when present, otherwise Docker Compose v2
# built once from the Go module proxy into the cache (no Docker engine is needed for `config`).
# Usage: compose.sh <compose arguments...>     e.g. compose.sh config --quiet
EIP_COMPONENT=compose
# shellcheck source=common.sh
source "$(dirname "${BASH_SOURCE[0]}")/common.sh"
COMPOSE_VERSION="${EIP_COMPOSE_VERSION:-v2.29.7}"
COMPOSE_BIN="$EIP_CACHE_DIR/compose/$COMPOSE_VERSION/docker-compose"

if docker compose version >/dev/null 2>&1; then
  exec docker compose "$@"
fi
if [[ ! -x $COMPOSE_BIN ]]; then
  log "building Docker Compose $COMPOSE_VERSION from the Go module proxy (once per machine)"
  export PATH="$PATH:/usr/local/go/bin"
  export GOMODCACHE="$EIP_CACHE_DIR/go/mod" GOCACHE="$EIP_CACHE_DIR/go/build"
  tmp=$(mktemp -d)
  GOBIN="$tmp" go install "github.com/docker/compose/v2/cmd@$COMPOSE_VERSION"
  mkdir -p "$(dirname "$COMPOSE_BIN")"
  mv "$tmp/cmd" "$COMPOSE_BIN"
  rm -rf "$tmp"
fi
exec "$COMPOSE_BIN" "$@"
