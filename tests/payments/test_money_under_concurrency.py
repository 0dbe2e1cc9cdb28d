"""What a busy billing department does at once, on SQLite and on PostgreSQL: several workers charge
one invoice, apply one client's trust, refund a deposit that is being spent. Each worker has its
own database engine and HTTP client against the LawPay sandbox on a real port.

The figures a person checks are computed here by hand: an invoice of $1,050.00 takes $1,050.00
once; $40.00 of trust pays $40.00 once; a $100.00 deposit gives at most $100.00 back in all.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from decimal import Decimal
from typing import Any

import pytest

from config.payments import ClientPayments
from core.errors import BillsyncError
from core.payments import charges, transfers
from core.payments.firm import FirmPayments
from core.payments.models import IntentStatus
from core.payments.routing import TrustViolation
from tests.payments.served_gateway import ServedGateway, bill, serve_gateway

WORKERS = 4


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def served(request: pytest.FixtureRequest, tmp_path) -> Iterator[ServedGateway]:
    url = (
        f"sqlite:///{tmp_path / 'billsync.db'}"
        if request.param == "sqlite"
        else request.getfixturevalue("postgres_url")
    )
    firm = f"firm-{request.node.name[-40:]}".replace("[", "-").replace("]", "")
    yield from serve_gateway(url, firm, c1=ClientPayments(retainer_deduction="on_request"))


def at_once(served: ServedGateway, work: Callable[[FirmPayments, int], Any], workers: int = WORKERS) -> list[Any]:
    """Run `work` on `workers` threads released together; each result or the exception it raised."""
    gate = threading.Barrier(workers)
    results: list[Any] = [None] * workers
    pool = [served.worker() for _ in range(workers)]

    def run(i: int) -> None:
        gate.wait()
        try:
            results[i] = work(pool[i], i)
        except Exception as exc:  # what each worker saw is the result
            results[i] = exc

    threads = [threading.Thread(target=run, args=(i,)) for i in range(workers)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=120)
    for fp in pool:
        fp.store.close()
    return results


def test_three_workers_charging_one_invoice_take_it_once(served: ServedGateway) -> None:
    served.issue(bill("INV-1050", "1050.00"))

    results = at_once(served, lambda fp, _: charges.charge_invoice(fp, "INV-1050", method="card_good"), workers=3)

    charged = [r for r in results if not isinstance(r, Exception)]
    refused = [r for r in results if isinstance(r, BillsyncError)]
    assert [r.status for r in charged] == [IntentStatus.SUCCEEDED], results
    assert len(refused) == 2 and all("nothing left to charge" in str(r) for r in refused), results
    assert served.cents("CHARGE") == Decimal("1050.00")  # the client paid once
    fp = served.worker()
    assert fp.ledger().invoices["b-INV-1050"].balance == Decimal("0.00")
    fp.store.close()


def test_partial_charges_at_once_never_add_up_past_the_balance(served: ServedGateway) -> None:
    served.issue(bill("INV-900", "1050.00"))

    results = at_once(
        served, lambda fp, _: charges.charge_invoice(fp, "INV-900", method="card_good", amount=Decimal("300.00")), 5
    )

    # 3 x $300 = $900 fits in $1,050; a fourth would make $1,200.
    assert sum(1 for r in results if not isinstance(r, Exception)) == 3, results
    assert served.cents("CHARGE") == Decimal("900.00")
    fp = served.worker()
    assert fp.ledger().invoices["b-INV-900"].balance == Decimal("150.00")
    fp.store.close()


def test_four_transfers_of_forty_from_forty_in_trust_make_one(served: ServedGateway) -> None:
    fp = served.worker()
    deposit = charges.deposit_to_trust(fp, "c1", Decimal("40.00"), method="card_good", matter_id="m1")
    fp.store.close()
    assert deposit.status is IntentStatus.SUCCEEDED
    served.issue(bill("INV-200", "200.00"))

    results = at_once(
        served,
        lambda fp, i: transfers.transfer_from_trust(fp, "INV-200", amount=Decimal("40.00"), reason=f"worker {i}"),
    )

    made = [r for r in results if isinstance(r, list)]
    assert len(made) == 1 and [t.amount for t in made[0]] == [Decimal("40.00")], results
    fp = served.worker()
    ledger = fp.ledger()
    assert ledger.trust("c1", "m1") == Decimal("0.00")  # never -80.00
    assert ledger.invoices["b-INV-200"].balance == Decimal("160.00")
    fp.store.close()


def test_refunds_and_transfers_racing_for_one_deposit_never_spend_more_than_it_holds(served: ServedGateway) -> None:
    fp = served.worker()
    deposit = charges.deposit_to_trust(fp, "c1", Decimal("100.00"), method="card_good", matter_id="m1")
    fp.store.close()
    served.issue(bill("INV-60", "60.00"))
    assert deposit.transaction_id is not None

    def spend(fp: FirmPayments, i: int) -> object:
        if i % 2:
            return transfers.transfer_from_trust(fp, "INV-60", amount=Decimal("60.00"), reason="client approved")
        return charges.refund_charge(fp, deposit.transaction_id or "", Decimal("60.00"))

    results = at_once(served, spend)

    # $60 + $60 > $100: exactly one of the four goes through, whichever comes first.
    assert sum(1 for r in results if not isinstance(r, Exception)) == 1, results
    assert all(isinstance(r, (BillsyncError, TrustViolation)) for r in results if isinstance(r, Exception)), results
    fp = served.worker()
    assert fp.ledger().trust("c1", "m1") == Decimal("40.00")
    refunded = served.cents("REFUND")
    transferred = sum((t.amount for t in fp.payments.transfers(fp.firm)), Decimal("0.00"))
    assert refunded + transferred == Decimal("60.00")
    fp.store.close()
