"""PostgreSQL from deploy/local/postgres.sh, run from a folder other users cannot enter
(issue 10 §2).

As root the server runs as the `postgres` user, which cannot enter a checkout under a mode-700
folder (root's home, `mktemp -d`); the cluster then lives in the postgres user's home, one per
run directory, while the password file stays in the run directory for the invoking user. As any
other user the server runs as that user, in the run directory; the test holds either way.
"""

from __future__ import annotations

import os
import stat
from collections.abc import Callable
from pathlib import Path
from typing import LiteralString

import psycopg
import pytest

from .conftest import LocalScripts, free_port, port_is_free

pytestmark = pytest.mark.integration


def database_url(scripts: LocalScripts) -> str:
    line = scripts.ok("postgres", "env").strip()
    assert line.startswith("export DATABASE_URL=")
    return line.removeprefix("export DATABASE_URL=")


def query(scripts: LocalScripts, sql: LiteralString) -> list[tuple[object, ...]]:
    with psycopg.connect(database_url(scripts), autocommit=True) as conn:
        cursor = conn.execute(sql)
        return cursor.fetchall() if cursor.description else []


def test_two_run_directories_in_a_private_folder_get_a_cluster_each_that_survives_a_stop(
    make_local_scripts: Callable[[str], LocalScripts], tmp_path: Path
) -> None:
    private = tmp_path / "private"
    private.mkdir(mode=0o700)
    private.chmod(0o700)
    first, second = make_local_scripts("private/a"), make_local_scripts("private/b")
    first.env["EIP_PG_PORT"], second.env["EIP_PG_PORT"] = str(free_port()), str(free_port())
    try:
        first.ok("postgres", "start")
        second.ok("postgres", "start")

        # endpoints.json's password_file: the invoking user's own, private, file
        password_file = first.run_dir / "postgres" / "password"
        info = password_file.stat()
        assert info.st_uid == os.getuid()
        assert stat.S_IMODE(info.st_mode) == 0o600
        if os.getuid() == 0:
            # the cluster lives where its server's user can reach it, outside the private folder
            cluster = (first.run_dir / "postgres" / "cluster").resolve()
            assert not cluster.is_relative_to(private)
            assert (cluster / "data" / "PG_VERSION").is_file()
            assert cluster != (second.run_dir / "postgres" / "cluster").resolve()

        query(first, "CREATE TABLE kept (x int); INSERT INTO kept VALUES (42)")
        assert query(second, "SELECT to_regclass('kept') IS NULL") == [(True,)]

        first.ok("postgres", "stop")
        assert port_is_free(int(first.env["EIP_PG_PORT"]))
        assert first.run("postgres", "status").returncode != 0
        first.ok("postgres", "start")
        assert query(first, "SELECT x FROM kept") == [(42,)]
    finally:
        first.run("postgres", "purge")
        second.run("postgres", "purge")
    assert not (first.run_dir / "postgres" / "cluster").exists()
    assert not password_file.exists()


def test_a_new_password_file_beside_a_kept_cluster_becomes_the_clusters_password(
    local_scripts: LocalScripts,
) -> None:
    # A fresh clone at the path of an earlier one: as root the earlier clone's cluster is still
    # in the postgres user's home, while the clone makes a password file of its own (CI's case).
    local_scripts.env["EIP_PG_PORT"] = str(free_port())
    password_file = local_scripts.run_dir / "postgres" / "password"
    try:
        local_scripts.ok("postgres", "start")
        query(local_scripts, "CREATE TABLE kept (x int); INSERT INTO kept VALUES (7)")
        old_password = password_file.read_text()

        local_scripts.ok("postgres", "stop")
        password_file.unlink()
        local_scripts.ok("postgres", "start")
        assert password_file.read_text() != old_password
        assert query(local_scripts, "SELECT x FROM kept") == [(7,)]

        # and while the server runs: `start` on a healthy server still hands out a working URL
        password_file.unlink()
        local_scripts.ok("postgres", "start")
        assert query(local_scripts, "SELECT x FROM kept") == [(7,)]
    finally:
        local_scripts.run("postgres", "purge")
