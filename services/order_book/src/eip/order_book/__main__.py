from eip.order_book.app import build_app
from eip.order_book.settings import OrderBookSettings
from eip.runtime import run_service

if __name__ == "__main__":
    run_service(OrderBookSettings, build_app)
