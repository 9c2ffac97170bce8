"""Print a child token limited to one or more policies, for a service that must not run with
the operator's token:

    VAULT_ADDR=... VAULT_TOKEN=<operator> python -m eip.vault.token eip-auth-service --period 24h
    VAULT_ADDR=... VAULT_TOKEN=<operator> python -m eip.vault.token eip-readonly --ttl 768h

``--period`` makes a periodic token: no maximum TTL, each renewal resets its TTL to the period,
so a service that renews it within every period (the auth service renews at half) keeps it for
good, and one that stops renewing loses it within a period. Creating one needs a root or
``sudo`` operator token. ``--ttl`` (the default, 768h) makes an ordinary token, renewable only
up to Vault's max TTL.

The token is printed on stdout only (for ``export VAULT_TOKEN=$(...)``), never logged.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import sys

from eip.vault.client import VaultClient, VaultError, VaultUnavailable


async def _create(policies: list[str], ttl: str, period: str | None) -> int:
    addr, token = os.environ.get("VAULT_ADDR", ""), os.environ.get("VAULT_TOKEN", "")
    if not token:
        print("error: VAULT_TOKEN is empty", file=sys.stderr)
        return 2
    try:
        async with VaultClient(addr, token) as client:
            print(await client.create_token(policies, ttl=ttl, period=period))
    except (VaultError, VaultUnavailable) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m eip.vault.token")
    parser.add_argument("policies", nargs="+")
    lifetime = parser.add_mutually_exclusive_group()
    lifetime.add_argument("--ttl", default="768h", help="an ordinary token's TTL (default 768h)")
    lifetime.add_argument("--period", help="a periodic token's period, e.g. 24h")
    args = parser.parse_args(argv)
    return asyncio.run(_create(args.policies, args.ttl, args.period))


if __name__ == "__main__":
    sys.exit(main())
