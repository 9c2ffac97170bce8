#!/usr/bin/env bash
# Stops everything up.sh started, services first. Data stays (see postgres.sh for where the
# cluster lives when run as root).
EIP_COMPONENT=down
# shellcheck source=common.sh
source "$(dirname "${BASH_SOURCE[0]}")/common.sh"
here=$(dirname "${BASH_SOURCE[0]}")
rm -f "$EIP_RUN_DIR/endpoints.json"
bash "$here/services.sh" stop
for component in vault kafka postgres; do
  bash "$here/$component.sh" stop
done
log "stopped"
