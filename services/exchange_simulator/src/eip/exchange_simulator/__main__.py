from eip.exchange_simulator.app import build_app
from eip.exchange_simulator.settings import SimulatorSettings
from eip.runtime import run_service

if __name__ == "__main__":
    run_service(SimulatorSettings, build_app)
