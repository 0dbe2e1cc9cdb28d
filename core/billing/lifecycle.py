"""Following the bills people generate in the PMS: match each to its pre-bill, record it, move it along.

A bill is moved (draft -> awaiting approval or awaiting payment) only when all of these hold:
it matches its pre-bill exactly; the firm's `billing.advance` allows that state; the reviewing
partner approved the pre-bill (unless the firm turned that off); the pre-bill has no Block
finding; and the PMS offers the transition. Anything else is reported, and the bill is left alone.
A voided or deleted bill voids its pre-bill, so its entries are billed again next cycle.
A bill that lacks only entries whose approval is not written to the PMS yet is told apart from a
real difference: its pre-bill is `waiting_for_pms`, and the note says to sync, then update the bill.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING

import structlog

from config.billing import Advance, BillingSettings
from core.billing.model import PreBill, PreBillStatus
from core.billing.reconcile import Comparison, compare, entries_by_remote_id, find_prebill
from core.connector import BillWriter, MovesBills, StreamRole
from core.errors import Fatal, Retryable
from core.logging import figures
from core.models import BillState, EntryState, RemoteBill, Severity
from core.store.billing import BillingStore
from core.store.store import Store

if TYPE_CHECKING:
    from core.sync import SyncReport

_ORDER = (BillState.DRAFT, BillState.AWAITING_APPROVAL, BillState.AWAITING_PAYMENT)
_GONE = frozenset({BillState.VOID, BillState.DELETED})


@dataclass(frozen=True, slots=True)
class FollowUp:
    """What happened to one PMS bill."""

    bill_id: str
    bill_number: str | None
    state: BillState  # after any move
    prebill_number: str | None
    outcome: str  # matched, mismatch, waiting_for_pms, no_prebill, void
    differences: tuple[str, ...] = ()
    moved_to: BillState | None = None
    note: str = ""


def follow_bills(
    store: Store,
    firm_id: str,
    settings: BillingSettings,
    writer: BillWriter | None,
    bills: Sequence[RemoteBill] | None = None,
) -> list[FollowUp]:
    """Reconcile every PMS bill (by default those stored by the last poll) with the pre-bills."""
    billing = BillingStore(store.engine)
    bills = store.load_bills(firm_id) if bills is None else bills
    entries = store.entries(firm_id)
    by_remote_id = entries_by_remote_id(entries)
    current_remote_ids = {e.id: e.remote_id for e in entries}
    not_in_pms = frozenset(e.id for e in entries if e.state is EntryState.APPROVED)  # approval still in the outbox
    prebills = billing.prebills(firm_id)
    results = []
    for bill in bills:
        if bill.kind != "sale":
            continue  # refunds and credit notes are the ledger's business, not a pre-bill's
        prebill = find_prebill(bill, prebills)
        if prebill is None:
            if bill.state not in _GONE:
                results.append(FollowUp(bill.id, bill.number, bill.state, None, "no_prebill"))
            continue
        if bill.state in _GONE:
            billing.link_bill(
                firm_id, prebill.id, bill_id=bill.id, number=bill.number, state=bill.state.value,
                status=PreBillStatus.VOID, differences=(),
            )  # fmt: skip
            results.append(FollowUp(bill.id, bill.number, bill.state, prebill.number, "void"))
            continue
        fresh = _with_current_remote_ids(prebill, current_remote_ids)
        comparison = compare(fresh, bill, by_remote_id, settings.match_tolerance, not_in_pms)
        status = _status_of(comparison)
        explained = comparison.differences + comparison.not_in_pms
        billing.link_bill(
            firm_id, prebill.id, bill_id=bill.id, number=bill.number, state=bill.state.value,
            status=status, differences=explained,
        )  # fmt: skip
        follow = FollowUp(bill.id, bill.number, bill.state, prebill.number, status.value, explained)
        if comparison.not_in_pms:
            follow = replace(
                follow,
                note=f"{len(comparison.not_in_pms)} approved entries are not in the PMS yet: "
                "run `billsync sync`, then update the bill in the PMS",
            )
        if comparison.matches:
            follow = _advance(
                billing, firm_id=firm_id, settings=settings, writer=writer, prebill=fresh, bill=bill, follow=follow
            )
            if follow.moved_to is not None:
                # The stored copy says what the PMS holds now, before the next poll reads it back.
                store.save_reference(firm_id, [bill.model_copy(update={"state": follow.moved_to})])
        results.append(follow)
    figures(
        structlog.get_logger().bind(firm=firm_id),
        "pms bills followed",
        bills_followed=len(results),
        bills_matched=sum(1 for r in results if r.outcome == "matched"),
        bills_mismatched=sum(1 for r in results if r.outcome == "mismatch"),
        bills_waiting_for_pms=sum(1 for r in results if r.outcome == "waiting_for_pms"),
        bills_moved=sum(1 for r in results if r.moved_to is not None),
    )  # a daemon poll's summary line carries these (core.logging.figures)
    return results


def _status_of(comparison: Comparison) -> PreBillStatus:
    if comparison.matches:
        return PreBillStatus.MATCHED
    if comparison.waits_for_pms:
        return PreBillStatus.WAITING_FOR_PMS  # not a real difference: the PMS is behind billsync
    return PreBillStatus.MISMATCH


def _advance(
    billing: BillingStore,
    *,
    firm_id: str,
    settings: BillingSettings,
    writer: BillWriter | None,
    prebill: PreBill,
    bill: RemoteBill,
    follow: FollowUp,
) -> FollowUp:
    why_not = _why_not(settings, writer, prebill, bill)
    if why_not is not None:
        return replace(follow, note=why_not)
    assert writer is not None  # _why_not refuses without one
    target = BillState(settings.advance.value)
    try:
        moved = writer.move_bill(bill.id, target)
    except (Fatal, Retryable) as exc:
        # Refused (the PMS no longer offers the move) or not now: reported, tried again next time.
        return replace(follow, note=f"the PMS did not move the bill: {exc}")
    billing.set_pms_state(firm_id, prebill.id, moved.value)
    return replace(follow, state=moved, moved_to=moved)


def _why_not(settings: BillingSettings, writer: BillWriter | None, prebill: PreBill, bill: RemoteBill) -> str | None:
    if settings.advance is Advance.OFF:
        return "the firm moves bills by hand (billing.advance = off)"
    if writer is None:
        return "this PMS does not let billsync change a bill's state"
    target = BillState(settings.advance.value)
    if bill.state not in _ORDER or _ORDER.index(bill.state) >= _ORDER.index(target):
        return f"already {bill.state.value}"
    if any(f.severity is Severity.BLOCK for f in prebill.findings):
        return "the pre-bill has Block findings"
    if settings.advance_requires_approval and prebill.approved_at is None:
        return "the pre-bill is not approved yet (billsync bill approve)"
    return None


def _with_current_remote_ids(prebill: PreBill, current: dict[str, str | None]) -> PreBill:
    """The pre-bill with each entry's PMS id as it is now (an entry may be posted after the cycle)."""
    lines = tuple(
        replace(ln, remote_id=current.get(ln.entry_id) or ln.remote_id) if ln.entry_id is not None else ln
        for ln in prebill.lines
    )
    return replace(prebill, lines=lines)


def bill_writer_of(connector: object) -> BillWriter | None:
    """The connector's bill writer (MovesBills); None for a PMS that does not let billsync move bills."""
    return connector.bills() if isinstance(connector, MovesBills) else None


def follow_new_bills(
    store: Store, firm_id: str, settings: BillingSettings, connector: object, report: SyncReport
) -> list[FollowUp]:
    """After a poll: follow the PMS bills it brought in (nothing to do when it read none)."""
    if not report.read_by_role[StreamRole.BILLS]:
        return []
    return follow_bills(store, firm_id, settings, bill_writer_of(connector))
