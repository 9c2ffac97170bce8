#!/usr/bin/env bash
# The platform's Python services as local processes, one per service, logs and pid files in
# $EIP_RUN_DIR/services. Usage: services.sh VERB [service...]   (every service by default)
#   start      start each that is not running yet, in the order below, and wait for /healthz
#   stop       SIGTERM each service's process group, SIGKILL after 20 s
#   status     exit 0 when each runs: its recorded process alive, listening on its port, and
#              answering /healthz there
#   env        the NAME=value lines each would be started with (secrets as <redacted>)
#   endpoints  name<TAB>url of each (`endpoints --running`: only of those running)
#   list       name<TAB>module<TAB>port variable<TAB>default port of each
#
# What is subtle:
# - The pid file names the service's own process: the venv's interpreter is exec'd in a new
#   session (setsid), never behind `uv run` (whose child would outlive a `kill -9` of uv and
#   keep the port). So `kill -9 $(cat <svc>.pid)` frees the port, and stop signals the whole
#   process group. A pid file is trusted only while its process runs this checkout's module.
# - start never reports a service healthy on the strength of someone else's process: a port
#   that answers but is not held by our recorded process is an error naming its holder.
# - Every setting that points a service at another part of this platform is listed in that
#   service's env_<service> function below, so a second platform on other ports talks only to
#   its own infrastructure, simulator and auth service. tests/deploy/test_local_wiring.py walks
#   every service's settings class and fails on a URL, address or port setting that the
#   service's function does not set to the ports given.
EIP_COMPONENT=services
# shellcheck source=common.sh
source "$(dirname "${BASH_SOURCE[0]}")/common.sh"
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)

# name:module:port-variable:default-port, in start order (the simulator first: the exchanges'
# clients point at it; the console last: it shows the others).
SERVICES=(
  "exchange-simulator:eip.exchange_simulator:SIMULATOR_HTTP_PORT:8300"
  "market-data:eip.market_data:MARKET_DATA_HTTP_PORT:8101"
  "order-book:eip.order_book:ORDER_BOOK_HTTP_PORT:8102"
  "account:eip.account:ACCOUNT_HTTP_PORT:8103"
  "order-management:eip.order_management:ORDER_MANAGEMENT_HTTP_PORT:8104"
  "auth:eip.auth:AUTH_HTTP_PORT:8105"
  "automation:eip.automation:AUTOMATION_HTTP_PORT:8107"
  "console:eip.console:CONSOLE_HTTP_PORT:8106"
)
SVC_DIR="$EIP_RUN_DIR/services"
# 1 while rendering `env`: secrets are shown as <redacted> and nothing is created or asked for.
RENDER=0

entry_of() {
  local entry
  for entry in "${SERVICES[@]}"; do
    [[ ${entry%%:*} == "$1" ]] && { echo "$entry"; return 0; }
  done
  die "no service named $1 (services: $(names | tr '\n' ' '))"
}
names() { local entry; for entry in "${SERVICES[@]}"; do echo "${entry%%:*}"; done; }
module_of() { local m; m=$(entry_of "$1" | cut -d: -f2); echo "$m"; }
port_of() {
  local var default
  IFS=: read -r _ _ var default <<<"$(entry_of "$1")"
  echo "${!var:-$default}"
}
url_of() { echo "http://$EIP_HOST:$(port_of "$1")"; }

# --- each service's settings ---------------------------------------------------------------
# env_<service> prints NAME=value lines. Two kinds of line:
#   wire NAME VALUE     how this platform's parts find each other: always the value given here
#   default NAME VALUE  a choice the operator may make (which exchanges, which symbols): the
#                       operator's own NAME, when set in the environment, wins
wire() { printf '%s=%s\n' "$1" "$2"; }
default() { printf '%s=%s\n' "$1" "${!1:-$2}"; }
# secret CMD... — CMD's output, or <redacted> while rendering `env`. Call it as
# `value=$(secret cmd) || exit 1`: the env functions run inside a command substitution, where
# set -e does not hold, and a failure must not start a service without its secret.
secret() { if (( RENDER )); then echo '<redacted>'; else "$@"; fi; }

# http PREFIX SERVICE — where the service itself listens
http() {
  wire "${1}HTTP_HOST" "$EIP_HOST"
  wire "${1}HTTP_PORT" "$(port_of "$2")"
}

# infrastructure [postgres] — the infrastructure's addresses, which every service's settings
# carry; the database password only for a service that uses PostgreSQL. Vault tokens are
# never inherited (a shell that ran env.sh holds the root token): auth gets its own below.
infrastructure() {
  wire KAFKA_BOOTSTRAP_SERVERS "$(kafka_servers)"
  wire VAULT_ADDR "$(vault_addr)"
  if [[ ${1:-} == postgres ]]; then
    local password
    password=$(secret pg_password) || exit 1
    wire DATABASE_URL "$(pg_url "$password")"
  else
    wire DATABASE_URL "$(pg_url)"
  fi
}
pg_password() {
  [[ -s $EIP_PG_PASSWORD_FILE ]] || die "PostgreSQL is not initialized in $EIP_RUN_DIR (make infra-up)"
  cat "$EIP_PG_PASSWORD_FILE"
}

env_exchange_simulator() {
  http SIMULATOR_ exchange-simulator
  infrastructure
}

env_auth() {
  http AUTH_ auth
  infrastructure postgres
  local token admin_secret
  token=$(secret auth_vault_token) || exit 1
  admin_secret=$(secret auth_admin_secret) || exit 1
  wire VAULT_TOKEN "$token"
  wire AUTH_BOOTSTRAP_CLIENT_SECRET "$admin_secret"
  # Every venue with a key validator (unset, auth would call the venue's public API): a local
  # platform calls no real venue. Keys of venues the simulator does not speak (BitMEX and the
  # ccxt venues) cannot be validated there.
  local venue
  for venue in BINANCE KRAKEN COINBASE BITMEX KUCOIN BITFINEX HTX BYBIT OKX GATEIO; do
    default "AUTH_${venue}_BASE_URL" "$(url_of exchange-simulator)"
  done
}
# The auth service runs with a token limited to the eip-auth-service policy, never the
# operator's, minted with the root token of this run directory's Vault. The token is periodic:
# the service renews it every 12 h, and it has no max TTL to run into.
auth_vault_token() {
  [[ -s $EIP_VAULT_INIT_FILE ]] || die "Vault is not initialized in $EIP_RUN_DIR (make infra-up)"
  (
    eval "$(bash "$here/vault.sh" env)"
    cd "$EIP_ROOT" && "$(python_bin)" -m eip.vault.token eip-auth-service --period 24h
  ) || die "could not make the auth service's Vault token"
}
# The first admin client's secret, kept in the run directory.
auth_admin_secret() {
  local file="$EIP_RUN_DIR/auth-admin-secret"
  if [[ ! -s $file ]]; then
    (umask 077 && head -c 32 /dev/urandom | base64 | tr -d '/+=\n' >"$file")
  fi
  cat "$file"
}

env_market_data() {
  http MARKET_DATA_ market-data
  infrastructure postgres
  wire MARKET_DATA_AUTH_JWKS_URL "$(url_of auth)/v1/.well-known/jwks.json"
  local sim subs
  sim=$(url_of exchange-simulator)
  subs='[{"exchange":"binance","symbol":"BTC/USDT","channel":"trades"},'
  subs+='{"exchange":"binance","symbol":"BTC/USDT","channel":"ticker"},'
  subs+='{"exchange":"binance","symbol":"ETH/USDT","channel":"trades"}]'
  default MARKET_DATA_EXCHANGE_URLS "{\"binance\":\"$sim\"}"
  default MARKET_DATA_SUBSCRIPTIONS "$subs"
}

env_order_book() {
  http ORDER_BOOK_ order-book
  infrastructure postgres
  wire ORDER_BOOK_AUTH_JWKS_URL "$(url_of auth)/v1/.well-known/jwks.json"
  local sim
  sim=$(url_of exchange-simulator)
  default ORDER_BOOK_EXCHANGE_URLS "{\"binance\":\"$sim\",\"kraken\":\"$sim\",\"coinbase\":\"$sim\"}"
  default ORDER_BOOK_SUBSCRIPTIONS \
    '{"binance":["BTC/USDT","ETH/USDT"],"kraken":["BTC/USDT"],"coinbase":["BTC/USDT"]}'
}

env_account() {
  http ACCOUNT_ account
  infrastructure postgres
  wire ACCOUNT_AUTH_JWKS_URL "$(url_of auth)/v1/.well-known/jwks.json"
  wire ACCOUNT_AUTH_URL "$(url_of auth)"
  wire ACCOUNT_MARKET_DATA_URL "$(url_of market-data)"
  # Locally the service signs in as the first admin client (production gives it a client of
  # its own with credentials:use and market:read: docs/ACCOUNT.md).
  local admin_secret
  admin_secret=$(secret auth_admin_secret) || exit 1
  default ACCOUNT_AUTH_CLIENT_ID eip-admin
  wire ACCOUNT_AUTH_CLIENT_SECRET "$admin_secret"
  default ACCOUNT_EXCHANGE_URLS "{\"binance\":\"$(url_of exchange-simulator)\"}"
}

env_order_management() {
  http ORDER_MANAGEMENT_ order-management
  infrastructure postgres
  wire ORDER_MANAGEMENT_AUTH_JWKS_URL "$(url_of auth)/v1/.well-known/jwks.json"
  # Venue requests are signed by auth; market orders are checked on order-book's slippage.
  wire ORDER_MANAGEMENT_AUTH_URL "$(url_of auth)"
  wire ORDER_MANAGEMENT_ORDER_BOOK_URL "$(url_of order-book)"
  local sim client_secret
  sim=$(url_of exchange-simulator)
  default ORDER_MANAGEMENT_EXCHANGE_URLS "{\"binance\":\"$sim\"}"
  # The service's auth client (credentials:use, books:read) is the operator's to create with
  # the admin client (docs/ORDER_MANAGEMENT.md#running-it); without it every order is denied.
  client_secret=$(secret om_client_secret) || exit 1
  default ORDER_MANAGEMENT_AUTH_CLIENT_ID order-management
  wire ORDER_MANAGEMENT_AUTH_CLIENT_SECRET "$client_secret"
}
om_client_secret() { echo "${ORDER_MANAGEMENT_AUTH_CLIENT_SECRET:-}"; }

# Automation reads the market-data and order-book topics and writes order-management commands:
# Kafka and PostgreSQL are all it connects to.
env_automation() {
  http AUTOMATION_ automation
  infrastructure postgres
  wire AUTOMATION_AUTH_JWKS_URL "$(url_of auth)/v1/.well-known/jwks.json"
  local key
  key=$(secret automation_webhook_key) || exit 1
  wire AUTOMATION_WEBHOOK_SIGNING_KEY "$key"
}
# The key webhooks' signing keys are derived from, kept in the run directory.
automation_webhook_key() {
  local file="$EIP_RUN_DIR/automation-webhook-key"
  if [[ ! -s $file ]]; then
    (umask 077 && head -c 32 /dev/urandom | base64 | tr -d '/+=\n' >"$file")
  fi
  cat "$file"
}

# The operator console talks to every other service over its public HTTP API, with the token of
# whoever logs in; it holds no secret of its own. Its settings carry the infrastructure's
# addresses as every service's do (no password: it opens no connection to them).
env_console() {
  http CONSOLE_ console
  infrastructure
  wire CONSOLE_AUTH_JWKS_URL "$(url_of auth)/v1/.well-known/jwks.json"
  wire CONSOLE_AUTH_URL "$(url_of auth)"
  wire CONSOLE_MARKET_DATA_URL "$(url_of market-data)"
  wire CONSOLE_ORDER_BOOK_URL "$(url_of order-book)"
  wire CONSOLE_ACCOUNT_URL "$(url_of account)"
  wire CONSOLE_ORDER_MANAGEMENT_URL "$(url_of order-management)"
  wire CONSOLE_AUTOMATION_URL "$(url_of automation)"
}

service_env() { "env_${1//-/_}"; }

# --- processes -----------------------------------------------------------------------------

# The venv's interpreter, resolved once: the service is exec'd as this very binary.
python_bin() {
  if [[ -z ${PYTHON_BIN:-} ]]; then
    PYTHON_BIN=$(cd "$EIP_ROOT" && uv run --frozen --no-sync python -c 'import sys; print(sys.executable)') ||
      die "no Python environment in $EIP_ROOT (make install)"
  fi
  echo "$PYTHON_BIN"
}

pidfile_of() { echo "$SVC_DIR/$1.pid"; }

# Our service: the recorded process is alive and runs the service's module from this checkout.
running() {
  local pidfile pid
  pidfile=$(pidfile_of "$1")
  pid_running "$pidfile" "-m $(module_of "$1")" || return 1
  pid=$(cat "$pidfile")
  [[ $(readlink "/proc/$pid/cwd" 2>/dev/null) == "$(cd "$EIP_ROOT" && pwd -P)" ]]
}

healthy() { curl -fsS -o /dev/null --max-time 2 "$(url_of "$1")/healthz"; }

# Running, listening on its port, and answering /healthz there.
status_one() {
  running "$1" && pid_listens "$(cat "$(pidfile_of "$1")")" "$(port_of "$1")" && healthy "$1"
}

start_one() {
  local name=$1 module port pidfile log lines
  module=$(module_of "$name")
  port=$(port_of "$name")
  pidfile=$(pidfile_of "$name")
  log="$SVC_DIR/$name.log"
  if status_one "$name"; then return 0; fi
  if running "$name"; then
    die "$name (pid $(cat "$pidfile")) runs but does not answer on port $port; stop it first"
  fi
  rm -f "$pidfile"
  if port_open "$EIP_HOST" "$port"; then
    die "port $port for $name is taken by $(port_taken_by "$port") (set $(entry_of "$name" | cut -d: -f3))"
  fi
  python_bin >/dev/null
  lines=$(service_env "$name")
  log "starting $name on $EIP_HOST:$port"
  (
    cd "$EIP_ROOT"
    unset VAULT_TOKEN
    while IFS= read -r line; do export "${line?}"; done <<<"$lines"
    exec setsid "$PYTHON_BIN" -m "$module" </dev/null >>"$log" 2>&1
  ) &
  echo $! >"$pidfile"
  wait_started 60 "$name" "$log" "$pidfile" started status_one "$name"
}
# The process start_one spawned is alive (whatever it runs yet: bash until its exec) and not a
# zombie (this shell, its parent, reaps it only at exit).
started() { pid_running "$(pidfile_of "$1")" ""; }

stop_one() { stop_pidfile "$(pidfile_of "$1")" "-m $(module_of "$1")" 20; }

# up.sh's endpoints.json lists what runs: keep it true when a service starts or stops alone.
refresh_endpoints() {
  if [[ -f $EIP_RUN_DIR/endpoints.json ]]; then bash "$here/endpoints.sh" write; fi
}

mkdir -p "$SVC_DIR"
verb=${1:-}
shift || true
only_running=0
if [[ $verb == endpoints && ${1:-} == --running ]]; then only_running=1; shift; fi
# An array, not a `while read` loop: what a verb runs must not read the list off its stdin.
mapfile -t chosen < <(if [[ $# -eq 0 ]]; then names; else printf '%s\n' "$@"; fi)
for name in "${chosen[@]}"; do entry_of "$name" >/dev/null; done
case "$verb" in
  start)
    for name in "${chosen[@]}"; do start_one "$name"; done
    refresh_endpoints
    ;;
  stop)
    for name in "${chosen[@]}"; do stop_one "$name"; done
    refresh_endpoints
    ;;
  status)
    rc=0
    for name in "${chosen[@]}"; do
      status_one "$name" || { log "$name not running"; rc=1; }
    done
    exit $rc
    ;;
  env)
    RENDER=1
    for name in "${chosen[@]}"; do service_env "$name"; done
    ;;
  endpoints)
    for name in "${chosen[@]}"; do
      if (( only_running )) && ! running "$name"; then continue; fi
      printf '%s\t%s\n' "$name" "$(url_of "$name")"
    done
    ;;
  list)
    for name in "${chosen[@]}"; do entry_of "$name" | tr : '\t'; done
    ;;
  *) die "usage: $0 start|stop|status|env|endpoints [--running]|list [service...]" ;;
esac
