"""The order-book service starts without the libraries it does not use: Vault's client (hvac,
with requests under it, about a second of start-up) is for services that hold credentials, and
ccxt and websockets are imported by a feed when one is built. Checked in a fresh interpreter,
where nothing else imported them."""

from __future__ import annotations

import json
import subprocess
import sys

UNUSED = ("hvac", "requests", "ccxt", "aiohttp", "websockets")

SCRIPT = """
import json, sys
import eip.order_book.app
loaded = sorted({name.split(".")[0] for name in sys.modules} & set(json.loads(sys.argv[1])))
print(json.dumps(loaded))
"""


def test_importing_the_service_app_loads_neither_vault_nor_ccxt_nor_websockets() -> None:
    done = subprocess.run(  # noqa: S603 (this interpreter, the test's own script)
        [sys.executable, "-c", SCRIPT, json.dumps(UNUSED)],
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    assert json.loads(done.stdout.strip().splitlines()[-1]) == []
