#!/usr/bin/env bash
# Stops everything up.sh started, services first. Data stays in $EIP_RUN_DIR.
EIP_COMPONENT=down
# shellcheck source=common.sh
source "$(dirname "${BASH_SOURCE[0]}")/common.sh"
here=$(dirname "${BASH_SOURCE[0]}")
bash "$here/services.sh" stop
for component in vault kafka postgres; do
  [[ -f $here/$component.sh ]] && bash "$here/$component.sh" stop
done
rm -f "$EIP_RUN_DIR/endpoints.json"
log "stopped"
