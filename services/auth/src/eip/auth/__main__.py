from eip.auth.app import build_app
from eip.auth.settings import AuthSettings
from eip.runtime import run_service

if __name__ == "__main__":
    run_service(AuthSettings, build_app)
