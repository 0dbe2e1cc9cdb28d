"""A bill a person made in the PMS against its pre-bill: by entry (Clio), by content (PracticePanther)."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, date, datetime
from decimal import Decimal

from config.billing import BillingSettings, MatterBilling
from core.billing.model import PreBill
from core.billing.prebill import History
from core.billing.reconcile import compare, entries_by_remote_id, find_prebill
from core.models import BillLine, BillState, EntryState, RemoteBill
from tests.billing.scenario import LITIGATION, build, entry, reference

NOW = datetime(2026, 11, 3, tzinfo=UTC)


def clio_bill(prebill: PreBill, **kw) -> RemoteBill:
    """The bill Clio generates from exactly the pre-bill's entries (lines show hours x rate)."""
    lines = tuple(
        BillLine(work_date=ln.work_date, hours=ln.units, rate=ln.unit_cost, amount=ln.base, remote_id=ln.remote_id)
        for ln in prebill.lines
    )
    base = {
        "id": "77", "number": "1043", "client_id": prebill.client_id, "matter_ids": (prebill.matter_id,),
        "state": BillState.DRAFT, "issued_on": date(2026, 11, 2), "total": prebill.total, "lines": lines,
        "updated_at": NOW,
    }  # fmt: skip
    return RemoteBill(**(base | kw))


def prebill_of(entries) -> PreBill:
    [prebill] = build(entries)
    return replace(prebill, id="pb1")


def test_a_bill_with_exactly_the_prebills_entries_matches() -> None:
    work = [entry(), entry(work_date=date(2026, 10, 9))]
    prebill = prebill_of(work)
    bill = clio_bill(prebill)
    assert find_prebill(bill, [prebill]) is prebill
    result = compare(prebill, bill, entries_by_remote_id(work))
    assert result.matches and result.by_entry and result.differences == ()


def test_missing_extra_and_unapproved_entries_and_amounts_are_each_reported() -> None:
    work = [entry(), entry(work_date=date(2026, 10, 9)), entry(work_date=date(2026, 10, 12))]
    waiting = entry(state=EntryState.NEEDS_REVIEW, work_date=date(2026, 10, 13))
    prebill = prebill_of(work)
    lines = list(clio_bill(prebill).lines)
    lines.pop(1)  # the person left the second entry off
    lines[1] = replace_line(lines[1], amount=Decimal("250.00"))  # and re-priced the third
    lines.append(
        BillLine(
            work_date=date(2026, 10, 13), hours=Decimal("0.5"), amount=Decimal("200.00"), remote_id=waiting.remote_id
        )
    )
    lines.append(BillLine(work_date=date(2026, 10, 14), hours=Decimal("1"), amount=Decimal("90.00"), remote_id="555"))
    bill = clio_bill(prebill, lines=tuple(lines), total=Decimal("740.00"))
    result = compare(prebill, bill, entries_by_remote_id([*work, waiting]))
    assert not result.matches
    assert result.differences == (
        "missing from the bill: line 2 (2026-10-09, Jane Smith, 0.5 h, 200.00)",
        "line 3 (2026-10-12, Jane Smith, 0.5 h, 200.00): the bill charges 250.00, not 200.00",
        f"unapproved entry on the bill: PMS entry {waiting.remote_id} (2026-10-13, 200.00) is needs_review in billsync",
        "extra entry on the bill: PMS entry 555 (2026-10-14, 90.00; not a billsync entry)",
        "the bill's total is 740.00, the pre-bill's 600.00",
    )


def test_clio_pricing_a_40_minute_call_by_its_exact_time_matches() -> None:
    # 40 minutes at 350.00: Clio charges 2,400 s x 350 / 3,600 = 233.33; the pre-bill's hours to
    # four places give 0.6667 x 350 = 233.345 -> 233.35, and its line adjusts back to the entry's
    # 233.33, so the totals agree.
    call = entry(billed_seconds=2400, rate=Decimal("350.00"))
    prebill = prebill_of([call])
    [line] = prebill.lines
    assert (line.units, line.base, line.amount, prebill.total) == (
        Decimal("0.6667"), Decimal("233.35"), Decimal("233.33"), Decimal("233.33"),
    )  # fmt: skip
    exact = (replace_line(b, amount=Decimal("233.33")) for b in clio_bill(prebill).lines)
    assert compare(prebill, clio_bill(prebill, lines=tuple(exact)), entries_by_remote_id([call])).matches
    # A cent off either way is a re-priced line, not rounding.
    for charged in ("233.32", "233.36"):
        off = tuple(replace_line(b, amount=Decimal(charged)) for b in clio_bill(prebill).lines)
        result = compare(prebill, clio_bill(prebill, lines=off), entries_by_remote_id([call]))
        assert result.differences[0].endswith(f"the bill charges {charged}, not 233.35"), result.differences


def replace_line(line: BillLine, **kw) -> BillLine:
    return line.model_copy(update=kw)


def test_the_total_must_match_within_the_firms_tolerance() -> None:
    prebill = prebill_of([entry()])
    off_by_a_cent = clio_bill(prebill, total=prebill.total + Decimal("0.01"))
    assert not compare(prebill, off_by_a_cent, {}).matches
    assert compare(prebill, off_by_a_cent, {}, tolerance=Decimal("0.01")).matches


def test_a_discount_the_person_forgot_shows_as_a_total_difference() -> None:
    prebill = prebill_of([entry(amount=Decimal("180.00"))])  # 10 % agreed: 200.00 less 20.00
    gross = clio_bill(prebill, total=Decimal("200.00"))
    assert compare(prebill, gross, {}).differences == (
        "the bill's total is 200.00, the pre-bill's 180.00: the difference, 20.00, is the discount or cap agreed "
        "for the matter (line 1), which the PMS bill does not apply; apply it in the PMS",
    )
    assert compare(prebill, clio_bill(prebill, total=Decimal("180.00")), {}).matches  # bill-level discount applied
    # Any other difference is only a difference: nothing is blamed on the discount.
    other = compare(prebill, clio_bill(prebill, total=Decimal("190.00")), {})
    assert other.differences == ("the bill's total is 190.00, the pre-bill's 180.00",)


def test_a_discount_left_off_is_named_with_its_tax() -> None:
    settings = BillingSettings(tax_rate_percent=Decimal("10"))
    [prebill] = build([entry(amount=Decimal("180.00"))], settings)  # 180.00 + 18.00 tax = 198.00
    gross = clio_bill(replace(prebill, id="pb1"), total=Decimal("220.00"))  # 200.00 + 20.00 tax
    [difference] = compare(prebill, gross, {}).differences
    assert difference.startswith("the bill's total is 220.00, the pre-bill's 198.00: the difference, 22.00, is the ")


def capped_prebill() -> PreBill:
    """Two 2 h entries at 400.00, 10 % agreed off (720.00 each), on a matter capped at 1,000.00 of which
    300.00 is billed: 1,440.00 of fees, 700.00 of room, so a cap line of -740.00 and a total of 700.00."""
    capped = LITIGATION.model_copy(update={"cap_amount": Decimal("1000.00")})
    work = [entry(billed_seconds=7200, amount=Decimal("720.00"), work_date=date(2026, 10, 5 + n)) for n in range(2)]
    [prebill] = build(work, reference=reference(capped), history=lambda _m: History(fees=Decimal("300.00")))
    assert prebill.total == Decimal("700.00") and prebill.lines[-1].amount == Decimal("-740.00")
    return replace(prebill, id="pb1")


def test_a_cap_or_a_discount_and_cap_left_off_the_bill_are_named() -> None:
    prebill = capped_prebill()
    entry_lines = tuple(line for line in clio_bill(prebill).lines if line.remote_id)  # Clio: hours x rate
    cause = "which the PMS bill does not apply; apply it in the PMS"
    # Discount applied on the bill, cap not: 1,440.00 against 700.00.
    [cap_only] = compare(prebill, clio_bill(prebill, lines=entry_lines, total=Decimal("1440.00")), {}).differences
    assert cap_only == (
        f"the bill's total is 1440.00, the pre-bill's 700.00: the difference, 740.00, is the matter's "
        f"not-to-exceed cap (line 3), {cause}"
    )
    # Neither: 1,600.00 against 700.00, the 900.00 being 80.00 + 80.00 of discount and 740.00 of cap.
    [neither] = compare(prebill, clio_bill(prebill, lines=entry_lines, total=Decimal("1600.00")), {}).differences
    assert neither == (
        "the bill's total is 1600.00, the pre-bill's 700.00: the difference, 900.00, is the discount or cap "
        f"agreed for the matter (lines 1 and 2) and the matter's not-to-exceed cap (line 3), {cause}"
    )


def test_a_flat_fee_line_is_paired_by_amount() -> None:
    settings = BillingSettings(matters={"m3": MatterBilling(flat_fee=Decimal("2500.00"))})
    [prebill] = build([], settings, matters_with_flat_fees=["m3"])
    flat = RemoteBill(
        id="78", client_id="c2", matter_ids=("m3",), state=BillState.DRAFT, total=Decimal("2500.00"), updated_at=NOW,
        lines=(BillLine(amount=Decimal("2500.00")),),
    )  # fmt: skip
    assert compare(prebill, flat, {}).matches
    wrong = flat.model_copy(update={"lines": (BillLine(amount=Decimal("2000.00")),), "total": Decimal("2000.00")})
    assert compare(prebill, wrong, {}).differences == (
        "extra line on the bill: undated, 0 h, 2000.00",
        "missing from the bill: line 1 (2026-10-31, Flat fee, 1 h, 2500.00)",
        "the bill's total is 2000.00, the pre-bill's 2500.00",
    )


def test_the_prebill_is_found_by_shared_entries_and_never_taken_twice() -> None:
    october = prebill_of([entry()])
    november = replace(prebill_of([entry(work_date=date(2026, 11, 3))]), id="pb2")
    bill = clio_bill(october)
    assert find_prebill(bill, [november, october]) is october
    taken = replace(october, pms_bill_id="other")
    assert find_prebill(bill, [november, taken]) is None  # no shared entry with an unlinked pre-bill
    assert find_prebill(bill, [replace(october, pms_bill_id="77")]).pms_bill_id == "77"  # already linked


def test_practicepanther_invoices_without_remote_ids_match_by_matter_date_hours_and_amount() -> None:
    prebill = prebill_of([entry(), entry(work_date=date(2026, 10, 9), billed_seconds=4320)])
    lines = tuple(
        BillLine(work_date=ln.work_date, hours=ln.units.normalize(), amount=ln.base) for ln in reversed(prebill.lines)
    )
    invoice = RemoteBill(
        id="inv-1", client_id="c1", matter_ids=("m1",), state=BillState.AWAITING_PAYMENT, issued_on=date(2026, 11, 4),
        total=prebill.total, lines=lines, updated_at=NOW,
    )  # fmt: skip
    assert find_prebill(invoice, [prebill]) is prebill
    result = compare(prebill, invoice, {})
    assert result.matches and not result.by_entry
    short = invoice.model_copy(update={"lines": lines[:1], "total": Decimal("480.00")})
    assert compare(prebill, short, {}).differences == (
        "missing from the bill: line 1 (2026-10-05, Jane Smith, 0.5 h, 200.00)",
        "the bill's total is 480.00, the pre-bill's 680.00",
    )
    before_period_end = invoice.model_copy(update={"issued_on": date(2026, 10, 20)})
    assert find_prebill(before_period_end, [prebill]) is None  # an invoice dated inside October is not its bill


def test_entries_whose_approval_is_not_in_the_pms_yet_are_told_apart_from_a_real_difference() -> None:
    posted = [entry(), entry(work_date=date(2026, 10, 9))]
    approved = entry(work_date=date(2026, 10, 12), state=EntryState.APPROVED)  # its billable update waits in the outbox
    prebill = prebill_of([*posted, approved])
    lines = tuple(ln for ln in clio_bill(prebill).lines if ln.remote_id != approved.remote_id)
    bill = clio_bill(prebill, lines=lines, total=Decimal("400.00"))  # 2 x 200.00: Clio bills what it has
    result = compare(prebill, bill, entries_by_remote_id([*posted, approved]), not_in_pms={approved.id})
    assert result.differences == () and result.waits_for_pms and not result.matches
    assert result.not_in_pms == (
        "line 3 (2026-10-12, Jane Smith, 0.5 h, 200.00): approved in billsync, not written to the PMS yet, "
        "so the bill cannot include it",
    )
    # Without the outbox's word, the same bill is a plain mismatch; with it, a real difference still is one.
    assert compare(prebill, bill, entries_by_remote_id([*posted, approved])).differences == (
        "missing from the bill: line 3 (2026-10-12, Jane Smith, 0.5 h, 200.00)",
        "the bill's total is 400.00, the pre-bill's 600.00",
    )
    short = clio_bill(prebill, lines=lines[:1], total=Decimal("200.00"))
    mixed = compare(prebill, short, entries_by_remote_id([*posted, approved]), not_in_pms={approved.id})
    assert mixed.differences == (
        "missing from the bill: line 2 (2026-10-09, Jane Smith, 0.5 h, 200.00)",
        "the bill's total is 200.00, the pre-bill's 600.00 (400.00 without the entries not in the PMS yet)",
    )
    assert not mixed.waits_for_pms and len(mixed.not_in_pms) == 1


def test_a_practicepanther_invoice_lacking_only_unwritten_entries_waits_for_the_pms() -> None:
    posted = entry()
    approved = entry(state=EntryState.APPROVED)  # same day, hours and amount as the posted one
    prebill = prebill_of([posted, approved])
    invoice = RemoteBill(
        id="inv-2", client_id="c1", matter_ids=("m1",), state=BillState.DRAFT, issued_on=date(2026, 11, 4),
        total=Decimal("200.00"), updated_at=NOW,
        lines=(BillLine(work_date=date(2026, 10, 5), hours=Decimal("0.5"), amount=Decimal("200.00")),),
    )  # fmt: skip
    result = compare(prebill, invoice, {}, not_in_pms={approved.id})
    assert result.waits_for_pms and result.differences == ()
    assert [m.split(" (")[0] for m in result.not_in_pms] == ["line 2"]  # the posted line 1 is the one billed
