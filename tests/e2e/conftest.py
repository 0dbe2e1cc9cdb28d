"""Shared end-to-end fixtures: `billsync sandbox` running as a process."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

RUN = [sys.executable, "-c", "from core.cli import main; main()"]


@pytest.fixture
def sandbox(tmp_path: Path):
    """`billsync sandbox` on a free port with the demo firm's Clio records; stopped with SIGTERM."""
    seed = tmp_path / "seed.json"
    subprocess.run(
        [
            sys.executable,
            "-c",
            (
                "import json, sys; from datetime import datetime, UTC;"
                "from core.demo_data import generate_firm; from core.plugins import load, DEMO_SEEDS;"
                "firm = generate_firm(timekeepers=5, clients=8, matters=16, activities=150, seed=2);"
                "json.dump({'clio': load(DEMO_SEEDS, 'clio')(firm, now=datetime(2026, 11, 1, tzinfo=UTC))},"
                " open(sys.argv[1], 'w'))"
            ),
            str(seed),
        ],
        check=True,
        timeout=120,
    )
    config = tmp_path / "sandbox.toml"
    with serve_sandbox(seed, config):
        yield config


@contextmanager
def serve_sandbox(seed: Path, config: Path, rate_limit: int = 100_000) -> Iterator[str]:
    """`billsync sandbox --seed seed --write-config config` on a free port; yields its base URL.

    `rate_limit`: Clio's requests a minute per token (the default lets nothing wait)."""
    process = subprocess.Popen(
        [
            *RUN,
            "sandbox",
            "--port",
            "0",
            "--seed",
            str(seed),
            "--write-config",
            str(config),
            "--rate-limit",
            str(rate_limit),
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        env={**os.environ, "COLUMNS": "200"},
    )
    line = ""
    deadline = time.monotonic() + 60
    while not (line.startswith("sandboxes ") and " at " in line) and time.monotonic() < deadline:
        line = process.stdout.readline() if process.stdout else ""
    assert line.startswith("sandboxes ") and " at " in line, line
    try:
        yield line.split(" at ", 1)[1].split(";", 1)[0].strip()
    finally:
        process.send_signal(signal.SIGTERM)
        assert process.wait(timeout=15) == 0  # SIGTERM is a clean stop
