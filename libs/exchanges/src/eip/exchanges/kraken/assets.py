"""Kraken's balance codes (``Balance`` / ``BalanceEx``), found through ``registry.asset_codes``.

Legacy X/Z-prefixed names (``XXBT``, ``ZUSD``) and ``XBT``/``XDG`` are read by
``normalize_asset``, which every venue's instrument names go through too. What is Kraken's
alone: the symbol extensions of its earn products (docs: Get Extended Balance, "Symbol
Extensions"), read-only balances shown as wallets apart from spot and never added to it, the
lock-up days of legacy staking before ``.S`` (``ATOM21.S``), and ``ETH2``.

``ETH2.S`` (staked ether) and ``ETH2`` (Kraken's ether of the beacon chain outside ``.S``) can be
in one balance response: both are ether, but mapping both to (ETH, staked) would make two rows
of one key and the account would keep only the last. ``ETH2`` is its own wallet, ``eth2``.
"""

from __future__ import annotations

from eip.exchanges.contract.symbols import AssetCodes

ASSET_CODES = AssetCodes(
    aliases={"ETH2": "ETH"},
    wallet_suffixes={
        "S": "staked",  # legacy staking
        "M": "rewards",  # opt-in rewards
        "F": "earn",  # earning automatically in Kraken Rewards
        "B": "yield",  # new yield-bearing products
        "HOLD": "held",  # amounts on hold
    },
    lockup_before_suffix=True,
    wallets={"ETH2": "eth2"},
)
