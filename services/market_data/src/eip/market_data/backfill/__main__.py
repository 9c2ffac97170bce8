"""Run backfill jobs outside the service (operations, tests):

    python -m eip.market_data.backfill run --adapters module:callable [--until-idle]
    python -m eip.market_data.backfill create --exchange EXCHANGE --symbol BTC/USDT \
        --kind trades --start 2026-11-01T00:00Z --end 2026-11-02T00:00Z

The database and schema come from the service's settings (``DATABASE_URL``,
``MARKET_DATA_HISTORY_SCHEMA``). ``--adapters`` names an async callable returning the
``MarketDataAdapter`` of an exchange id.
"""

from __future__ import annotations

import argparse
import asyncio
import importlib
import json
from datetime import datetime, timedelta
from typing import cast

from eip.config import load_settings
from eip.exchanges.contract.market_data import MarketDataAdapter
from eip.market_data.backfill.runner import AdapterFor, BackfillConfig, BackfillRunner
from eip.market_data.settings import MarketDataSettings
from eip.market_data.storage import JobKind, MarketDataStore
from eip.observability.logging import configure_logging
from eip.storage import open_pool


def _load(path: str) -> AdapterFor:
    module, _, name = path.partition(":")
    if not name:
        raise SystemExit(f"--adapters {path!r}: expected module:callable")
    return cast(AdapterFor, getattr(importlib.import_module(module), name))


def config_from(settings: MarketDataSettings) -> BackfillConfig:
    return BackfillConfig(
        page_limit=settings.history_backfill_page_limit,
        lease=timedelta(seconds=settings.history_backfill_lease_s),
        sequential_id_exchanges=frozenset(settings.history_sequential_id_exchanges),
        max_quiet=timedelta(seconds=settings.history_trade_max_quiet_s),
    )


async def _main(args: argparse.Namespace) -> int:
    settings = load_settings(MarketDataSettings)
    pool = await open_pool(settings.database_url.get_secret_value(), max_size=2)
    try:
        store = MarketDataStore(pool, settings.history_schema)
        await store.migrate()
        if args.command == "create":
            job = await store.create_job(
                args.exchange,
                args.symbol,
                cast(JobKind, args.kind),
                args.timeframe,
                datetime.fromisoformat(args.start),
                datetime.fromisoformat(args.end),
            )
            print(json.dumps({"id": job.id}))
            return 0
        cache: dict[str, MarketDataAdapter] = {}
        factory = _load(args.adapters)

        async def adapter_for(exchange: str) -> MarketDataAdapter:
            if exchange not in cache:
                cache[exchange] = await factory(exchange)
            return cache[exchange]

        runner = BackfillRunner(store, adapter_for, config_from(settings))
        try:
            await runner.run_pending(until_idle=args.until_idle)
        finally:
            for adapter in cache.values():
                await adapter.close()
        return 0
    finally:
        await pool.close()


def main() -> int:
    parser = argparse.ArgumentParser(prog="python -m eip.market_data.backfill")
    sub = parser.add_subparsers(dest="command", required=True)
    run = sub.add_parser("run", help="claim and run queued and interrupted jobs")
    run.add_argument("--adapters", required=True, help="module:callable(exchange) -> adapter")
    run.add_argument("--until-idle", action="store_true", help="exit when no job is left")
    create = sub.add_parser("create", help="queue a job")
    create.add_argument("--exchange", required=True)
    create.add_argument("--symbol", required=True)
    create.add_argument("--kind", choices=["trades", "ohlcv"], required=True)
    create.add_argument("--timeframe", choices=["1m", "5m", "15m", "1h", "4h", "1d"])
    create.add_argument("--start", required=True)
    create.add_argument("--end", required=True)
    args = parser.parse_args()
    configure_logging("market-data-backfill")
    return asyncio.run(_main(args))


if __name__ == "__main__":
    raise SystemExit(main())
