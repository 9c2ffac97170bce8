from eip.account.app import build_app
from eip.account.settings import AccountSettings
from eip.runtime import run_service

if __name__ == "__main__":
    run_service(AccountSettings, build_app)
