from eip.order_management.app import build_app
from eip.order_management.settings import OrderManagementSettings
from eip.runtime import run_service

if __name__ == "__main__":
    run_service(OrderManagementSettings, build_app)
