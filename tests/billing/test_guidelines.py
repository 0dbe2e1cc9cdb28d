"""Each guideline rule over a whole invoice: its finding, its severity, and the line it names."""

from __future__ import annotations

from dataclasses import replace
from datetime import date
from decimal import Decimal

import pytest

from config.billing import BillingSettings, ClientBilling, LedesFormat
from core.billing.guidelines import GUIDELINE_RULES, check_invoice
from core.billing.model import PreBill
from core.models import Severity
from tests.billing.scenario import HARBOR, LITIGATION, SMITH, build, entry, reference


def findings(
    prebill: PreBill, settings: BillingSettings | None = None, **reference_fields: object
) -> list[tuple[str, str, int | None]]:
    checked = check_invoice(
        prebill, reference(**reference_fields) if reference_fields else reference(), settings or BillingSettings()
    )  # type: ignore[arg-type]
    return [(f.rule, f.severity.value, f.line) for f in checked]


def one(entries, settings: BillingSettings | None = None) -> PreBill:
    [prebill] = build(entries, settings)
    return prebill


def test_a_clean_invoice_has_no_findings() -> None:
    assert findings(one([entry(), entry(work_date=date(2026, 10, 6))])) == []


def test_daily_cap_adds_a_timekeepers_hours_across_every_line_of_the_invoice() -> None:
    day = [
        entry(billed_seconds=3600 * 4),
        entry(billed_seconds=3600 * 4 + 360),
        entry(billed_seconds=3600 * 3),
    ]  # 11.1 h
    prebill = one([*day, entry(work_date=date(2026, 10, 6), billed_seconds=3600 * 9)])
    assert findings(prebill) == [("daily_cap", "review", 1), ("daily_cap", "review", 2), ("daily_cap", "review", 3)]
    # The client's own guideline is 8 h: the 9 h day breaks it too.
    strict = BillingSettings(clients={"c1": ClientBilling(daily_cap_hours=Decimal("8"))})
    assert [line for rule, _, line in findings(prebill, strict) if rule == "daily_cap"] == [1, 2, 3, 4]


def test_duplicate_lines_the_same_work_twice_flag_the_later_one() -> None:
    same = "Drafted motion to compel production of claim file"
    prebill = one([entry(narrative=same), entry(narrative="  drafted MOTION to compel production of claim file ")])
    assert findings(prebill) == [("duplicate", "review", 2)]


def test_a_call_and_an_email_with_the_same_amount_are_two_tasks_not_a_duplicate() -> None:
    # Same timekeeper, day, codes and 0.2 h at 400.00 = 80.00 each: different work, both billed.
    call = entry(
        narrative="Telephone call with R. Diaz re: coverage position", activity_code="A106", billed_seconds=720
    )
    mail = entry(narrative="E-mail to R. Diaz re: claim file production", activity_code="A106", billed_seconds=720)
    prebill = one([call, mail])
    assert [line.amount for line in prebill.lines] == [Decimal("80.00"), Decimal("80.00")]
    assert findings(prebill) == []


def test_block_billing_flags_a_narrative_joining_tasks() -> None:
    prebill = one([entry(narrative="Reviewed deposition transcript and drafted summary for client")])
    assert findings(prebill) == [("block_billing", "review", 1)]


def test_vague_narrative_is_a_warning_on_its_line() -> None:
    prebill = one([entry(), entry(narrative="Telephone call", billed_seconds=600)])
    assert findings(prebill) == [("vague_narrative", "warn", 2)]


def test_unapproved_timekeeper_and_unapproved_rate_block_their_lines() -> None:
    approving = HARBOR.model_copy(update={"approved_rates": {"u1": Decimal("375")}})
    prebill = one([entry(), entry(timekeeper_id="u2", rate=Decimal("250"), work_date=date(2026, 10, 6))])
    found = findings(prebill, clients=(approving, SMITH))
    assert ("unapproved_timekeeper", "block", 2) in found  # u2 is not approved at all
    assert ("unapproved_rate", "block", 1) in found  # u1 bills 400 against an approved 375
    assert len(found) == 2


def test_codes_are_required_for_a_ledes_client_or_an_ebilling_matter() -> None:
    prebill = one([entry(task_code=None), entry(activity_code=None, work_date=date(2026, 10, 6))])
    assert findings(prebill) == []  # neither LEDES nor e-billing: codes are optional
    ledes = BillingSettings(clients={"c1": ClientBilling(ledes=LedesFormat.LEDES_1998B)})
    assert findings(prebill, ledes) == [("utbms_missing", "block", 1), ("utbms_missing", "block", 2)]
    ebilling = LITIGATION.model_copy(update={"ebilling": True})
    assert [f[0] for f in findings_with_matter(prebill, ebilling)] == ["utbms_missing", "utbms_missing"]


def findings_with_matter(prebill: PreBill, matter) -> list[tuple[str, str, int | None]]:
    checked = check_invoice(prebill, reference(matter), BillingSettings())
    return [(f.rule, f.severity.value, f.line) for f in checked]


def test_codes_in_the_wrong_field_are_blocked() -> None:
    prebill = one(
        [entry(task_code="A103", activity_code="L120"), entry(activity_code="E101", work_date=date(2026, 10, 6))]
    )
    found = check_invoice(prebill, reference(), BillingSettings())
    assert [(f.rule, f.line) for f in found] == [
        ("utbms_wrong_field", 1),
        ("utbms_wrong_field", 1),
        ("utbms_wrong_field", 2),
    ]
    assert "A103 in the task-code field is an activity code" in found[0].message
    assert "E101 in the activity-code field is an expense code" in found[2].message


def test_earlier_work_widens_the_declared_period_and_a_line_outside_it_is_blocked() -> None:
    prebill = one([entry(work_date=date(2026, 9, 28)), entry(work_date=date(2026, 10, 31))])
    assert (prebill.period_start, prebill.period_end) == (date(2026, 9, 28), date(2026, 10, 31))
    assert [(f.rule, f.severity.value) for f in prebill.findings] == [("earlier_work", "warn")]
    assert findings(prebill) == []  # every line inside the period it declares
    # A pre-bill declaring October only, with its 28 September line: an e-billing system rejects it.
    october_only = replace(prebill, period_start=date(2026, 10, 1))
    assert findings(october_only) == [("outside_period", "block", 1)]


def test_severities_are_set_firm_wide_then_per_client_and_off_silences_a_rule() -> None:
    prebill = one([entry(narrative="Telephone call", billed_seconds=600)])
    firm = BillingSettings(guidelines={"vague_narrative": Severity.BLOCK})
    assert findings(prebill, firm) == [("vague_narrative", "block", 1)]
    client_off = BillingSettings(
        guidelines={"vague_narrative": Severity.BLOCK},
        clients={"c1": ClientBilling(guidelines={"vague_narrative": Severity.OFF})},
    )
    assert findings(prebill, client_off) == []


def test_an_unknown_rule_in_the_configuration_is_a_clear_error() -> None:
    with pytest.raises(ValueError, match="unknown guideline rule"):
        check_invoice(one([entry()]), reference(), BillingSettings(guidelines={"vauge": Severity.WARN}))


def test_every_rule_has_a_test_above() -> None:
    tested = {
        "daily_cap", "duplicate", "block_billing", "vague_narrative", "unapproved_timekeeper", "unapproved_rate",
        "utbms_missing", "utbms_wrong_field", "outside_period",
    }  # fmt: skip
    assert {rule.name for rule in GUIDELINE_RULES} == tested
