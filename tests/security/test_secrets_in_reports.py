"""A failing test's report never shows the infrastructure's secrets.

CI printed PostgreSQL's password and the Vault root token: a failing test's report lists its
arguments, and one held the services' environment. The inner run here fails on purpose with
those secrets in its arguments, its assertion, its captured output and its log.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

PASSWORD = "pg-password-4c1d9e"
TOKEN = "hvs.vault-token-77aa03"

FAILING = """
import logging

def test_fails_holding_the_secrets(database_url, vault_endpoint):
    env = {"DATABASE_URL": database_url, "VAULT_TOKEN": vault_endpoint.token}
    print("stdout:", env)
    logging.getLogger("t").warning("log: %s", env)
    assert env == {}, f"message: {env}"
"""


def test_a_failing_tests_report_masks_the_database_password_and_the_vault_token(
    tmp_path: Path,
) -> None:
    (tmp_path / "test_inner.py").write_text(FAILING)
    env = {
        **os.environ,
        "DATABASE_URL": f"postgresql://eip:{PASSWORD}@127.0.0.1:1/eip",
        "VAULT_ADDR": "http://127.0.0.1:1",
        "VAULT_TOKEN": TOKEN,
    }
    plugins = ["-p", "eip.testing.plugin", "-p", "no:cacheprovider"]
    run = subprocess.run(  # noqa: S603 - pytest on our own file
        [sys.executable, "-m", "pytest", *plugins, "-rA", str(tmp_path / "test_inner.py")],
        capture_output=True,
        text=True,
        env=env,
        cwd=tmp_path,  # its own rootdir: none of the project's settings
        timeout=120,
    )
    output = run.stdout + run.stderr
    assert run.returncode == 1, output  # the inner test did fail and was reported
    assert "test_fails_holding_the_secrets" in output
    for where in ("message:", "stdout:", "log:"):
        assert where in output, f"the report lost its {where!r} part:\n{output}"
    assert PASSWORD not in output
    assert TOKEN not in output
    assert output.count("***") >= 4, output
