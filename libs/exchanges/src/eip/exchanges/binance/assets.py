"""Binance's balance codes (``/api/v3/account``, ``outboundAccountPosition``), found through
``registry.asset_codes``.

Simple Earn flexible positions are listed in the spot account as ``LD<asset>`` (``LDBTC``):
that asset's ``earn`` wallet, never spot. ``LDO`` (Lido) is a real asset with those letters.
"""

from __future__ import annotations

from eip.exchanges.contract.symbols import AssetCodes

ASSET_CODES = AssetCodes(
    aliases={"YOYO": "YOYOW"},
    earn_prefix="LD",
    prefix_assets=frozenset({"LDO"}),
)
