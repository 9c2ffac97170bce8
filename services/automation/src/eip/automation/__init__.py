"""The automation service: trading rules (a condition, an action, limits) evaluated on the live
market-data streams, each firing written once as an order-management command, and
cross-exchange arbitrage detection from the published order books (docs/AUTOMATION.md)."""

__version__ = "0.1.0"
