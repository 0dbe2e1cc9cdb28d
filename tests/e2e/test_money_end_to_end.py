"""Money as a busy billing department moves it: `billsync pay` commands run as processes at the
same moment against `billsync sandbox` (Clio + LawPay), and the figures a person checks in
LawPay's own records and in `pay ledger`, worked out by hand.
"""

from __future__ import annotations

import os
import re
import signal
import socket
import subprocess
import time
from datetime import UTC, date, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
import requests

from config.settings import load_settings
from core.models import BillState, Client, Matter, RemoteBill
from core.store.store import Store
from tests.e2e.test_lawpay_end_to_end import RUN, served  # noqa: F401 - the sandbox fixture

pytestmark = pytest.mark.e2e
PUBLIC_KEY = "m_sandbox-lawpay-public"  # the sandbox merchant's public key (Hosted Fields use it)


def issue(config: Path, number: str, total: str, client: str = "c7", matter: str = "m3") -> None:
    """An invoice as billsync reads it from Clio once a person has issued it there."""
    store = Store.open(load_settings(config).database_url)
    amount = Decimal(total)
    store.save_reference(
        "demo",
        [
            Client(id=client, name="Harbor Insurance"),
            Matter(id=matter, client_id=client, number="00042-Harbor", updated_at=datetime(2026, 10, 1, tzinfo=UTC)),
            RemoteBill(
                id=f"9{number}",
                number=number,
                client_id=client,
                matter_ids=(matter,),
                state=BillState.AWAITING_PAYMENT,
                issued_on=date(2026, 11, 1),
                due_on=date(2026, 12, 1),
                total=amount,
                outstanding=amount,
                updated_at=datetime(2026, 11, 1, tzinfo=UTC),
            ),
        ],
    )
    store.close()


def token(base: str, card: str = "4242424242424242") -> str:
    """A one-time card token, as LawPay's Hosted Fields make one in the client's browser."""
    made = requests.post(
        f"{base}/lawpay/v1/tokens",
        json={
            "public_key": PUBLIC_KEY,
            "type": "card",
            "number": card,
            "exp_month": 12,
            "exp_year": 2030,
        },
        timeout=10,
    )
    made.raise_for_status()
    return str(made.json()["id"])


def at_gateway(base: str, kind: str) -> list[dict[str, Any]]:
    return [t for t in requests.get(f"{base}/_sandbox/lawpay/transactions", timeout=10).json() if t["type"] == kind]


def at_once(config: Path, *commands: list[str]) -> list[subprocess.CompletedProcess[str]]:
    """Start every command before waiting for any: they race as a firm's staff and jobs would."""
    env = {**os.environ, "COLUMNS": "200"}
    running = [
        subprocess.Popen(
            [*RUN, *command, "--config", str(config)],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            env=env,
        )
        for command in commands
    ]
    done = []
    for process, command in zip(running, commands, strict=True):
        out, err = process.communicate(timeout=120)
        done.append(subprocess.CompletedProcess(command, process.returncode, out, err))
    return done


def billsync(config: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [*RUN, *args, "--config", str(config)],
        capture_output=True,
        text=True,
        timeout=120,
        env={**os.environ, "COLUMNS": "200"},
    )


def one_error_line(done: subprocess.CompletedProcess[str]) -> str:
    """A refusal is exactly one line starting `error:`, and never a traceback."""
    assert done.returncode != 0, done.stdout
    text = (done.stdout + done.stderr).strip()
    assert "Traceback" not in text and len(text.splitlines()) == 1, text
    assert text.startswith("error: "), text
    return text


def test_money_moved_at_once_by_several_processes_is_never_moved_twice(served) -> None:  # noqa: F811
    config, base = served

    # Three people press "charge" on the same $1,050.00 invoice at the same moment.
    issue(config, "1050", "1050.00")
    charged = at_once(config, *(["pay", "charge", "1050", "--method", token(base)] for _ in range(3)))
    assert sorted(c.returncode for c in charged) == [0, 2, 2], [c.stdout + c.stderr for c in charged]
    for refused in (c for c in charged if c.returncode):
        assert "nothing left to charge" in one_error_line(refused)
    assert [c["amount"] for c in at_gateway(base, "CHARGE")] == [105000]  # the client paid once

    # $40.00 in trust; four transfers of $40.00 to a $200.00 invoice at once.
    deposit = billsync(config, "pay", "retainer", "c7", "--matter", "m3", "--amount", "40.00", "--method", token(base))
    assert deposit.returncode == 0 and "succeeded" in deposit.stdout, deposit.stdout + deposit.stderr
    issue(config, "1200", "200.00")
    moved = at_once(
        config, *(["pay", "transfer", "1200", "--amount", "40.00", "--reason", "client ok"] for _ in range(4))
    )
    assert sorted(m.returncode for m in moved) == [0, 2, 2, 2], [m.stdout + m.stderr for m in moved]
    ledger = billsync(config, "pay", "ledger", "--client", "c7").stdout
    # c7/m3 (Harbor Insurance, matter 00042-Harbor): billed 1,250.00; paid 1,050.00 + 40.00;
    # outstanding 160.00; trust 40.00 - 40.00 = 0.00.
    row = next(line for line in ledger.splitlines() if " Harbor Insurance " in line)
    cells = [c.strip() for c in row.split("│") if c.strip()]
    assert cells == ["Harbor Insurance", "00042-Harbor", "1,250.00", "1,090.00", "160.00", "0.00", "0.00"], ledger

    # A $100.00 retainer, $60.00 of it applied to an invoice: a refund of $100.00 is refused.
    retainer = billsync(
        config, "pay", "retainer", "c7", "--matter", "m3", "--amount", "100.00", "--method", token(base)
    )
    assert retainer.returncode == 0, retainer.stdout + retainer.stderr
    charge_id = max(at_gateway(base, "CHARGE"), key=lambda t: t["created"])["id"]
    issue(config, "1060", "60.00")
    assert billsync(config, "pay", "transfer", "1060", "--reason", "client approved").returncode == 0
    refused = one_error_line(billsync(config, "pay", "refund", charge_id, "--amount", "100.00"))
    assert "holds $40.00" in refused and "other clients' trust money never pays a refund" in refused.lower(), refused
    assert at_gateway(base, "REFUND") == []
    assert "trust_refund_refused" in billsync(config, "pay", "tasks").stdout
    returned = billsync(config, "pay", "refund", charge_id, "--amount", "40.00")
    assert returned.returncode == 0 and "succeeded" in returned.stdout, returned.stdout + returned.stderr
    assert [r["amount"] for r in at_gateway(base, "REFUND")] == [4000]

    # What a person might type instead of an amount: one line each, nothing charged.
    for text in ("sNaN", "Infinity", "1e3", "\uff11\uff10\uff10.\uff10\uff10", "12.345", "[red]5[/red]"):
        line = one_error_line(billsync(config, "pay", "charge", "1200", "--method", "x", "--amount", text))
        assert "is not an amount" in line and text in line, line
    assert len(at_gateway(base, "CHARGE")) == 3

    # The account configured as operating is set up in LawPay as a trust account: no money moves.
    flagged = requests.post(f"{base}/_sandbox/lawpay/accounts/acct_operating_card/trust", json={}, timeout=10)
    flagged.raise_for_status()
    line = one_error_line(billsync(config, "pay", "charge", "1200", "--method", token(base)))
    assert "payments.operating_account names" in line and "a trust account" in line, line
    line = one_error_line(billsync(config, "pay", "link", "1200"))
    assert "payments.operating_account names" in line, line
    assert len(at_gateway(base, "CHARGE")) == 3


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def test_a_lawpay_webhook_wakes_the_payments_job(served) -> None:  # noqa: F811
    config, _ = served
    issue(config, "7000", "70.00")
    port = free_port()
    public = f"http://127.0.0.1:{port}"
    daemon = subprocess.Popen(
        [*RUN, "run", "--config", str(config), "--port", str(port), "--public-url", public],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        env={**os.environ, "COLUMNS": "200"},
    )
    store = Store.open(load_settings(config).database_url)
    try:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            try:
                if requests.get(f"{public}/readyz", timeout=1).status_code == 200:
                    break
            except requests.ConnectionError:
                time.sleep(0.1)
        # The payments job runs once at start (its next run is 5 minutes away): wait for it.
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline and not _position(store):
            time.sleep(0.2)
        assert _position(store), "the payments job did not run at start"
        link = re.search(r"(http://\S+)", billsync(config, "pay", "link", "7000").stdout)
        assert link is not None
        paid = requests.post(
            link[1],
            data={"number": "4242424242424242", "exp_month": "12", "exp_year": "2030", "name": "Pat Client"},
            timeout=10,
        )
        assert paid.status_code == 200
        assert _paid(store) == Decimal("0.00")  # nobody has read LawPay's events yet

        # LawPay's delivery (unsigned, untrusted): only a doorbell; the job reads the events API.
        rung = requests.post(f"{public}/hooks/lawpay/demo", json={"id": "evt_whatever", "type": "x"}, timeout=5)
        assert rung.status_code == 200, rung.text
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline and _paid(store) != Decimal("70.00"):
            time.sleep(0.2)
        assert _paid(store) == Decimal("70.00")
    finally:
        daemon.send_signal(signal.SIGTERM)
        daemon.wait(timeout=40)
        store.close()


def _position(store: Store) -> bool:
    from core.store.payments import PaymentStore

    return PaymentStore(store.engine).cursor("demo", "lawpay") is not None


def _paid(store: Store) -> Decimal:
    from core.store.payments import PaymentStore

    found = [t for t in PaymentStore(store.engine).transactions("demo") if (t.reference or "").startswith("7000")]
    return sum((t.amount for t in found if t.kind == "charge"), Decimal("0.00"))


HOSTILE = '[/bold] [link=http://evil.example]click[/link] [red]X =HYPERLINK("x")'


def test_what_a_careless_or_hostile_person_types_moves_no_money_and_breaks_no_list(served) -> None:  # noqa: F811
    config, base = served
    issue(config, "3000", "300.00")
    issue(config, "3100", "50.00", client="c9", matter="m9")

    # A charge the card declines is not a success for a script either.
    declined = billsync(
        config, "pay", "charge", "3000", "--amount", "10.00", "--method", token(base, "4000000000000002")
    )
    assert declined.returncode == 1 and "declined" in declined.stdout, declined.stdout + declined.stderr

    # The id `pay charge` prints is the one a person later refunds with.
    charged = billsync(config, "pay", "charge", "3000", "--amount", "100.00", "--method", token(base))
    assert charged.returncode == 0, charged.stdout + charged.stderr
    intent_id = charged.stdout.split()[1].rstrip(":")
    refunded = billsync(config, "pay", "refund", intent_id, "--amount", "1.00")
    assert refunded.returncode == 0 and "succeeded" in refunded.stdout, refunded.stdout + refunded.stderr

    # Markup in a recorded reason is shown as typed, in every list that shows it.
    deposit = billsync(config, "pay", "retainer", "c7", "--matter", "m3", "--amount", "5.00", "--method", token(base))
    assert deposit.returncode == 0, deposit.stdout + deposit.stderr
    moved = billsync(config, "pay", "transfer", "3000", "--amount", "1.00", "--reason", HOSTILE)
    assert moved.returncode == 0, moved.stdout + moved.stderr
    tasks = billsync(config, "pay", "tasks")
    assert tasks.returncode == 0 and "Traceback" not in tasks.stdout + tasks.stderr, tasks.stderr
    assert "[/bold]" in " ".join(tasks.stdout.split()) and "[link=http://evil.example]" in tasks.stdout.replace(
        "\n", ""
    )

    # Trust is held only for a client (and one of its own matters) the PMS knows.
    assert "no client" in one_error_line(
        billsync(config, "pay", "retainer", "[/bold]", "--amount", "5.00", "--method", token(base))
    )
    assert "no client" in one_error_line(
        billsync(config, "pay", "retainer", "c" * 130, "--amount", "5.00", "--method", token(base))
    )
    assert "is not a matter of client 'c7'" in one_error_line(
        billsync(config, "pay", "retainer", "c7", "--matter", "m9", "--amount", "5.00", "--method", token(base))
    )
    assert "no charge or refund" in one_error_line(billsync(config, "pay", "resolve", "[/bold]", "--not-charged"))
    assert "more than billsync takes" in one_error_line(
        billsync(config, "pay", "charge", "3000", "--method", "x", "--amount", "9999999999.99")
    )
    assert "x" * 41 not in one_error_line(
        billsync(config, "pay", "charge", "3000", "--method", "x", "--amount", "x" * 10_000)
    )

    # A trust -> operating transfer checks LawPay's flags too.
    requests.post(f"{base}/_sandbox/lawpay/accounts/acct_operating_card/trust", json={}, timeout=10).raise_for_status()
    assert "a trust account" in one_error_line(
        billsync(config, "pay", "transfer", "3000", "--amount", "1.00", "--reason", "client ok")
    )
    ledger = billsync(config, "pay", "ledger", "--client", "c7").stdout
    assert " Harbor Insurance " in ledger and "total" not in ledger, ledger
