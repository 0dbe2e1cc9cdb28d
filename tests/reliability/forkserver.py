"""The client side of tests/reliability/crash_child.py: run `billsync` commands as forked processes."""

from __future__ import annotations

import json
import os
import select
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[2]


class ForkServer:
    """The crash_child fork server, and the runs it forks."""

    def __init__(self, log: Path) -> None:
        self.log = log
        self.process = subprocess.Popen(
            [sys.executable, "-m", "tests.reliability.crash_child"],
            cwd=REPO,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            env={**os.environ, "PYTHONPATH": str(REPO)},
        )
        self._buffer = b""

    def _line(self, timeout: float | None) -> dict[str, Any] | None:
        assert self.process.stdout is not None
        fd = self.process.stdout.fileno()
        deadline = None if timeout is None else time.monotonic() + timeout
        while b"\n" not in self._buffer:
            left = None if deadline is None else max(0.0, deadline - time.monotonic())
            ready, _, _ = select.select([fd], [], [], left)
            if not ready:
                return None
            chunk = os.read(fd, 4096)
            if not chunk:
                raise AssertionError("the fork server died")
            self._buffer += chunk
        line, self._buffer = self._buffer.split(b"\n", 1)
        return dict(json.loads(line))

    def run(self, args: list[str], *, crash_at: str | None = None, kill_after: float | None = None) -> tuple[int, bool]:
        """Run `billsync <args>`; SIGKILL it after `kill_after` seconds if still running. (exit, killed)."""
        assert self.process.stdin is not None
        request = {"args": args, "log": str(self.log), "crash_at": crash_at}
        self.process.stdin.write((json.dumps(request) + "\n").encode())
        self.process.stdin.flush()
        started = self._line(timeout=60)
        assert started is not None and "pid" in started
        finished = self._line(timeout=kill_after if kill_after is not None else 120)
        killed = False
        if finished is None:
            if kill_after is None:
                raise AssertionError("a billsync run took longer than 120 s")
            os.kill(started["pid"], signal.SIGKILL)  # our own child, by its id
            killed = True
            finished = self._line(timeout=30)
        assert finished is not None and finished["pid"] == started["pid"]
        return int(finished["exit"]), killed

    def close(self) -> None:
        assert self.process.stdin is not None
        self.process.stdin.close()
        self.process.wait(timeout=30)
