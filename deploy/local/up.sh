#!/usr/bin/env bash
# Starts the platform locally without Docker: Kafka, PostgreSQL and Vault as local processes,
# every topic created, then (unless `infra` is given) each service. Prints every endpoint and
# writes them to $EIP_RUN_DIR/endpoints.json. Usage: up.sh [infra|all]
EIP_COMPONENT=up
# shellcheck source=common.sh
source "$(dirname "${BASH_SOURCE[0]}")/common.sh"
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
scope=${1:-all}

cd "$EIP_ROOT"
uv sync --frozen --quiet
for component in postgres kafka vault; do
  bash "$here/$component.sh" start
done
eval "$(bash "$here/env.sh")"
uv run --frozen --no-sync python -m eip.bus.admin create-topics >/dev/null

if [[ $scope == all ]]; then
  bash "$here/services.sh" start
fi

services_json="{}"
if [[ $scope == all ]]; then
  services_json=$(bash "$here/services.sh" endpoints | awk -F'\t' '
    BEGIN { printf "{" }
    { printf "%s\"%s\": {\"http\": \"%s\", \"openapi\": \"%s/openapi.json\", \"docs\": \"%s/docs\"}",
        (NR > 1 ? ", " : ""), $1, $2, $2, $2 }
    END { printf "}" }')
fi

sim_http="http://$EIP_HOST:${SIMULATOR_HTTP_PORT:-8300}"
sim_ws="ws://$EIP_HOST:${SIMULATOR_HTTP_PORT:-8300}"
simulator_json="null"
if [[ $scope == all ]]; then
  simulator_json="{\"rest\": \"$sim_http/api/v3\", \"ws_streams\": \"$sim_ws/ws\", \"ws_combined\": \"$sim_ws/stream\", \"ws_api\": \"$sim_ws/ws-api/v3\", \"admin\": \"$sim_http/admin/v1\"}"
fi

cat >"$EIP_RUN_DIR/endpoints.json" <<JSON
{
  "kafka": {"bootstrap_servers": "$EIP_HOST:$EIP_KAFKA_PORT"},
  "postgres": {"host": "$EIP_HOST", "port": $EIP_PG_PORT, "database": "eip", "user": "eip",
               "password_file": "$EIP_RUN_DIR/postgres/password"},
  "vault": {"addr": "http://$EIP_HOST:$EIP_VAULT_PORT", "init_file": "$EIP_RUN_DIR/vault/init.json"},
  "services": $services_json,
  "simulator": $simulator_json
}
JSON

cat <<TEXT

Exchange Integration Platform is up ($scope).
  Kafka             $EIP_HOST:$EIP_KAFKA_PORT
  PostgreSQL        postgresql://eip@$EIP_HOST:$EIP_PG_PORT/eip   (password in $EIP_RUN_DIR/postgres/password)
  Vault             http://$EIP_HOST:$EIP_VAULT_PORT   (root token in $EIP_RUN_DIR/vault/init.json)
TEXT
if [[ $scope == all ]]; then
  bash "$here/services.sh" endpoints | while IFS=$'\t' read -r name url; do
    printf '  %-19s %s   (API docs %s/docs)\n' "$name" "$url" "$url"
  done
  cat <<TEXT
  Simulator (Binance spot dialect): REST $sim_http/api/v3   streams $sim_ws/ws  $sim_ws/stream
                    WebSocket API $sim_ws/ws-api/v3   admin $sim_http/admin/v1 (docs $sim_http/docs)
TEXT
fi
cat <<TEXT
Endpoints as JSON: $EIP_RUN_DIR/endpoints.json
Client environment: eval "\$(deploy/local/env.sh)"     Stop: make down
TEXT
