"""``python run_service.py market-data|order-book``: the real service, as its own process, on
the test's own topic copies (``test.<topic>.<EIP_TEST_TOPIC_SUFFIX>``).

The services' ``__main__`` always publishes to the platform's topics; a test platform running
beside a developer's `make up` (or another test) must not, so this starts the same app the
service's ``__main__`` starts — settings from the environment, ``build_app``, ``serve`` — with
the copies its ``build_app`` takes for exactly this purpose.
"""

from __future__ import annotations

import dataclasses
import os
import sys

from eip.config import load_settings
from eip.events.topics import (
    MD_BOOK_DELTAS,
    MD_BOOK_SNAPSHOTS,
    MD_CANDLES,
    MD_TICKERS,
    MD_TRADES,
    TopicSpec,
)
from eip.observability.http import serve
from eip.observability.logging import configure_logging


def copy(spec: TopicSpec) -> TopicSpec:
    return dataclasses.replace(spec, name=f"test.{spec.name}.{os.environ['EIP_TEST_TOPIC_SUFFIX']}")


def main(service: str) -> None:
    if service == "market-data":
        from eip.market_data.app import build_app as market_data_app
        from eip.market_data.settings import MarketDataSettings

        md = load_settings(MarketDataSettings)
        configure_logging("market-data", md.log_level)
        app = market_data_app(
            md,
            trades_topic=copy(MD_TRADES),
            tickers_topic=copy(MD_TICKERS),
            candles_topic=copy(MD_CANDLES),
        )
        serve(app, md.http_host, md.http_port)
    elif service == "order-book":
        from eip.order_book.app import build_app as order_book_app
        from eip.order_book.settings import OrderBookSettings

        ob = load_settings(OrderBookSettings)
        configure_logging("order-book", ob.log_level)
        app = order_book_app(
            ob, deltas_topic=copy(MD_BOOK_DELTAS), snapshots_topic=copy(MD_BOOK_SNAPSHOTS)
        )
        serve(app, ob.http_host, ob.http_port)
    else:
        raise SystemExit(f"usage: {sys.argv[0]} market-data|order-book")


if __name__ == "__main__":
    main(sys.argv[1])
