#!/usr/bin/env bash
# Starts the platform locally without Docker: Kafka, PostgreSQL and Vault as local processes,
# every topic created, then (unless `infra` is given) each service. Prints every endpoint and
# writes them to $EIP_RUN_DIR/endpoints.json — the infrastructure and every service that runs,
# whichever scope started them. Usage: up.sh [infra|all]
EIP_COMPONENT=up
# shellcheck source=common.sh
source "$(dirname "${BASH_SOURCE[0]}")/common.sh"
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
scope=${1:-all}
[[ $scope == all || $scope == infra ]] || die "usage: $0 [infra|all]"

cd "$EIP_ROOT"
uv sync --frozen --quiet
for component in postgres kafka vault; do
  bash "$here/$component.sh" start
done
KAFKA_BOOTSTRAP_SERVERS=$(kafka_servers) \
  uv run --frozen --no-sync python -m eip.bus.admin create-topics >/dev/null

if [[ $scope == all ]]; then
  bash "$here/services.sh" start
fi
bash "$here/endpoints.sh" write

printf '\nExchange Integration Platform is up (%s).\n' "$scope"
bash "$here/endpoints.sh" print
cat <<TEXT
Endpoints as JSON: $EIP_RUN_DIR/endpoints.json
Client environment: eval "\$(deploy/local/env.sh)"     Stop: make down
TEXT
