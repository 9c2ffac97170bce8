#!/bin/sh
# One-shot provisioning of the compose stack's Vault (dev mode): the engines and policies the
# platform expects, matching deploy/local/vault.sh.
set -eu
until bao status >/dev/null 2>&1; do sleep 1; done
bao secrets list | grep -q '^transit/' || bao secrets enable transit
bao policy write eip-auth-service - <<'POLICY'
path "secret/data/exchange-credentials/*" { capabilities = ["create", "read", "update", "delete", "list"] }
path "secret/metadata/exchange-credentials/*" { capabilities = ["read", "list", "delete"] }
path "transit/encrypt/*" { capabilities = ["update"] }
path "transit/decrypt/*" { capabilities = ["update"] }
path "transit/sign/*" { capabilities = ["update"] }
path "transit/verify/*" { capabilities = ["update"] }
path "transit/keys/*" { capabilities = ["create", "read", "update"] }
POLICY
