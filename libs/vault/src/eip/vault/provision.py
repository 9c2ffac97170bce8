"""Bring a Vault server to the shape the platform expects, idempotently: KV v2 at ``secret/``,
Transit at ``transit/``, and the policies in ``policies/`` (one ``<name>.hcl`` each).

Used by ``deploy/local/vault.sh``, the compose stack and the test fixtures, so every Vault the
platform meets is provisioned the same way:

    VAULT_ADDR=... VAULT_TOKEN=... python -m eip.vault.provision
"""

from __future__ import annotations

import asyncio
import os
import sys
from pathlib import Path

from eip.vault.client import VaultClient, VaultError, VaultUnavailable

POLICY_DIR = Path(__file__).parent / "policies"


def read_policies(policy_dir: Path = POLICY_DIR) -> dict[str, str]:
    return {p.stem: p.read_text() for p in sorted(policy_dir.glob("*.hcl"))}


async def provision(client: VaultClient, policies: dict[str, str] | None = None) -> list[str]:
    """Apply everything; return what changed (engines enabled, policies written)."""
    policies = read_policies() if policies is None else policies
    changed: list[str] = []
    mounts = await client.mounts()
    if "secret/" not in mounts:
        await client.enable_engine("secret", "kv", {"version": "2"})
        changed.append("secret/ (kv v2)")
    elif mounts["secret/"].get("options", {}).get("version") != "2":
        raise VaultError(400, ["secret/ is mounted but is not KV version 2"], "sys/mounts")
    if "transit/" not in mounts:
        await client.enable_engine("transit", "transit")
        changed.append("transit/")
    for name, hcl in policies.items():
        await client.put_policy(name, hcl)
        changed.append(f"policy {name}")
    return changed


async def _main() -> int:
    addr, token = os.environ.get("VAULT_ADDR", ""), os.environ.get("VAULT_TOKEN", "")
    if not token:
        print("error: VAULT_TOKEN is empty", file=sys.stderr)
        return 2
    try:
        async with VaultClient(addr, token) as client:
            for item in await provision(client):
                print(f"provisioned {item}")
    except (VaultError, VaultUnavailable) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(asyncio.run(_main()))
