"""The venue's instrument names ↔ the platform's symbols.

Read the venue's own listing (its instruments or markets endpoint, never a guess at where a
concatenated name splits) into an ``eip.exchanges.contract.symbols.SymbolMap``; put every
asset code through ``normalize_asset`` (``XBT`` is ``BTC``), adding an alias there when the
venue has a code of its own for an asset other venues spell otherwise. Spot pairs are
``BASE/QUOTE``; derivatives keep ccxt's unified form ``BASE/QUOTE:SETTLE[-YYMMDD]``, so a
perpetual never merges into the spot cross-exchange view.

Model: ``binance/symbols.py`` (``exchangeInfo``), ``kraken/symbols.py`` (every spelling of a
pair), ``bitmex/symbols.py`` and ``okx/symbols.py`` (derivatives).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from eip.exchanges.contract.symbols import SymbolMap


def symbol_map(listing: Mapping[str, Any]) -> SymbolMap:
    """From the venue's listing: each instrument id ↔ its platform symbol."""
    raise NotImplementedError
