from eip.automation.app import build_app
from eip.automation.settings import AutomationSettings
from eip.runtime import run_service

if __name__ == "__main__":
    run_service(AutomationSettings, build_app)
