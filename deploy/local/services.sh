#!/usr/bin/env bash
# The platform's Python services as local processes (one per service, logs and pids in the run
# directory). Usage: services.sh start|stop|status [service...]
EIP_COMPONENT=services
# shellcheck source=common.sh
source "$(dirname "${BASH_SOURCE[0]}")/common.sh"

# name:module:port-variable:default-port
SERVICES=(
  "exchange-simulator:eip.exchange_simulator:SIMULATOR_HTTP_PORT:8300"
  "market-data:eip.market_data:MARKET_DATA_HTTP_PORT:8101"
  "order-book:eip.order_book:ORDER_BOOK_HTTP_PORT:8102"
  "account:eip.account:ACCOUNT_HTTP_PORT:8103"
  "order-management:eip.order_management:ORDER_MANAGEMENT_HTTP_PORT:8104"
  "auth:eip.auth:AUTH_HTTP_PORT:8105"
)
SVC_DIR="$EIP_RUN_DIR/services"
mkdir -p "$SVC_DIR"

selected() {
  local entry name
  for entry in "${SERVICES[@]}"; do
    name=${entry%%:*}
    if [[ $# -eq 0 ]] || [[ " $* " == *" $name "* ]]; then echo "$entry"; fi
  done
}

port_of() {
  local var=$1 default=$2
  echo "${!var:-$default}"
}

healthy() { curl -fsS -o /dev/null --max-time 2 "http://$EIP_HOST:$1/healthz"; }

start_one() {
  IFS=: read -r name module port_var default_port <<<"$1"
  local port pidfile
  port=$(port_of "$port_var" "$default_port")
  pidfile="$SVC_DIR/$name.pid"
  if pid_alive "$pidfile" && healthy "$port"; then return 0; fi
  log "starting $name on $EIP_HOST:$port"
  (
    cd "$EIP_ROOT"
    export "$port_var=$port"
    if [[ $name == auth ]]; then
      # The auth service runs with a token limited to the eip-auth-service policy, never the
      # operator's, and with the first admin client's secret kept in the run directory. The
      # token is periodic: the service renews it every 12 h, and it has no max TTL to run into.
      VAULT_TOKEN=$(uv run --frozen --no-sync python -m eip.vault.token eip-auth-service \
        --period 24h)
      export VAULT_TOKEN
      local admin_secret="$EIP_RUN_DIR/auth-admin-secret"
      if [[ ! -s $admin_secret ]]; then
        (umask 077 && head -c 32 /dev/urandom | base64 | tr -d '/+=\n' >"$admin_secret")
      fi
      AUTH_BOOTSTRAP_CLIENT_SECRET=$(cat "$admin_secret")
      export AUTH_BOOTSTRAP_CLIENT_SECRET
    fi
    if [[ $name == order-book ]]; then
      # Locally every venue is the exchange simulator; an operator's own settings win.
      local sim="http://$EIP_HOST:$(port_of SIMULATOR_HTTP_PORT 8300)"
      local subs='{"binance":["BTC/USDT","ETH/USDT"],"kraken":["BTC/USDT"],"coinbase":["BTC/USDT"]}'
      local urls="{\"binance\":\"$sim\",\"kraken\":\"$sim\",\"coinbase\":\"$sim\"}"
      export ORDER_BOOK_SUBSCRIPTIONS=${ORDER_BOOK_SUBSCRIPTIONS:-$subs}
      export ORDER_BOOK_EXCHANGE_URLS=${ORDER_BOOK_EXCHANGE_URLS:-$urls}
    fi
    if [[ $name == market-data ]]; then
      # Locally the market-data service follows the simulator (started before it, above in
      # SERVICES), unless the operator configured something else.
      local sim="http://$EIP_HOST:$(port_of SIMULATOR_HTTP_PORT 8300)"
      local urls subs
      urls=$(printf '{"binance":"%s"}' "$sim")
      subs='[{"exchange":"binance","symbol":"BTC/USDT","channel":"trades"},'
      subs+='{"exchange":"binance","symbol":"BTC/USDT","channel":"ticker"},'
      subs+='{"exchange":"binance","symbol":"ETH/USDT","channel":"trades"}]'
      export MARKET_DATA_EXCHANGE_URLS="${MARKET_DATA_EXCHANGE_URLS:-$urls}"
      export MARKET_DATA_SUBSCRIPTIONS="${MARKET_DATA_SUBSCRIPTIONS:-$subs}"
    fi
    nohup uv run --frozen --no-sync python -m "$module" >>"$SVC_DIR/$name.log" 2>&1 &
    echo $! >"$pidfile"
  )
  wait_until 60 "$name" healthy "$port"
}

case "${1:-}" in
  start)
    shift
    # shellcheck disable=SC1090
    eval "$("$(dirname "$0")/env.sh")"
    while read -r entry; do start_one "$entry"; done < <(selected "$@")
    ;;
  stop)
    shift
    while read -r entry; do stop_pidfile "$SVC_DIR/${entry%%:*}.pid" 20; done < <(selected "$@")
    ;;
  status)
    shift
    rc=0
    while read -r entry; do
      IFS=: read -r name _ port_var default_port <<<"$entry"
      healthy "$(port_of "$port_var" "$default_port")" || { log "$name not healthy"; rc=1; }
    done < <(selected "$@")
    exit $rc
    ;;
  endpoints)
    # name<TAB>url, for up.sh
    while read -r entry; do
      IFS=: read -r name _ port_var default_port <<<"$entry"
      printf '%s\thttp://%s:%s\n' "$name" "$EIP_HOST" "$(port_of "$port_var" "$default_port")"
    done < <(selected)
    ;;
  *) die "usage: $0 start|stop|status|endpoints [service...]" ;;
esac
