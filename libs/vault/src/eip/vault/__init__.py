"""Async client for the parts of the Vault HTTP API the platform uses."""

from eip.vault.client import VaultClient, VaultError, VaultUnavailable

__all__ = ["VaultClient", "VaultError", "VaultUnavailable"]
