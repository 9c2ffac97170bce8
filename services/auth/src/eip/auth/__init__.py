"""The auth service: the only holder of exchange secrets (Vault), the issuer of service tokens
(ES256, signed in Vault Transit), and the writer of credential actions into the audit chain.
Design: docs/ARCHITECTURE.md, section "Auth"."""

__version__ = "0.1.0"
