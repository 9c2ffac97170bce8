#!/usr/bin/env bash
# $EIP_RUN_DIR/endpoints.json — what this run directory's platform serves, and where.
# Usage: endpoints.sh write|print
#   write  (re)writes the file: the infrastructure, plus each service whose process runs now.
#          up.sh writes it after every start (an infra-only one too: `make test` after
#          `make up` keeps listing the running services), services.sh after starting or
#          stopping services on their own.
#   print  the file as text, one endpoint a line
# The file's shape is documented in README.md ("Set-up"); eip.testing.endpoints reads it.
EIP_COMPONENT=endpoints
# shellcheck source=common.sh
source "$(dirname "${BASH_SOURCE[0]}")/common.sh"
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
ENDPOINTS_FILE="$EIP_RUN_DIR/endpoints.json"

case "${1:-}" in
  write)
    bash "$here/services.sh" endpoints --running |
      python3 "$here/endpoints.py" write "$ENDPOINTS_FILE" "$(kafka_servers)" "$EIP_HOST" \
        "$EIP_PG_PORT" "$EIP_PG_DB" "$EIP_PG_USER" "$EIP_PG_PASSWORD_FILE" "$(vault_addr)" \
        "$EIP_VAULT_INIT_FILE"
    ;;
  print) python3 "$here/endpoints.py" print "$ENDPOINTS_FILE" ;;
  *) die "usage: $0 write|print" ;;
esac
