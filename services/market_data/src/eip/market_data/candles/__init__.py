"""Candles built from the trade stream (md.trades.v1 → md.candles.v1)."""
