"""`billsync sandbox` as a firm first meets it: seeds it cannot serve, the example seed, the written config.

Every command runs as a process through the `billsync` script `make` installs. Expected values are
read off the committed example seed (config/examples/sandbox-seed.json) by hand.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
import tomllib
from collections.abc import Iterator
from pathlib import Path

import pytest

pytestmark = pytest.mark.e2e
ROOT = Path(__file__).resolve().parents[2]
BILLSYNC = str(Path(sys.executable).with_name("billsync"))
EXAMPLE_SEED = ROOT / "config" / "examples" / "sandbox-seed.json"
ENV = {**os.environ, "COLUMNS": "200"}


def billsync(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run([BILLSYNC, *args], capture_output=True, text=True, timeout=180, check=False, cwd=cwd, env=ENV)


def one_error_line(done: subprocess.CompletedProcess[str]) -> str:
    """The command failed with exit code 2 and said why in one line, with no traceback."""
    assert done.returncode == 2, done.stdout + done.stderr
    lines = (done.stdout + done.stderr).strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: "), lines
    return lines[0]


class Sandbox:
    """`billsync sandbox ... --port 0` in the background, stopped with SIGTERM."""

    def __init__(self, folder: Path, *args: str) -> None:
        self.process = subprocess.Popen(
            [BILLSYNC, "sandbox", "--port", "0", *args],
            cwd=folder,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            env=ENV,
        )
        self.line, deadline = "", time.monotonic() + 120
        while "sandboxes " not in self.line and time.monotonic() < deadline and self.process.poll() is None:
            self.line = self.process.stdout.readline() if self.process.stdout else ""
        assert "sandboxes " in self.line, self.line

    def stop(self) -> None:
        self.process.send_signal(signal.SIGTERM)
        assert self.process.wait(timeout=30) == 0


@pytest.fixture
def folder(tmp_path: Path) -> Iterator[Path]:
    yield tmp_path


@pytest.mark.parametrize(
    ("seed", "says"),
    [
        ({}, "serves no vendor"),
        ([], "serves no vendor"),
        ({"clio": []}, "'clio' must be an object of record lists"),
        ({"clio": {"users": "nobody"}}, "clio records cannot be loaded"),
        ({"fax": {}}, "nothing named 'fax' is installed"),
        (  # accounts without ids
            {"lawpay": {"accounts": [{"trust_account": False}, {"trust_account": True}], "pages": [{"slug": "p"}]}},
            "lawpay records cannot configure a firm: KeyError: 'id'",
        ),
    ],
)
def test_a_seed_the_sandbox_cannot_serve_is_one_line_and_leaves_no_file(folder: Path, seed: object, says: str) -> None:
    (folder / "seed.json").write_text(json.dumps(seed))
    line = one_error_line(
        billsync("sandbox", "--port", "0", "--seed", "seed.json", "--write-config", "s.toml", cwd=folder)
    )
    assert says in line
    assert sorted(p.name for p in folder.iterdir()) == ["seed.json"]  # no stray key file, no config


def make_key_file(path: Path, what: str) -> None:
    if what == "folder":
        path.mkdir()
    else:
        contents = {"text": b"correct horse battery staple\n", "bytes": b"\xff\xfe\x00\x01", "empty": b""}[what]
        path.write_bytes(contents)


@pytest.mark.parametrize("what", ["text", "bytes", "empty", "folder"])
def test_an_existing_key_file_without_a_key_is_one_line_and_is_kept(folder: Path, what: str) -> None:
    """A `.key` beside the config may be a firm's own: never replaced, never reused if it holds no key."""
    key = folder / "s.key"
    make_key_file(key, what)
    before = key.read_bytes() if key.is_file() else None
    line = one_error_line(
        billsync("sandbox", "--port", "0", "--seed", str(EXAMPLE_SEED), "--write-config", "s.toml", cwd=folder)
    )
    problem = "exists but cannot be read" if what == "folder" else "exists and holds no secret key"
    assert line.startswith(f"error: the secret key file s.key {problem}"), line
    assert "it is kept (tokens encrypted with it would be lost): move it away for a new one" in line
    assert "horse" not in line
    assert not (folder / "s.toml").exists()  # nothing written, nothing served
    assert (key.read_bytes() if key.is_file() else None) == before


def test_a_key_file_that_is_not_text_is_one_line_for_the_commands_that_read_it(folder: Path) -> None:
    sandbox = Sandbox(folder, "--seed", str(EXAMPLE_SEED), "--write-config", "s.toml")
    try:
        (folder / "s.key").write_bytes(b"\xff\xfe\x00\x01")  # replaced after the config was written
        line = one_error_line(billsync("connect", "clio", "--config", "s.toml", "--auto-approve", cwd=folder))
    finally:
        sandbox.stop()
    assert line.startswith("error: secret_key_file ") and line.endswith(
        "s.key is not text, so it holds no secret key (32 url-safe base64-encoded bytes)"
    ), line


def test_two_systems_of_record_cannot_make_one_firm(folder: Path) -> None:
    (folder / "seed.json").write_text(json.dumps({"clio": {}, "practicepanther": {}}))
    line = one_error_line(
        billsync("sandbox", "--port", "0", "--seed", "seed.json", "--write-config", "s.toml", cwd=folder)
    )
    assert "2 PMSs (clio, practicepanther)" in line
    assert sorted(p.name for p in folder.iterdir()) == ["seed.json"]


@pytest.mark.parametrize("pms", ["netdocuments", "lawpay", "[bold]clio[/bold]"])
def test_the_demo_refuses_a_pms_that_cannot_take_entries_before_starting_anything(folder: Path, pms: str) -> None:
    """NetDocuments (an activity source) and LawPay (a payment gateway) cannot take time entries:
    the demo says which can, in one line, instead of a month that writes nothing."""
    line = one_error_line(billsync("demo", "--activities", "20", "--pms", pms, cwd=folder))
    said, able = line.split(" (choose one of: ")
    assert said == f"error: --pms {pms}: not a PMS connector with a sandbox"
    assert {"clio", "practicepanther"} <= set(able.rstrip(")").split(", ")) and "lawpay" not in able
    assert list(folder.iterdir()) == []


def test_seed_and_demo_firm_are_one_or_the_other(folder: Path) -> None:
    assert "--seed FILE" in one_error_line(billsync("sandbox", "--port", "0", cwd=folder))
    both = billsync("sandbox", "--port", "0", "--seed", str(EXAMPLE_SEED), "--demo-firm", cwd=folder)
    assert "not both" in one_error_line(both)


def test_connect_says_the_sandbox_has_no_users_rather_than_a_forgery(folder: Path) -> None:
    (folder / "seed.json").write_text(json.dumps({"clio": {}}))
    sandbox = Sandbox(folder, "--seed", "seed.json", "--write-config", "s.toml")
    try:
        line = one_error_line(billsync("connect", "clio", "--config", "s.toml", "--auto-approve", cwd=folder))
    finally:
        sandbox.stop()
    assert line == "error: the authorization request was refused (HTTP 422): the sandbox has no users to authorize as"


def test_the_example_seed_gives_a_config_using_every_vendor_it_serves(folder: Path) -> None:
    sandbox = Sandbox(folder, "--seed", str(EXAMPLE_SEED), "--write-config", "s.toml")
    try:
        assert sandbox.line.startswith("sandboxes clio, netdocuments, microsoft365, lawpay at http://127.0.0.1:")
        firm = tomllib.loads((folder / "s.toml").read_text())["firms"]["demo"]
        base = sandbox.line.split(" at ", 1)[1].split(";", 1)[0]
        assert firm["pms"] == "clio"
        assert firm["sources"] == ["netdocuments", "microsoft365"]
        assert set(firm["connectors"]) == {"clio", "netdocuments", "microsoft365", "lawpay"}
        # The example merchant's test-mode accounts, by their trust flags, and its two hosted pages.
        assert firm["payments"] == {
            "gateway": "lawpay",
            "operating_account": "acct_operating_card",
            "operating_bank_account": "acct_operating_bank",
            "trust_account": "acct_trust_card",
            "trust_bank_account": "acct_trust_bank",
            "operating_page_url": f"{base}/lawpay/pages/sandbox-law/operating",
            "trust_page_url": f"{base}/lawpay/pages/sandbox-law/trust",
        }
        assert firm["billing"]["firm"]["ledes_id"]  # LEDES needs one: the placeholder
        connected = billsync("connect", "clio", "--config", "s.toml", "--auto-approve", cwd=folder)
        assert connected.returncode == 0, connected.stdout + connected.stderr
        checked = billsync("check", "--config", "s.toml", cwd=folder)
        assert checked.returncode == 0, checked.stdout + checked.stderr
        for vendor in ("clio", "netdocuments", "microsoft365"):
            assert f"firm demo: {vendor} reachable, credentials accepted" in checked.stdout
        assert "firm demo: lawpay reachable, the payments section's accounts found" in checked.stdout
        synced = billsync("sync", "--once", "--config", "s.toml", cwd=folder)
        assert synced.returncode == 0, synced.stdout + synced.stderr
        # The example's Clio month: 5 communications, 2 calendar entries, 1 document, 1 note, 2 activities.
        assert "calendar_entries 2, communications 5, contacts 2, documents 1, matters 3" in synced.stdout
        linked = billsync("pay", "retainer", "1", "--amount", "2500.00", "--config", "s.toml", cwd=folder)
        assert linked.returncode == 0, linked.stdout + linked.stderr
        assert f"{base}/lawpay/pages/sandbox-law/trust?amount=250000&reference=TRUST+1" in linked.stdout
    finally:
        sandbox.stop()


# A production install (`pip install .`, the image) has billsync without the sandboxes' distribution.
# This environment has both, so the command runs with billsync-sandboxes hidden: its entry points are
# not listed and its modules cannot be imported, as when it was never installed.
WITHOUT_SANDBOXES = """
import importlib.metadata as metadata
import sys

listed = metadata.entry_points


def entry_points(**selection):
    return metadata.EntryPoints(e for e in listed(**selection) if e.dist is None or e.dist.name != "billsync-sandboxes")


class NotInstalled:
    def find_spec(self, name, path=None, target=None):
        if name.partition(".")[0] == "billsync_sandboxes":
            raise ModuleNotFoundError(name)


metadata.entry_points = entry_points
sys.meta_path.insert(0, NotInstalled())
from core.cli import main

sys.argv[0] = "billsync"
main()
"""


@pytest.mark.parametrize(
    "command",
    [("demo", "--activities", "50"), ("sandbox", "--demo-firm", "--port", "0"), ("sandbox", "--seed", "seed.json")],
)
def test_without_the_sandboxes_demo_and_sandbox_say_how_to_install_them(folder: Path, command: tuple[str, ...]) -> None:
    (folder / "seed.json").write_text(EXAMPLE_SEED.read_text(encoding="utf-8"), encoding="utf-8")
    hidden = subprocess.run(
        [sys.executable, "-c", WITHOUT_SANDBOXES, *command],
        capture_output=True, text=True, timeout=180, check=False, cwd=folder, env=ENV,
    )
    line = one_error_line(hidden)
    assert "sandboxes (billsync-sandboxes) are not installed" in line
    assert "pip install -e ./sandboxes" in line
    assert sorted(p.name for p in folder.iterdir()) == ["seed.json"]  # nothing written, nothing served


@pytest.mark.parametrize("hidden", [True, False])
def test_production_help_lists_no_command_that_needs_the_sandboxes(folder: Path, hidden: bool) -> None:
    """billsync-sandboxes adds `demo` and `sandbox` (billsync.commands); without it --help offers neither."""
    script = WITHOUT_SANDBOXES if hidden else WITHOUT_SANDBOXES.replace(
        "sys.meta_path.insert(0, NotInstalled())", ""
    ).replace("metadata.entry_points = entry_points", "")
    done = subprocess.run(
        [sys.executable, "-c", script, "--help"],
        capture_output=True, text=True, timeout=180, check=False, cwd=folder, env=ENV,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    listed = {line.split()[1] for line in done.stdout.splitlines() if line.startswith("│ ") and len(line.split()) > 1}
    assert "sync" in listed  # the listing is read
    assert ({"demo", "sandbox"} & listed) == (set() if hidden else {"demo", "sandbox"})


def test_the_hidden_sandboxes_are_what_the_demo_needs(folder: Path) -> None:
    """Guard against a test that cannot fail: the same bootstrap, nothing hidden, serves the sandboxes."""
    visible = WITHOUT_SANDBOXES.replace("sys.meta_path.insert(0, NotInstalled())", "").replace(
        "metadata.entry_points = entry_points", ""
    )
    done = subprocess.run(
        [sys.executable, "-c", visible, "sandbox", "--seed", str(folder / "missing.json")],
        capture_output=True, text=True, timeout=180, check=False, cwd=folder, env=ENV,
    )
    assert "cannot read seed" in one_error_line(done)  # got past the sandboxes check to the seed itself
