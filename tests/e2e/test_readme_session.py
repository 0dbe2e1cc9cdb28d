"""The README's sandbox session, run line by line exactly as README.md writes it, as a person would.

The fenced block after "A session against the sandbox, from nothing" is read from README.md here,
so the README and this test cannot drift apart. Each line runs as a process of the `billsync`
script `make` installs, in an empty folder; a line ending in `&` runs in the background and the
next line waits until it says it is serving, as a person waits for that line. Every command must
succeed, and what each step is for is checked in its output.
"""

from __future__ import annotations

import os
import re
import shlex
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

pytestmark = pytest.mark.e2e
ROOT = Path(__file__).resolve().parents[2]
BILLSYNC = str(Path(sys.executable).with_name("billsync"))
ENV = {**os.environ, "COLUMNS": "200"}


def readme_session() -> list[str]:
    """The lines of the README's sandbox session."""
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    after = readme.split("A session against the sandbox, from nothing", 1)[1]
    block = re.search(r"^```\n(.*?)^```$", after, re.M | re.S)
    assert block, "the README's sandbox session has no fenced block"
    return [line for line in block[1].splitlines() if line.strip()]


def argv(line: str) -> tuple[list[str], bool]:
    """A line as a process's arguments (its comment dropped), and whether it runs in the background."""
    words = shlex.split(line, comments=True)
    background = words[-1] == "&"
    words = words[:-1] if background else words
    assert words[0] == "billsync", line
    return [BILLSYNC, *words[1:]], background


def test_the_session_covers_what_a_firm_tries_first() -> None:
    commands = [" ".join(argv(line)[0][1:3]) for line in readme_session()]
    for step in ("sandbox --port", "connect clio", "check --config", "sync --once", "review approve", "bill run"):
        assert any(c.startswith(step) for c in commands), (step, commands)
    assert any(c.startswith("bill ledes") for c in commands) and any(c.startswith("pay ") for c in commands)


def test_the_readme_session_runs_as_written(tmp_path: Path) -> None:
    background: list[subprocess.Popen[str]] = []
    said: dict[str, str] = {}
    try:
        for line in readme_session():
            args, in_background = argv(line)
            if in_background:
                server = subprocess.Popen(
                    args, cwd=tmp_path, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=ENV
                )
                background.append(server)
                ready, deadline = "", time.monotonic() + 180
                while "sandboxes " not in ready and time.monotonic() < deadline and server.poll() is None:
                    ready = server.stdout.readline() if server.stdout else ""
                assert "sandboxes " in ready, f"{line}\n{ready}"
                said[line] = ready
                continue
            done = subprocess.run(args, cwd=tmp_path, capture_output=True, text=True, timeout=600, env=ENV, check=False)
            assert done.returncode == 0, f"{line}\n{done.stdout[-3000:]}\n{done.stderr[-3000:]}"
            said[line] = done.stdout
    finally:
        for server in background:
            server.send_signal(signal.SIGTERM)
            server.wait(timeout=30)
    out = {" ".join(shlex.split(line, comments=True)[1:3]): text for line, text in said.items()}
    assert "sandboxes clio, netdocuments, microsoft365, lawpay at" in out["sandbox --port"]
    assert out["connect clio"].startswith("clio connected for firm demo")
    for vendor in ("clio", "netdocuments", "microsoft365"):
        assert f"firm demo: {vendor} reachable, credentials accepted" in out["check --config"]
    assert "firm demo: lawpay reachable, the payments section's accounts found" in out["check --config"]
    assert "microsoft365:calendar_events" in out["sync --once"] and "netdocuments:documents" in out["sync --once"]
    assert re.search(r"showing 1(?:-\d+)? of \d+ entr(?:y|ies)", out["review list"])
    assert re.match(r"approved [1-9]\d* entr(y|ies) on matter 0008-0008", out["review approve"])
    assert "PB-2026-10-0008-0008" in out["bill run"]
    ledes = out["bill ledes"].splitlines()
    assert ledes[0] == "LEDES1998B[]" and len(ledes) >= 3  # a header, then one line per entry billed
    assert all("|12-3456789|" in row for row in ledes[2:])  # the written config's placeholder LAW_FIRM_ID
    base = out["sandbox --port"].split(" at ", 1)[1].split(";", 1)[0]
    assert f"{base}/lawpay/pages/sandbox-law/trust?amount=250000&reference=TRUST+8" in out["pay retainer"]
    assert "total" in out["pay ledger"]
