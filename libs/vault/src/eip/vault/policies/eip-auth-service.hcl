# The auth service: the only holder of exchange secrets. Full use of the credentials tree and
# the Transit keys it encrypts and signs with; nothing else.
path "secret/data/exchange-credentials/*" {
  capabilities = ["create", "read", "update", "delete", "list"]
}
path "secret/metadata/exchange-credentials/*" {
  capabilities = ["read", "list", "delete"]
}
path "transit/keys/eip-*" {
  capabilities = ["create", "read", "update"]
}
path "transit/encrypt/eip-*" {
  capabilities = ["update"]
}
path "transit/decrypt/eip-*" {
  capabilities = ["update"]
}
path "transit/sign/eip-*" {
  capabilities = ["update"]
}
path "transit/verify/eip-*" {
  capabilities = ["update"]
}
