"""The account service: the exchange accounts connected to each platform account, their live
balances valued in one currency, own trade history, portfolio, PnL and charts
(docs/ACCOUNT.md)."""

__version__ = "0.2.0"
