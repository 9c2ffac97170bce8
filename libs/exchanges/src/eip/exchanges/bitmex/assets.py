"""BitMEX's balance codes (``/api/v1/user/margin``, ``/api/v1/user/wallet``), found through
``registry.asset_codes``.

BitMEX counts margin in each currency's smallest unit and spells that unit in mixed case
(``XBt`` satoshis, ``USDt`` micro-tether, ``Gwei``): the exact-case code carries the scale, so
an amount times ``scale`` is in the platform's asset. ``XBT`` (upper case) is bitcoin itself.
"""

from __future__ import annotations

from decimal import Decimal

from eip.exchanges.contract.symbols import AssetCodes, BalanceAsset

ASSET_CODES = AssetCodes(
    units={
        "XBt": BalanceAsset("BTC", scale=Decimal("0.00000001")),  # satoshi
        "USDt": BalanceAsset("USDT", scale=Decimal("0.000001")),  # micro-tether
        "Gwei": BalanceAsset("ETH", scale=Decimal("0.000000001")),
    },
)
