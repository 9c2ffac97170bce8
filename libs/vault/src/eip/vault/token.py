"""Print a child token limited to one or more policies, for a service that must not run with
the operator's token:

    VAULT_ADDR=... VAULT_TOKEN=<operator> python -m eip.vault.token eip-auth-service --ttl 768h

The token is printed on stdout only (for ``export VAULT_TOKEN=$(...)``), never logged.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import sys

from eip.vault.client import VaultClient, VaultError, VaultUnavailable


async def _create(policies: list[str], ttl: str) -> int:
    addr, token = os.environ.get("VAULT_ADDR", ""), os.environ.get("VAULT_TOKEN", "")
    if not token:
        print("error: VAULT_TOKEN is empty", file=sys.stderr)
        return 2
    try:
        async with VaultClient(addr, token) as client:
            print(await client.create_token(policies, ttl=ttl))
    except (VaultError, VaultUnavailable) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m eip.vault.token")
    parser.add_argument("policies", nargs="+")
    parser.add_argument("--ttl", default="768h")
    args = parser.parse_args(argv)
    return asyncio.run(_create(args.policies, args.ttl))


if __name__ == "__main__":
    sys.exit(main())
