"""The platform's Vault client: an async facade over hvac for the parts of the Vault API the
platform uses (see ``eip.vault.client``)."""

from eip.vault.client import VaultClient, VaultError, VaultUnavailable

__all__ = ["VaultClient", "VaultError", "VaultUnavailable"]
