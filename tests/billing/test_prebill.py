"""Approved entries become pre-bills: grouping, discounts, caps, flat fees, hybrid matters, taxes."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

from config.billing import Arrangement, BillingSettings, ClientBilling, MatterBilling
from core.billing.model import LineType
from core.billing.prebill import History
from core.matching import ReferenceData
from core.models import ActivityCategory, BillingMethod
from core.units import amount_for
from tests.billing.scenario import (
    ASSOCIATE,
    DIVORCE,
    HARBOR,
    INJURY,
    LITIGATION,
    PARTNER,
    SMITH,
    WILL,
    build,
    entry,
    reference,
)


def test_entries_are_grouped_into_one_prebill_per_client_matter_with_their_lines() -> None:
    entries = [
        entry(work_date=date(2026, 10, 7)),
        entry(work_date=date(2026, 10, 2), timekeeper_id="u2", rate=Decimal("250")),
        entry(matter_id="m2", client_id="c2", billed_seconds=4320),  # 1.2 h
    ]
    harbor, smith = build(entries)
    assert (harbor.client_id, harbor.matter_id, smith.client_id, smith.matter_id) == ("c1", "m1", "c2", "m2")
    assert harbor.number == "PB-2026-10-HARB-0001"
    assert [ln.work_date for ln in harbor.lines] == [date(2026, 10, 2), date(2026, 10, 7)]  # by date
    first = harbor.lines[0]
    assert (first.number, first.type, first.timekeeper_name, first.classification) == (
        1,
        LineType.FEE,
        "Omar Reyes",
        "ASSOC",
    )
    assert (first.units, first.unit_cost, first.adjustment, first.amount) == (
        Decimal("0.5000"),
        Decimal("250"),
        Decimal("0.00"),
        Decimal("125.00"),
    )
    assert (first.task_code, first.activity_code, first.entry_id) == ("L120", "A103", entries[1].id)
    assert first.remote_id == entries[1].remote_id
    assert harbor.total == Decimal("325.00") and smith.total == Decimal("480.00")


def test_a_non_billable_entry_on_an_hourly_matter_is_not_billed() -> None:
    [prebill] = build([entry(), entry(billable=False)])
    assert len(prebill.lines) == 1


def test_the_agreed_discount_shows_as_the_line_adjustment_never_in_the_rate() -> None:
    # Rating took 10 % off at capture: 0.5 h x 400 = 200.00, billed 180.00.
    discounted = entry(amount=Decimal("180.00"))
    [prebill] = build([discounted])
    line = prebill.lines[0]
    assert (line.unit_cost, line.base, line.adjustment, line.amount) == (
        Decimal("400"),
        Decimal("200.00"),
        Decimal("-20.00"),
        Decimal("180.00"),
    )
    assert line.note and prebill.adjustments == Decimal("-20.00") and prebill.total == Decimal("180.00")


def test_the_matter_cap_is_applied_over_the_invoice_and_earlier_prebills() -> None:
    capped = LITIGATION.model_copy(update={"cap_amount": Decimal("1000.00")})
    entries = [entry(billed_seconds=3600 * 2) for _ in range(2)]  # 2 x 800.00
    [prebill] = build(entries, reference=reference(capped), history=lambda _m: History(fees=Decimal("300.00")))
    cap = prebill.lines[-1]
    assert (cap.type, cap.classification, cap.units, cap.unit_cost) == (
        LineType.FEE_ADJUSTMENT,
        "ADJSMT",
        Decimal("0.0000"),
        Decimal("0.00"),
    )
    assert cap.adjustment == cap.amount == Decimal("-900.00")  # 1600 billed now, 700 of room left
    assert prebill.total == Decimal("700.00")


def test_a_cap_already_reached_bills_nothing_more() -> None:
    capped = LITIGATION.model_copy(update={"cap_amount": Decimal("1000.00")})
    [prebill] = build([entry()], reference=reference(capped), history=lambda _m: History(fees=Decimal("1000.00")))
    assert prebill.total == Decimal("0.00")


def test_a_flat_fee_matter_bills_its_fee_and_never_its_entries() -> None:
    settings = BillingSettings(matters={"m3": MatterBilling(flat_fee=Decimal("2500.00"))})
    work = [entry(matter_id="m3", client_id="c2", billable=False) for _ in range(3)]
    [prebill] = build(work, settings)
    [fee] = prebill.lines
    assert (fee.classification, fee.units, fee.unit_cost, fee.amount) == (
        "FLTFEE",
        Decimal("1.0000"),
        Decimal("2500.00"),
        Decimal("2500.00"),
    )
    assert fee.entry_id is None and fee.work_date == date(2026, 10, 31)
    assert prebill.entry_ids == ()


def test_a_flat_fee_billed_once_is_not_billed_again() -> None:
    settings = BillingSettings(matters={"m3": MatterBilling(flat_fee=Decimal("2500.00"), flat_fee_schedule="once")})
    earlier = History(fees=Decimal("2500.00"), flat_fee_billed=True)
    assert build([], settings, matters_with_flat_fees=["m3"], history=lambda _m: earlier) == []
    [first] = build([], settings, matters_with_flat_fees=["m3"])
    assert first.total == Decimal("2500.00")


def test_a_flat_fee_matter_without_a_configured_fee_is_blocked_not_billed_hourly() -> None:
    [prebill] = build([entry(matter_id="m3", client_id="c2", billable=False)])
    assert prebill.lines == ()
    [finding] = prebill.findings
    assert (finding.rule, finding.severity.value) == ("flat_fee", "block")


def test_a_hybrid_matter_bills_its_fee_covers_its_scope_and_bills_the_rest_hourly() -> None:
    settings = BillingSettings(
        matters={
            "m1": MatterBilling(
                arrangement=Arrangement.HYBRID, flat_fee=Decimal("1000.00"), covered_task_codes=["L120"]
            )
        }
    )
    covered = entry(task_code="L120")
    hourly = entry(task_code="L310", billed_seconds=5400)  # 1.5 h x 400
    [prebill] = build([covered, hourly], settings)
    fee, covered_line, hourly_line = prebill.lines
    assert fee.amount == Decimal("1000.00") and fee.classification == "FLTFEE"
    assert (covered_line.base, covered_line.adjustment, covered_line.amount) == (
        Decimal("200.00"),
        Decimal("-200.00"),
        Decimal("0.00"),
    )
    assert covered_line.note == "covered by the flat fee"
    assert hourly_line.amount == Decimal("600.00")
    assert prebill.total == Decimal("1600.00")


def test_contingency_and_non_billable_matters_get_no_prebill() -> None:
    pro_bono = DIVORCE.model_copy(update={"billable": False})
    work = [entry(matter_id="m4", client_id="c2"), entry(matter_id="m2", client_id="c2")]
    assert build(work, reference=reference(INJURY, pro_bono)) == []


def test_a_configured_arrangement_overrides_the_pms_billing_method() -> None:
    settings = BillingSettings(matters={"m3": MatterBilling(arrangement=Arrangement.HOURLY)})
    assert WILL.billing_method is BillingMethod.FLAT
    [prebill] = build([entry(matter_id="m3", client_id="c2")], settings)
    assert prebill.total == Decimal("200.00")


def test_tax_is_computed_per_line_and_the_total_is_the_sum_of_line_totals() -> None:
    settings = BillingSettings(
        tax_rate_percent=Decimal("8.25"), clients={"c2": ClientBilling(tax_rate_percent=Decimal("0"))}
    )
    entries = [entry(billed_seconds=s) for s in (360, 720, 1080)]  # 40.00, 80.00, 120.00
    [harbor] = build(entries, settings)
    assert [ln.tax for ln in harbor.lines] == [Decimal("3.30"), Decimal("6.60"), Decimal("9.90")]
    assert harbor.tax == Decimal("19.80") and harbor.total == Decimal("259.80")
    assert all(ln.tax_rate == Decimal("0.0825") for ln in harbor.lines)
    [smith] = build([entry(matter_id="m2", client_id="c2")], settings)
    assert smith.tax == Decimal("0.00")  # the client's own rate wins


def test_hours_in_odd_increments_stay_exact_to_four_places() -> None:
    [prebill] = build([entry(billed_seconds=60, rate=Decimal("300"))])  # one minute
    line = prebill.lines[0]
    assert line.units == Decimal("0.0167")
    assert line.base + line.adjustment == line.amount == amount_for(60, Decimal("300")) == Decimal("5.00")


def test_an_entry_in_a_flat_rate_category_is_one_unit_at_its_flat_rate() -> None:
    # Regression: 0.3 h of a $95 flat-rate filing was 0.3 x 95 = 28.50 with a +66.50 "adjustment".
    filing = ActivityCategory(id="78", name="Court filing", rate=Decimal("95"), flat=True)
    reference_data = ReferenceData([PARTNER, ASSOCIATE], [HARBOR, SMITH], [LITIGATION], [filing])
    flat = entry(category_id="78", rate=Decimal("95"), amount=Decimal("85.50"), billed_seconds=1080)  # 10 % off
    [prebill] = build([flat], reference=reference_data)
    line = prebill.lines[0]
    # By hand: 1 x 95 = 95.00, less the agreed 10 % = 85.50.
    assert (line.units, line.unit_cost, line.base, line.adjustment, line.amount) == (
        Decimal("1.0000"),
        Decimal("95"),
        Decimal("95.00"),
        Decimal("-9.50"),
        Decimal("85.50"),
    )


def test_a_cent_of_rounding_is_called_rounding_not_an_agreement() -> None:
    # 40 minutes at 350.00: the work costs 2,400 / 3,600 x 350 = 233.333... -> 233.33; the line
    # shows 0.6667 h x 350.00 = 233.345 -> 233.35, so the line carries -0.02 of rounding.
    [prebill] = build([entry(billed_seconds=2400, rate=Decimal("350"), amount=Decimal("233.33"))])
    line = prebill.lines[0]
    assert (line.units, line.base, line.adjustment, line.amount) == (
        Decimal("0.6667"),
        Decimal("233.35"),
        Decimal("-0.02"),
        Decimal("233.33"),
    )
    assert "rounding" in line.note and "discount" not in line.note
