from eip.market_data.app import build_app
from eip.market_data.settings import MarketDataSettings
from eip.runtime import run_service

if __name__ == "__main__":
    run_service(MarketDataSettings, build_app)
