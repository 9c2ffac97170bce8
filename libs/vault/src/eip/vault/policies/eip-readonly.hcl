# Operators and dashboards: which credentials exist and when they changed, never their values.
path "secret/metadata/exchange-credentials/*" {
  capabilities = ["read", "list"]
}
