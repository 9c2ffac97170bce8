import sys

from fastapi import FastAPI

from eip.exchange_simulator.app import build_app
from eip.exchange_simulator.core.instruments import InstrumentsFileError
from eip.exchange_simulator.settings import SimulatorSettings
from eip.exchange_simulator.simulator import ReplayFileError
from eip.runtime import run_service


def build_or_refuse(settings: SimulatorSettings) -> FastAPI:
    """A replay capture or an instruments file that cannot be used stops the start with its
    reason, not a traceback."""
    try:
        return build_app(settings)
    except (ReplayFileError, InstrumentsFileError) as exc:
        print(exc, file=sys.stderr)  # as run_service reports a bad setting: plainly, exit 2
        sys.exit(2)


if __name__ == "__main__":
    run_service(SimulatorSettings, build_or_refuse)
