"""Binance spot: native market data (REST on httpx, combined streams on websockets), the depth
book (REST snapshot + ``@depth@100ms`` diffs synced by update ids), trading (signed REST and the
WebSocket API user data stream, signing through the auth service), API key validation, and the
replay of Binance captures. Registered in ``eip.exchanges.registry``."""
