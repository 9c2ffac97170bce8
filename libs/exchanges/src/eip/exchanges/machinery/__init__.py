"""The machinery every venue package runs on, in one place: nothing here knows a venue.

- ``venue_rest``, ``venue_stream``: the REST GET loop (rate-limit wait, breaker, retries) and the
  WebSocket loop (reconnect, resubscribe) of the native market-data adapters;
  ``native_adapter``: what those adapters share (health, symbols, watchdog); ``health``: stream
  health and its metrics; ``private_state``: what a trading adapter's private stream has
  delivered (each order forward only, each fill once) and what a catch-up must ask for;
  ``private_feed``: a trading adapter's private stream as its consumer's iterator — the queue,
  the stream task and watchdog, emission through ``private_state``, catch-up after a reconnect.
- ``transport``: how book feeds reach a venue (one WebSocket connection type, one REST GET,
  injectable); ``ws_book_feed``: the connection loop, staleness and event emission every
  WebSocket book feed shares; ``book_metrics``: their metrics; ``timeparse``: RFC 3339 times.
- ``capture``: the one reader/writer of recorded captures (``data/recorded/README.md``);
  ``recording`` / ``replay_transport``: a transport that records traffic / serves a capture;
  ``replay``: the market-data replay command (``python -m eip.exchanges.machinery.replay``).
"""
