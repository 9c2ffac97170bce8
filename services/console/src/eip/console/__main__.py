from eip.console.app import build_app
from eip.console.settings import ConsoleSettings
from eip.runtime import run_service

if __name__ == "__main__":
    run_service(ConsoleSettings, build_app)
