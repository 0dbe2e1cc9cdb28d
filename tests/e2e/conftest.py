"""Shared end-to-end fixtures: `billsync sandbox` running as a process."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator, Sequence
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
                "from billsync_sandboxes.demo.data import generate_firm; from core.plugins import load, DEMO_SEEDS;"
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
def serve_sandbox(
    seed: Path,
    config: Path,
    rate_limit: int | None = 100_000,
    *,
    serving: str | None = None,
    command: Sequence[str] = RUN,
) -> Iterator[str]:
    """`billsync sandbox --seed seed --write-config config` on a free port; yields its base URL.

    `rate_limit`: Clio's requests a minute per token (the default lets nothing wait; None leaves
    the sandbox's own). `serving`: the vendors the start line must name, as it names them
    ("clio, netdocuments"); None accepts any. `command`: how billsync is run (the installed
    script, for tests that run it as IT staff do). Stopped with SIGTERM, which must be a clean stop."""
    limit = [] if rate_limit is None else ["--rate-limit", str(rate_limit)]
    process = subprocess.Popen(
        [*command, "sandbox", "--port", "0", "--seed", str(seed), "--write-config", str(config), *limit],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        env={**os.environ, "COLUMNS": "200"},
    )
    line = ""
    deadline = time.monotonic() + 60
    while not _started(line, serving) and time.monotonic() < deadline:
        line = process.stdout.readline() if process.stdout else ""
    assert _started(line, serving), line
    try:
        yield line.split(" at ", 1)[1].split(";", 1)[0].strip()
    finally:
        process.send_signal(signal.SIGTERM)
        assert process.wait(timeout=15) == 0  # SIGTERM is a clean stop


def _started(line: str, serving: str | None) -> bool:
    """Whether `line` is the sandbox's start line (naming exactly `serving`, when given)."""
    if serving is not None:
        return line.startswith(f"sandboxes {serving} at ")
    return line.startswith("sandboxes ") and " at " in line
