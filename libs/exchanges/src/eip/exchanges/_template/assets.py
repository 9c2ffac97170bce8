"""<Venue>'s balance codes, found through ``registry.asset_codes`` (every venue package has one).

List here only what ``normalize_asset`` does not already read: the venue's own names of an
asset (``aliases``), codes counted in a smaller unit (``units``), balances the venue reports
apart from spot (``wallet_suffixes``, ``earn_prefix``, ``wallets``); see
``contract.symbols.AssetCodes``. Check it on a recorded balance response of the venue
(``tests/payloads/balances/``).
"""

from __future__ import annotations

from eip.exchanges.contract.symbols import AssetCodes

ASSET_CODES = AssetCodes()
