"""`billsync check` holds the payments section's accounts against the gateway's own trust flags.

The firm's operating and trust account ids are typed by a person: one that names an account the
gateway flags the other way, or no account at all, fails the check with one line naming the
setting, before any money can be routed by it (core.payments.routing.verify_accounts, which the
payments also run before money moves). Runs as processes against `billsync sandbox`.
"""

from __future__ import annotations

import tomllib
from pathlib import Path

import pytest
import tomli_w

from tests.e2e.test_sandbox_cli import EXAMPLE_SEED, Sandbox, billsync

pytestmark = pytest.mark.e2e


@pytest.mark.parametrize(
    ("accounts", "says"),
    [
        # The example merchant's card accounts swapped (config/examples/sandbox-seed.json): the
        # first setting checked is named.
        (
            {"operating_account": "acct_trust_card", "trust_account": "acct_operating_card"},
            "payments.operating_account names 'IOLTA Trust (card)', which the gateway reports as a trust account",
        ),
        (
            {"trust_account": "acct_nowhere"},
            "payments.trust_account = 'acct_nowhere' is not an active account at the gateway",
        ),
    ],
)
def test_an_account_the_gateway_flags_otherwise_or_does_not_hold_fails_the_check_in_one_line(
    tmp_path: Path, accounts: dict[str, str], says: str
) -> None:
    sandbox = Sandbox(tmp_path, "--seed", str(EXAMPLE_SEED), "--write-config", "s.toml")
    try:
        connected = billsync("connect", "clio", "--config", "s.toml", "--auto-approve", cwd=tmp_path)
        assert connected.returncode == 0, connected.stdout + connected.stderr
        config = tomllib.loads((tmp_path / "s.toml").read_text())
        config["firms"]["demo"]["payments"].update(accounts)
        wrong = tmp_path / "wrong.toml"
        wrong.write_text(tomli_w.dumps(config))
        wrong.chmod(0o600)
        checked = billsync("check", "--config", "wrong.toml", cwd=tmp_path)
    finally:
        sandbox.stop()
    assert checked.returncode == 1, checked.stdout + checked.stderr
    said = (checked.stdout + checked.stderr).splitlines()
    assert [line for line in said if "payments" in line or "lawpay" in line] == [f"firm demo: payments: {says}"]
    # Only the payments section is wrong: everything else the firm configured still checks out.
    assert "firm demo: clio reachable, credentials accepted" in said
    assert "Traceback" not in checked.stderr
