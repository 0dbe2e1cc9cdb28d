"""Secrets at rest, as a firm's server holds them: the files `billsync` writes are its owner's alone,
and `check-config` (and `check`) say so when a file holding a secret is readable by other accounts.

Every command runs as a process under the usual umask (022, where a new file is 0644 unless the
program asks otherwise), in a folder of its own.
"""

from __future__ import annotations

import os
import stat
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.e2e.test_sandbox_cli import BILLSYNC, ENV, EXAMPLE_SEED, Sandbox

pytestmark = pytest.mark.e2e


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def billsync(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [BILLSYNC, *args], capture_output=True, text=True, timeout=180, check=False, cwd=cwd, env=ENV,
        preexec_fn=lambda: os.umask(0o022),
    )  # fmt: skip


@pytest.fixture
def written(tmp_path: Path) -> Iterator[Path]:
    """A config `billsync sandbox --write-config` wrote (the vendors' client secrets, LawPay's secret
    key), with the sandboxes serving it."""
    previous = os.umask(0o022)  # the sandbox process inherits it
    try:
        sandbox = Sandbox(tmp_path, "--seed", str(EXAMPLE_SEED), "--write-config", "firm.toml")
    finally:
        os.umask(previous)
    yield tmp_path / "firm.toml"
    sandbox.stop()


def test_the_written_config_key_and_database_are_the_owners_alone(written: Path) -> None:
    text = written.read_text()
    assert "client_secret" in text and "secret_key" in text  # what makes the mode matter
    assert mode(written) == 0o600
    assert mode(written.with_suffix(".key")) == 0o600
    assert not written.with_suffix(".db").exists()
    done = billsync("db", "upgrade", "--config", str(written), cwd=written.parent)
    assert done.returncode == 0, done.stdout + done.stderr
    database = written.with_suffix(".db")
    assert mode(database) == 0o600
    for journal in (database.with_name(database.name + "-wal"), database.with_name(database.name + "-shm")):
        assert not journal.exists() or mode(journal) == 0o600  # SQLite gives them the database's mode


def warnings_of(done: subprocess.CompletedProcess[str]) -> list[str]:
    return [line for line in done.stdout.splitlines() if "other users may read it" in line]


@pytest.mark.parametrize("command", ["check-config", "check"])
def test_check_warns_of_a_secret_file_others_may_read(written: Path, command: str) -> None:
    quiet = billsync(command, "--config", str(written), cwd=written.parent)
    assert warnings_of(quiet) == [], quiet.stdout + quiet.stderr

    written.chmod(0o644)
    written.with_suffix(".key").chmod(0o640)
    loud = billsync(command, "--config", str(written), cwd=written.parent)
    if command == "check-config":
        assert loud.returncode == 0, loud.stdout + loud.stderr  # a warning, not a failure
    lines = warnings_of(loud)
    secrets = (
        "firms.demo.connectors.clio.client_secret, firms.demo.connectors.netdocuments.client_secret, "
        "firms.demo.connectors.microsoft365.client_secret, firms.demo.connectors.lawpay.secret_key"
    )  # the example seed's vendors, in the file's order
    assert lines == [
        f"{written} holds secrets ({secrets}), and other users may read it: chmod 600 {written}",
        f"{written.with_suffix('.key')} is the secret key file, and other users may read it:"
        f" chmod 600 {written.with_suffix('.key')}",
    ]


def test_a_config_without_secrets_may_be_readable(tmp_path: Path) -> None:
    """Secrets from the environment only: the file itself holds none, so no warning."""
    config = tmp_path / "firm.toml"
    config.write_text('[firms.acme]\nname = "Acme"\n[firms.acme.connectors.clio]\nclient_id = "app-1"\n')
    config.chmod(0o644)
    secret = {"BILLSYNC_FIRMS__ACME__CONNECTORS__CLIO__CLIENT_SECRET": "from-the-environment"}
    done = subprocess.run(
        [BILLSYNC, "check-config", "--config", str(config)],
        capture_output=True, text=True, timeout=180, check=False, cwd=tmp_path, env={**ENV, **secret},
    )  # fmt: skip
    assert done.returncode == 0, done.stdout + done.stderr  # the section is whole with the environment's secret
    assert "other users may read it" not in done.stdout
