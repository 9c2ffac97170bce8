"""Gate.io's balance codes, found through ``registry.asset_codes``.

Gate.io names currencies by their usual codes, in upper case (``currency``).
No alias is known to be needed; the recorded balance response in
``tests/payloads/balances/`` is the check that this stays true.
"""

from __future__ import annotations

from eip.exchanges.contract.symbols import AssetCodes

ASSET_CODES = AssetCodes()
