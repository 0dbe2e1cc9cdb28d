"""A billing cycle over the real store (SQLite and PostgreSQL), and following the PMS bills it became."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from decimal import Decimal

import pytest

from config.billing import Advance, BillingSettings
from core.billing.cycle import run_billing_cycle
from core.billing.lifecycle import follow_bills
from core.billing.model import PreBillStatus
from core.billing.period import month
from core.errors import Fatal
from core.models import BillLine, BillState, EntryState, RemoteBill
from core.store.billing import BillingStore
from core.store.sync_state import SyncState
from tests.capture import capture_engine
from tests.factories import activity, client, matter, timekeeper

OCTOBER = month("2026-10")
START = datetime(2026, 10, 5, 14, 0, tzinfo=UTC)


def capture(store, firm_id, count: int, first: datetime = START) -> list[str]:
    """`count` approved, posted 12-minute calls on matter m1, one a day; returns the entry ids."""
    store.save_reference(firm_id, [timekeeper(), client(), matter()])
    before = {e.id for e in store.entries(firm_id)}
    capture_engine(store, firm_id).capture(
        [
            activity(
                external_id=f"call-{first:%m%d%H%M}-{i}",
                started_at=first + timedelta(days=i),
                duration_seconds=720,
                title=f"settlement terms for claim {i}",
            )
            for i in range(count)
        ]
    )
    made = [e for e in store.entries(firm_id) if e.id not in before]
    state = SyncState(store.engine)
    for n, e in enumerate(made):
        state.apply_remote(firm_id, e.id, {"state": EntryState.POSTED.value, "remote_id": f"{70000 + n + len(before)}"})
    return [e.id for e in made]


def test_a_cycle_bills_approved_entries_once_and_rebuilds_only_unapproved_drafts(store, firm_id) -> None:
    ids = capture(store, firm_id, 3)
    waiting = capture(store, firm_id, 1, first=START + timedelta(days=10))
    store.set_entry_state(firm_id, waiting[0], EntryState.NEEDS_REVIEW)  # not approved: never billed
    capture(store, firm_id, 1, first=datetime(2026, 11, 2, 14, tzinfo=UTC))  # after the period
    result = run_billing_cycle(store, firm_id, BillingSettings(), OCTOBER, today=lambda: date(2026, 11, 1))
    [prebill] = result.prebills
    assert sorted(prebill.entry_ids) == sorted(ids)
    assert prebill.total == Decimal("240.00")  # 3 x 0.2 h x 400
    stored = BillingStore(store.engine).prebill(firm_id, prebill.number)
    assert stored == prebill  # every line and every cent round-trips exactly

    again = run_billing_cycle(store, firm_id, BillingSettings(), OCTOBER)
    [rebuilt] = again.prebills
    assert rebuilt.id != prebill.id and rebuilt.number == prebill.number
    assert len(BillingStore(store.engine).prebills(firm_id)) == 1  # replaced, never duplicated

    BillingStore(store.engine).approve(firm_id, rebuilt.id, datetime.now(UTC))
    more = capture(store, firm_id, 1, first=START + timedelta(days=20))
    third = run_billing_cycle(store, firm_id, BillingSettings(), OCTOBER)
    assert third.prebills == [] and [p.id for p in third.kept] == [rebuilt.id]
    assert third.waiting == more  # its matter's October pre-bill is approved: it waits
    assert BillingStore(store.engine).billed_entry_ids(firm_id) == set(ids)


class Clio:
    """An in-memory bill state machine with Clio's documented transitions (docs/vendors/clio.md §3.13)."""

    def __init__(self, states: dict[str, BillState]) -> None:
        self.states = states
        self.OFFERS = {
            BillState.DRAFT: (BillState.AWAITING_APPROVAL, BillState.AWAITING_PAYMENT),
            BillState.AWAITING_APPROVAL: (BillState.DRAFT, BillState.AWAITING_PAYMENT),
        }
        self.moves: list[tuple[str, BillState]] = []

    def move_bill(self, bill_id: str, state: BillState) -> BillState:
        if state not in self.OFFERS.get(self.states[bill_id], ()):
            raise Fatal(f"bill {bill_id} does not offer {state.value}")
        self.states[bill_id] = state
        self.moves.append((bill_id, state))
        return state


def bill_for(store, firm_id, prebill, *, drop: int = 0, bill_id: str = "501", state=BillState.DRAFT) -> RemoteBill:
    lines = [
        BillLine(work_date=ln.work_date, hours=ln.units, rate=ln.unit_cost, amount=ln.base, remote_id=ln.remote_id)
        for ln in prebill.lines
    ][drop:]
    bill = RemoteBill(
        id=bill_id, number=f"INV-{bill_id}", client_id=prebill.client_id, matter_ids=(prebill.matter_id,),
        state=state, total=sum((ln.amount for ln in lines), Decimal("0.00")), lines=tuple(lines),
        issued_on=date(2026, 11, 2), updated_at=datetime.now(UTC),
    )  # fmt: skip
    store.save_reference(firm_id, [bill])
    return bill


@pytest.mark.parametrize("approved", [True, False])
def test_a_matching_bill_is_recorded_and_moved_only_when_policy_and_approval_allow(store, firm_id, approved) -> None:
    capture(store, firm_id, 2)
    [prebill] = run_billing_cycle(store, firm_id, BillingSettings(), OCTOBER).prebills
    if approved:
        BillingStore(store.engine).approve(firm_id, prebill.id, datetime.now(UTC))
    bill_for(store, firm_id, prebill)
    clio = Clio({"501": BillState.DRAFT})
    settings = BillingSettings(advance=Advance.AWAITING_PAYMENT)
    [followed] = follow_bills(store, firm_id, settings, clio)
    assert (followed.outcome, followed.prebill_number, followed.differences) == ("matched", prebill.number, ())
    stored = BillingStore(store.engine).prebill(firm_id, prebill.id)
    assert stored is not None and stored.status is PreBillStatus.MATCHED
    assert (stored.pms_bill_id, stored.pms_bill_number) == ("501", "INV-501")
    if approved:
        assert clio.moves == [("501", BillState.AWAITING_PAYMENT)] and stored.pms_state == "awaiting_payment"
    else:
        assert clio.moves == [] and "not approved" in followed.note and stored.pms_state == "draft"


def test_a_mismatched_bill_is_reported_and_never_moved(store, firm_id) -> None:
    capture(store, firm_id, 2)
    [prebill] = run_billing_cycle(store, firm_id, BillingSettings(), OCTOBER).prebills
    BillingStore(store.engine).approve(firm_id, prebill.id, datetime.now(UTC))
    bill_for(store, firm_id, prebill, drop=1)  # the person left the first entry off
    clio = Clio({"501": BillState.DRAFT})
    [followed] = follow_bills(store, firm_id, BillingSettings(advance=Advance.AWAITING_PAYMENT), clio)
    assert followed.outcome == "mismatch" and clio.moves == []
    assert followed.differences[0].startswith("missing from the bill: line 1")
    stored = BillingStore(store.engine).prebill(firm_id, "INV-501")  # found by the PMS bill number too
    assert stored is not None and stored.status is PreBillStatus.MISMATCH and stored.differences == followed.differences


def test_the_firm_policy_off_never_moves_and_a_refusal_is_reported(store, firm_id) -> None:
    capture(store, firm_id, 1)
    [prebill] = run_billing_cycle(store, firm_id, BillingSettings(), OCTOBER).prebills
    BillingStore(store.engine).approve(firm_id, prebill.id, datetime.now(UTC))
    bill_for(store, firm_id, prebill)
    clio = Clio({"501": BillState.DRAFT})
    [off] = follow_bills(store, firm_id, BillingSettings(), clio)
    assert clio.moves == [] and "advance = off" in off.note
    clio.states["501"] = BillState.AWAITING_APPROVAL  # a person moved it meanwhile; the stored copy still says draft
    clio.OFFERS = {BillState.AWAITING_APPROVAL: (BillState.DRAFT,)}
    [refused] = follow_bills(store, firm_id, BillingSettings(advance=Advance.AWAITING_PAYMENT), clio)
    assert refused.moved_to is None and "did not move the bill" in refused.note


def test_a_voided_bill_voids_its_prebill_and_frees_its_entries_for_the_next_cycle(store, firm_id) -> None:
    ids = capture(store, firm_id, 2)
    [prebill] = run_billing_cycle(store, firm_id, BillingSettings(), OCTOBER).prebills
    BillingStore(store.engine).approve(firm_id, prebill.id, datetime.now(UTC))
    bill_for(store, firm_id, prebill)
    follow_bills(store, firm_id, BillingSettings(), None)
    bill_for(store, firm_id, prebill, state=BillState.VOID)
    [followed] = follow_bills(store, firm_id, BillingSettings(), None)
    assert followed.outcome == "void"
    assert BillingStore(store.engine).billed_entry_ids(firm_id) == set()
    november = run_billing_cycle(store, firm_id, BillingSettings(), month("2026-11")).prebills
    assert sorted(november[0].entry_ids) == sorted(ids)
    # October work on the November pre-bill: billed, and the declared period starts at its first line.
    earliest = min(line.work_date for line in november[0].lines)
    assert earliest < date(2026, 11, 1)
    assert (november[0].period_start, november[0].period_end) == (earliest, date(2026, 11, 30))
    assert {f.rule for f in november[0].findings} == {"earlier_work"}


def test_a_bill_nobody_prepared_is_reported(store, firm_id) -> None:
    store.save_reference(firm_id, [timekeeper(), client(), matter()])
    stray = RemoteBill(
        id="9", client_id="c1", matter_ids=("m1",), state=BillState.DRAFT, total=Decimal("10.00"),
        updated_at=datetime.now(UTC),
    )  # fmt: skip
    store.save_reference(firm_id, [stray])
    [followed] = follow_bills(store, firm_id, BillingSettings(), None)
    assert followed.outcome == "no_prebill" and followed.prebill_number is None


def test_work_approved_after_its_months_prebill_went_out_is_billed_next_month_in_a_period_that_holds_it(
    store, firm_id
) -> None:
    first = datetime(2026, 9, 1, 14, tzinfo=UTC)
    capture(store, firm_id, 2, first=first)  # 1 and 2 September
    [september] = run_billing_cycle(store, firm_id, BillingSettings(), month("2026-09")).prebills
    BillingStore(store.engine).approve(firm_id, september.id, datetime.now(UTC))  # out to the client
    late = capture(store, firm_id, 1, first=first + timedelta(minutes=30))  # also 1 September, approved later
    october_work = capture(store, firm_id, 1)  # 5 October
    result = run_billing_cycle(store, firm_id, BillingSettings(), OCTOBER)
    [october] = result.prebills
    assert october.entry_ids == (late[0], october_work[0])
    # Both pre-bills of the matter start on 1 September; each is its own month's, told apart by its end.
    assert (october.period_start, october.period_end) == (date(2026, 9, 1), date(2026, 10, 31))
    assert [(p.number, p.period_start, p.period_end) for p in BillingStore(store.engine).prebills(firm_id)] == [
        (september.number, date(2026, 9, 1), date(2026, 9, 30)),
        (october.number, date(2026, 9, 1), date(2026, 10, 31)),
    ]
    assert [f.rule for f in october.findings] == ["earlier_work"]
    assert result.not_in_pms == []


def test_a_cycle_names_the_entries_whose_approval_is_not_in_the_pms_yet(store, firm_id) -> None:
    posted, pending = capture(store, firm_id, 2)
    store.set_entry_state(firm_id, pending, EntryState.APPROVED)  # approved; its write waits in the outbox
    result = run_billing_cycle(store, firm_id, BillingSettings(), OCTOBER)
    assert sorted(result.prebills[0].entry_ids) == sorted([posted, pending])
    assert result.not_in_pms == [pending]


def test_a_discount_agreed_after_the_work_was_captured_comes_off_the_bill(store, firm_id) -> None:
    """The fresh-eyes trial: a firm syncs first and sets its agreements afterwards."""
    capture(store, firm_id, 3)  # captured with no discount: 3 x 0.2 h x 400 = 240.00
    agreed = BillingSettings.model_validate({"matters": {"m1": {"discount": {"kind": "percent", "value": "10"}}}})
    [prebill] = run_billing_cycle(store, firm_id, agreed, OCTOBER, today=lambda: date(2026, 11, 1)).prebills
    assert prebill.total == Decimal("216.00")  # 240.00 less 10 %
    assert [line.adjustment for line in prebill.lines] == [Decimal("-8.00")] * 3  # 80.00 x 10 % off each call
    assert {line.unit_cost for line in prebill.lines} == {Decimal("400")}  # the rate itself never changes
