"""Bybit: the 2021 ``realtime`` API's books and its trade and ticker frames, for replaying old
captures (ccxt reads v5 only; live data goes through the generic ccxt adapter). Registered in
``eip.exchanges.registry``."""
