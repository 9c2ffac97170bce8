"""OKX's balance codes, found through ``registry.asset_codes``.

OKX names currencies by their usual codes, in upper case (``ccy``).
No alias is known to be needed; the recorded balance response in
``tests/payloads/balances/`` is the check that this stays true.
"""

from __future__ import annotations

from eip.exchanges.contract.symbols import AssetCodes

ASSET_CODES = AssetCodes()
