"""Kraken's names for the simulator's assets and pairs — the one map between the core's codes
and Kraken's, used by every Kraken endpoint so public and private answers agree.

Kraken spells one asset four ways and every client meets all of them:

- the asset id of REST balances and ``Assets`` keys: ``XXBT``, ``XETH``, ``ZUSD`` for the assets
  listed before 2017 (X for crypto, Z for fiat), plain ``USDT``, ``SOL`` for later ones;
- the altname: ``XBT``, ``ETH``, ``USD`` (XBT and XDG are Kraken's own codes for BTC and DOGE);
- the WebSocket v2 name: the common code (``BTC``, ``USD``) — the core's own code here.

A pair follows from its assets: the REST key joins the two asset ids when both are legacy
(``XXBTZUSD``, ``XETHXXBT``) and the altnames otherwise (``XBTUSDT``, ``SOLUSDT``); the altname
always joins altnames (``XBTUSD``); ``wsname`` is the v1 WebSocket name (``XBT/USD``); v2 speaks
``BTC/USD``. Requests may name a pair by key, altname, wsname, v2 symbol or the core symbol.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from eip.exchange_simulator.core.instruments import Instrument

# core code -> (asset id, altname) where Kraken's differ from the core's code.
_LEGACY: dict[str, tuple[str, str]] = {
    "BTC": ("XXBT", "XBT"),
    "ETH": ("XETH", "ETH"),
    "LTC": ("XLTC", "LTC"),
    "XRP": ("XXRP", "XRP"),
    "XLM": ("XXLM", "XLM"),
    "XMR": ("XXMR", "XMR"),
    "ZEC": ("XZEC", "ZEC"),
    "ETC": ("XETC", "ETC"),
    "MLN": ("XMLN", "MLN"),
    "REP": ("XREP", "REP"),
    "DOGE": ("XXDG", "XDG"),
    "USD": ("ZUSD", "USD"),
    "EUR": ("ZEUR", "EUR"),
    "GBP": ("ZGBP", "GBP"),
    "JPY": ("ZJPY", "JPY"),
    "CAD": ("ZCAD", "CAD"),
    "AUD": ("ZAUD", "AUD"),
}
# Decimals Kraken keeps balances in (``Assets.decimals``) and shows (``display_decimals``).
_DECIMALS: dict[str, tuple[int, int]] = {
    "BTC": (10, 5),
    "ETH": (10, 5),
    "USD": (4, 2),
    "EUR": (4, 2),
    "GBP": (4, 2),
    "USDT": (8, 4),
    "USDC": (8, 4),
}
DEFAULT_DECIMALS = (10, 5)
_FIAT = {"USD", "EUR", "GBP", "JPY", "CAD", "AUD", "CHF"}


def asset_id(code: str) -> str:
    """``BTC`` -> ``XXBT``, ``USDT`` -> ``USDT``."""
    return _LEGACY.get(code, (code, code))[0]


def altname(code: str) -> str:
    """``BTC`` -> ``XBT``, ``USD`` -> ``USD``."""
    return _LEGACY.get(code, (code, code))[1]


def is_legacy(code: str) -> bool:
    return code in _LEGACY


def is_fiat(code: str) -> bool:
    return code in _FIAT


def decimals(code: str) -> tuple[int, int]:
    """(balance decimals, display decimals) of an asset, as ``Assets`` reports them."""
    return _DECIMALS.get(code, DEFAULT_DECIMALS)


_BY_KRAKEN_NAME = {name: code for code, names in _LEGACY.items() for name in names}


def core_asset(name: str) -> str:
    """Any Kraken spelling of an asset (``XXBT``, ``XBT``, ``BTC``) -> the core's code."""
    return _BY_KRAKEN_NAME.get(name.upper(), name.upper())


@dataclass(frozen=True)
class PairNames:
    instrument: Instrument
    key: str  # REST result key: XXBTZUSD
    altname: str  # XBTUSD
    wsname: str  # v1 WebSocket: XBT/USD
    v2: str  # v2 WebSocket and ccxt's unified symbol: BTC/USD

    @property
    def symbol(self) -> str:
        return self.instrument.symbol


def pair_names(inst: Instrument) -> PairNames:
    base, quote = inst.base, inst.quote
    alt = altname(base) + altname(quote)
    key = asset_id(base) + asset_id(quote) if is_legacy(base) and is_legacy(quote) else alt
    return PairNames(inst, key, alt, f"{altname(base)}/{altname(quote)}", f"{base}/{quote}")


class Pairs:
    """Every pair of the exchange under each of its names."""

    def __init__(self, instruments: Iterable[Instrument]) -> None:
        self.by_symbol: dict[str, PairNames] = {}
        self._by_name: dict[str, PairNames] = {}
        for inst in sorted(instruments, key=lambda i: i.symbol):
            names = pair_names(inst)
            self.by_symbol[inst.symbol] = names
            for name in (names.key, names.altname, names.wsname, names.v2, inst.symbol):
                self._by_name.setdefault(name.upper(), names)

    def find(self, name: str) -> PairNames | None:
        return self._by_name.get(name.strip().upper())

    def __getitem__(self, symbol: str) -> PairNames:
        return self.by_symbol[symbol]

    def all(self) -> list[PairNames]:
        return list(self.by_symbol.values())
