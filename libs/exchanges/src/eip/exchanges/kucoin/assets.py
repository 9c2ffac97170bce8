"""KuCoin's balance codes (``/api/v1/accounts``), found through ``registry.asset_codes``.

KuCoin still lists WAX under its old ticker ``WAX``; the chain's token is ``WAXP`` everywhere
else.
"""

from __future__ import annotations

from eip.exchanges.contract.symbols import AssetCodes

ASSET_CODES = AssetCodes(aliases={"WAX": "WAXP"})
