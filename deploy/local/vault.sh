#!/usr/bin/env bash
# Vault as a local process: HashiCorp Vault 1.13.0 (MPL-licensed; see below why not 1.14) built from source
# through the Go module proxy into the cache once per machine, file storage in the run
# directory, initialized and unsealed for real (one key share), KV v2 at secret/ and Transit at
# transit/, and the platform's policies. Usage: vault.sh install|start|stop|status|env
#   EIP_VAULT_VERSION   Vault release to build (default 1.13.0)
EIP_COMPONENT=vault
# shellcheck source=common.sh
source "$(dirname "${BASH_SOURCE[0]}")/common.sh"

# 1.13.0, built against the published sdk v0.8.1 and api v1.9.0 its go.mod requires. Every
# release builds against its in-tree ./sdk and ./api, which module zips leave out, so only a
# release whose in-tree copies equal published versions builds faithfully. 1.14.x does not:
# 1.14.10 does not compile against the sdk its go.mod names (v0.10.2), 1.14.1 not against its
# pseudo-version, and 1.14.2 compiles against v0.9.2 but panics on its first authenticated
# request. 1.13.0 compiles and passes the integration tests (KV v2, Transit, policies).
VAULT_VERSION="${EIP_VAULT_VERSION:-1.13.0}"
VAULT_SDK_VERSION=v0.8.1
VAULT_API_VERSION=v1.9.0
VAULT_HOME="$EIP_CACHE_DIR/vault/$VAULT_VERSION"
VAULT_BIN="$VAULT_HOME/bin/vault"
VAULT_DIR="$EIP_RUN_DIR/vault"
VAULT_CONFIG="$VAULT_DIR/vault.hcl"
VAULT_PIDFILE="$VAULT_DIR/vault.pid"
VAULT_LOG="$VAULT_DIR/vault.log"
VAULT_INIT="$EIP_VAULT_INIT_FILE"
VAULT_ADDR=$(vault_addr)
export PATH="$PATH:/usr/local/go/bin"

install() {
  [[ -x $VAULT_BIN ]] && return 0
  command -v go >/dev/null || die "Go is required to build Vault (https://go.dev, or Debian's golang)"
  mkdir -p "$VAULT_HOME"
  exec 8>"$VAULT_HOME/.install.lock"
  flock 8
  if [[ -x $VAULT_BIN ]]; then exec 8>&-; return 0; fi
  # CGO_ENABLED=0: a static binary, as HashiCorp builds its releases; no C compiler needed.
  export GOMODCACHE="$EIP_CACHE_DIR/go/mod" GOCACHE="$EIP_CACHE_DIR/go/build" GOFLAGS=-mod=mod \
    CGO_ENABLED=0
  log "building Vault $VAULT_VERSION from the Go module proxy (once per machine, several minutes)"
  local src build_log="$VAULT_HOME/build.log"
  src=$(go mod download -json "github.com/hashicorp/vault@v$VAULT_VERSION" |
        python3 -c 'import json,sys; print(json.load(sys.stdin)["Dir"])') ||
    die "the module proxy did not serve github.com/hashicorp/vault@v$VAULT_VERSION"
  local work="$VAULT_HOME/src"
  rm -rf "$work" && cp -r "$src" "$work" && chmod -R u+w "$work"
  # The release's go.mod points its nested modules (api, sdk) at ./api and ./sdk, which module
  # zips leave out; use the published versions the release was cut with instead.
  (
    cd "$work"
    go mod edit -replace="github.com/hashicorp/vault/sdk=github.com/hashicorp/vault/sdk@$VAULT_SDK_VERSION"
    go mod edit -replace="github.com/hashicorp/vault/api=github.com/hashicorp/vault/api@$VAULT_API_VERSION"
    for m in approle:v0.1.0 kubernetes:v0.3.0 userpass:v0.1.0; do
      go mod edit -replace="github.com/hashicorp/vault/api/auth/${m%%:*}=github.com/hashicorp/vault/api/auth/${m%%:*}@${m##*:}"
    done
    go build -trimpath -ldflags="-s -w" -o "$VAULT_BIN.partial" . >"$build_log" 2>&1
  ) || { tail -n 30 "$build_log" >&2; die "Vault build failed (full log: $build_log)"; }
  mv "$VAULT_BIN.partial" "$VAULT_BIN"
  rm -rf "$work"
  exec 8>&-
  log "built $("$VAULT_BIN" version)"
}

health_code() {
  curl -s -o /dev/null -w '%{http_code}' --max-time 2 "$VAULT_ADDR/v1/sys/health" || true
}
healthy() { [[ $(health_code) == 200 ]]; }
answering() { [[ $(health_code) =~ ^(200|429|472|473|501|503)$ ]]; }

json_field() { python3 -c "import json,sys; print(json.load(sys.stdin)$1)"; }

write_config() {
  mkdir -p "$VAULT_DIR/data"
  cat >"$VAULT_CONFIG" <<HCL
storage "file" {
  path = "$VAULT_DIR/data"
}
listener "tcp" {
  address     = "$EIP_HOST:$EIP_VAULT_PORT"
  tls_disable = true
}
api_addr      = "$VAULT_ADDR"
# One node on file storage: no cluster listener (it would take EIP_VAULT_PORT + 1 too).
disable_clustering = true
disable_mlock = true
ui            = false
log_level     = "warn"
HCL
}

initialize_and_unseal() {
  if [[ $(health_code) == 501 ]]; then
    log "initializing (one key share; keys in $VAULT_INIT, mode 0600, local use only)"
    (umask 077; curl -sf -X PUT "$VAULT_ADDR/v1/sys/init" \
      -d '{"secret_shares": 1, "secret_threshold": 1}' >"$VAULT_INIT.tmp") ||
      die "vault init failed"
    mv "$VAULT_INIT.tmp" "$VAULT_INIT"
  fi
  [[ -s $VAULT_INIT ]] || die "Vault is initialized but $VAULT_INIT is missing; remove $VAULT_DIR to start over"
  if [[ $(health_code) == 503 ]]; then
    local key; key=$(json_field '["keys_base64"][0]' <"$VAULT_INIT")
    curl -sf -X PUT "$VAULT_ADDR/v1/sys/unseal" -d "{\"key\": \"$key\"}" >/dev/null ||
      die "unseal failed"
  fi
  wait_until 30 "vault (active)" healthy
}

provision() {
  # The one provisioning implementation (engines and policies), shared with compose and tests.
  VAULT_ADDR="$VAULT_ADDR" VAULT_TOKEN="$(json_field '["root_token"]' <"$VAULT_INIT")" \
    uv run --project "$EIP_ROOT" --frozen --no-sync python -m eip.vault.provision >/dev/null
}

# Our server: the pid file names a live `vault server` of this run directory's config.
vault_running() { pid_running "$VAULT_PIDFILE" "server -config=$VAULT_CONFIG"; }

start() {
  install
  if vault_running && healthy; then return 0; fi
  if ! vault_running; then
    rm -f "$VAULT_PIDFILE"
    if port_open "$EIP_HOST" "$EIP_VAULT_PORT"; then
      die "port $EIP_VAULT_PORT on $EIP_HOST is taken by $(port_taken_by "$EIP_VAULT_PORT") (set EIP_VAULT_PORT)"
    fi
    write_config
    log "starting Vault $VAULT_VERSION on $VAULT_ADDR"
    # setsid: its own session, so the server outlives the shell (and a Ctrl-C) that started it.
    setsid "$VAULT_BIN" server -config="$VAULT_CONFIG" </dev/null >>"$VAULT_LOG" 2>&1 &
    echo $! >"$VAULT_PIDFILE"
  fi
  wait_until 60 "vault (listening)" answering
  initialize_and_unseal
  provision
  log "healthy"
}

stop() { stop_pidfile "$VAULT_PIDFILE" "server -config=$VAULT_CONFIG" 30; }

status() { healthy; }

env_vars() {
  [[ -s $VAULT_INIT ]] || die "not initialized; run: $0 start"
  echo "export VAULT_ADDR=$VAULT_ADDR"
  echo "export VAULT_TOKEN=$(json_field '["root_token"]' <"$VAULT_INIT")"
}

case "${1:-}" in
  install) install ;;
  start) start ;;
  stop) stop ;;
  status) status ;;
  env) env_vars ;;
  *) die "usage: $0 install|start|stop|status|env" ;;
esac
