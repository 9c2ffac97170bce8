"""HTX's balance codes, found through ``registry.asset_codes``.

HTX sends currencies in lower case (``usdt``); upper-casing is all they need.
No alias is known to be needed; the recorded balance response in
``tests/payloads/balances/`` is the check that this stays true.
"""

from __future__ import annotations

from eip.exchanges.contract.symbols import AssetCodes

ASSET_CODES = AssetCodes()
