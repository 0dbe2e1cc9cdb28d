"""LEDES files for a fixed scenario, field by field, and a strict reader that refuses broken files."""

from __future__ import annotations

import re
from dataclasses import replace
from datetime import date
from decimal import Decimal

import pytest

from config.billing import BillingSettings, ClientAddress, ClientBilling, LawFirmIdentity, LedesFormat
from core.billing.ledes import LEDES_98BI_FIELDS, LEDES_1998B_FIELDS, LedesError, parties_for, write_ledes
from core.billing.ledes_parser import LedesParseError, parse_ledes
from core.billing.model import PreBill
from core.models import PostalAddress
from tests.billing.scenario import HARBOR, LITIGATION, SMITH, build, entry, reference

FIRM = LawFirmIdentity(
    ledes_id="12-3456789", name="Acme Law LLP", address_1="1 Main St", city="Boston", region="MA",
    postcode="02110", country="US",
)  # fmt: skip
SETTINGS = BillingSettings(firm=FIRM, clients={"c1": ClientBilling(ledes=LedesFormat.LEDES_1998B)})


def scenario(settings: BillingSettings = SETTINGS) -> PreBill:
    """Harbor's October: a discounted partner line and an associate line with a pipe in its narrative."""
    partner = entry(id="e-1", narrative="Drafted motion to compel", amount=Decimal("180.00"))
    associate = entry(
        id="e-2",
        timekeeper_id="u2",
        rate=Decimal("250"),
        billed_seconds=4320,
        work_date=date(2026, 10, 9),
        narrative="Reviewed claim file | prepared [index] for Señor Díaz",
        task_code="L310",
        activity_code="A104",
    )
    [prebill] = build([partner, associate], settings)
    return prebill


def ledes(prebill: PreBill, fmt: LedesFormat, settings: BillingSettings = SETTINGS) -> str:
    return write_ledes(prebill, parties_for(prebill, reference(), settings), fmt)


def test_ledes_1998b_for_the_fixed_scenario_field_by_field() -> None:
    text = ledes(scenario(), LedesFormat.LEDES_1998B)
    rows = text.split("\n")
    assert rows[0] == "LEDES1998B[]" and rows[-1] == ""
    assert rows[1] == "|".join(LEDES_1998B_FIELDS) + "[]"
    assert all(row.endswith("[]") for row in rows[:-1])
    first, second = [dict(zip(LEDES_1998B_FIELDS, row[:-2].split("|"), strict=True)) for row in rows[2:4]]
    assert first == {
        "INVOICE_DATE": "20261101",
        "INVOICE_NUMBER": "PB-2026-10-HARB-0001",
        "CLIENT_ID": "HARB-LEDES-01",
        "LAW_FIRM_MATTER_ID": "HARB-0001",
        "INVOICE_TOTAL": "480.00",
        "BILLING_START_DATE": "20261001",
        "BILLING_END_DATE": "20261031",
        "INVOICE_DESCRIPTION": "Harbor Insurance: HARB-0001 Harbor v. Beta",
        "LINE_ITEM_NUMBER": "1",
        "EXP/FEE/INV_ADJ_TYPE": "F",
        "LINE_ITEM_NUMBER_OF_UNITS": "0.50",
        "LINE_ITEM_ADJUSTMENT_AMOUNT": "-20.00",
        "LINE_ITEM_TOTAL": "180.00",
        "LINE_ITEM_DATE": "20261005",
        "LINE_ITEM_TASK_CODE": "L120",
        "LINE_ITEM_EXPENSE_CODE": "",
        "LINE_ITEM_ACTIVITY_CODE": "A103",
        "TIMEKEEPER_ID": "u1",
        "LINE_ITEM_DESCRIPTION": "Drafted motion to compel",
        "LAW_FIRM_ID": "12-3456789",
        "LINE_ITEM_UNIT_COST": "400.00",
        "TIMEKEEPER_NAME": "Jane Smith",
        "TIMEKEEPER_CLASSIFICATION": "PARTNR",
        "CLIENT_MATTER_ID": "",
    }
    assert (second["LINE_ITEM_NUMBER"], second["LINE_ITEM_NUMBER_OF_UNITS"], second["LINE_ITEM_TOTAL"]) == (
        "2",
        "1.20",
        "300.00",
    )
    assert (second["LINE_ITEM_TASK_CODE"], second["LINE_ITEM_ACTIVITY_CODE"]) == ("L310", "A104")
    assert (second["TIMEKEEPER_CLASSIFICATION"], second["LINE_ITEM_ADJUSTMENT_AMOUNT"]) == ("ASSOC", "0.00")
    # The narrative cannot break the format: no pipe, no brackets, ASCII.
    assert second["LINE_ITEM_DESCRIPTION"] == "Reviewed claim file / prepared (index) for Senor Diaz"
    parsed = parse_ledes(text)
    [invoice] = parsed.invoices
    assert parsed.format == "LEDES1998B" and invoice.total == Decimal("480.00") and len(invoice.lines) == 2


def test_ledes98bi_carries_tax_addresses_and_currency_and_its_totals_add_up() -> None:
    settings = BillingSettings(
        firm=FIRM,
        tax_name="VAT",
        tax_rate_percent=Decimal("20"),
        currency="GBP",
        clients={
            "c1": ClientBilling(
                ledes=LedesFormat.LEDES_98BI,
                tax_id="GB123456789",
                po_number="PO-77",
                address=ClientAddress(address_1="2 Dock Rd", city="London", postcode="E1 6AN", country="GB"),
            )
        },
    )
    text = ledes(scenario(settings), LedesFormat.LEDES_98BI, settings)
    rows = text.split("\n")
    assert rows[0] == "LEDES98BI V2[]" and rows[1] == "|".join(LEDES_98BI_FIELDS) + "[]"
    assert len(LEDES_98BI_FIELDS) == 52 and text.isascii()
    first = dict(zip(LEDES_98BI_FIELDS, rows[2][:-2].split("|"), strict=True))
    # 180.00 + 20 % = 216.00; 300.00 + 20 % = 360.00; invoice 576.00 of which 96.00 tax.
    tax_fields = ("LINE_ITEM_TOTAL", "LINE_ITEM_TAX_RATE", "LINE_ITEM_TAX_TOTAL", "LINE_ITEM_TAX_TYPE")
    assert [first[k] for k in tax_fields] == ["216.00", "0.2", "36.00", "VAT"]
    invoice_fields = ("INVOICE_TOTAL", "INVOICE_TAX_TOTAL", "INVOICE_NET_TOTAL", "INVOICE_CURRENCY")
    assert [first[k] for k in invoice_fields] == ["576.00", "96.00", "480.00", "GBP"]
    assert (first["TIMEKEEPER_LAST_NAME"], first["TIMEKEEPER_FIRST_NAME"], first["ACCOUNT_TYPE"]) == (
        "Smith",
        "Jane",
        "O",
    )
    assert (first["LAW_FIRM_NAME"], first["LAW_FIRM_CITY"], first["LAW_FIRM_POSTCODE"]) == (
        "Acme Law LLP",
        "Boston",
        "02110",
    )
    assert (first["CLIENT_NAME"], first["CLIENT_ADDRESS_1"], first["CLIENT_COUNTRY"]) == (
        "Harbor Insurance",
        "2 Dock Rd",
        "GB",
    )
    assert (first["CLIENT_TAX_ID"], first["PO_NUMBER"], first["MATTER_NAME"]) == (
        "GB123456789",
        "PO-77",
        "Harbor v. Beta",
    )
    assert (first["INVOICE_REPORTED_TAX_TOTAL"], first["INVOICE_TAX_CURRENCY"]) == ("96.00", "GBP")
    [invoice] = parse_ledes(text).invoices
    assert invoice.total == Decimal("576.00")


def test_ledes98bi_takes_the_clients_address_from_the_pms_unless_one_is_configured() -> None:
    pms = PostalAddress(
        street="500 Harbor Boulevard\nSuite 900\nAttn: Claims\x00", city="Providence", region="RI",
        postcode="02903", country="United States",
    )  # fmt: skip
    known = reference(clients=(HARBOR.model_copy(update={"address": pms}), SMITH))
    settings = BillingSettings(firm=FIRM, clients={"c1": ClientBilling(ledes=LedesFormat.LEDES_98BI)})
    prebill = scenario(settings)
    text = write_ledes(prebill, parties_for(prebill, known, settings), LedesFormat.LEDES_98BI)
    first = dict(zip(LEDES_98BI_FIELDS, text.split("\n")[2][:-2].split("|"), strict=True))
    address = ("CLIENT_ADDRESS_1", "CLIENT_ADDRESS_2", "CLIENT_CITY", "CLIENT_STATEorREGION", "CLIENT_POSTCODE",
               "CLIENT_COUNTRY")  # fmt: skip
    assert [first[k] for k in address] == [
        "500 Harbor Boulevard", "Suite 900, Attn: Claims", "Providence", "RI", "02903", "United States",
    ]  # fmt: skip
    parse_ledes(text)
    configured = settings.model_copy(
        update={"clients": {"c1": ClientBilling(ledes=LedesFormat.LEDES_98BI, address=ClientAddress(city="Hartford"))}}
    )
    text = write_ledes(prebill, parties_for(prebill, known, configured), LedesFormat.LEDES_98BI)
    first = dict(zip(LEDES_98BI_FIELDS, text.split("\n")[2][:-2].split("|"), strict=True))
    assert [first[k] for k in address] == ["", "", "Hartford", "", "", ""]


def test_1998b_refuses_a_taxed_invoice_with_a_way_out() -> None:
    taxed = scenario(BillingSettings(firm=FIRM, tax_rate_percent=Decimal("5")))
    with pytest.raises(LedesError, match="LEDES98BI"):
        ledes(taxed, LedesFormat.LEDES_1998B)


def test_ledes_needs_the_firms_ledes_id() -> None:
    with pytest.raises(LedesError, match="ledes_id"):
        parties_for(scenario(), reference(), BillingSettings())


def test_the_pms_bill_number_replaces_billsyncs_once_recorded() -> None:
    text = ledes(replace(scenario(), pms_bill_number="1043"), LedesFormat.LEDES_1998B)
    assert {row.split("|")[1] for row in text.split("\n")[2:-1]} == {"1043"}


def good_1998b() -> str:
    return ledes(scenario(), LedesFormat.LEDES_1998B)


@pytest.mark.parametrize(
    ("breakage", "reason"),
    [
        (lambda t: t.replace("LEDES1998B[]", "LEDES1998[]", 1), "line 1"),
        (lambda t: t.replace("CLIENT_MATTER_ID[]", "CLIENT_MATTER_ID", 1), "does not end with"),
        (lambda t: t.replace("LINE_ITEM_DATE|LINE_ITEM_TASK_CODE", "LINE_ITEM_TASK_CODE|LINE_ITEM_DATE", 1), "header"),
        (lambda t: t.replace("|Jane Smith|", "|Jane|Smith|", 1), "fields, not 24"),
        (lambda t: t.replace("|20261005|", "|2026-10-05|", 1), "YYYYMMDD"),
        (lambda t: t.replace("|-20.00|180.00|", "|-20.00|180.0|", 1), "two decimals"),
        (lambda t: t.replace("|-20.00|180.00|", "|-20.00|190.00|", 1), "units x unit cost"),
        (lambda t: t.replace("|480.00|", "|490.00|"), "sum of its line totals"),
        (lambda t: t.replace("|L120|", "|A103|", 1), "not a code of that kind"),
        (lambda t: t.replace("|F|", "|X|", 1), "F, E, IF or IE"),
        (lambda t: t.replace("|HARB-LEDES-01|", "|OTHER|", 1), "differs from line"),
        (lambda t: t.replace("|2|F|", "|1|F|", 1), "LINE_ITEM_NUMBER repeats"),
        (lambda t: "\n".join(t.split("\n")[:2]) + "\n", "at least one line item"),
    ],
)
def test_the_strict_reader_refuses_what_an_ebilling_system_would(breakage, reason: str) -> None:
    text = good_1998b()
    parse_ledes(text)  # the untouched file is accepted
    broken = breakage(text)
    assert broken != text
    with pytest.raises(LedesParseError, match=reason):
        parse_ledes(broken)


def test_the_strict_reader_refuses_non_ascii_in_98bi_and_bad_tax_arithmetic() -> None:
    settings = BillingSettings(firm=FIRM, tax_rate_percent=Decimal("20"))
    text = ledes(scenario(settings), LedesFormat.LEDES_98BI, settings)
    parse_ledes(text)
    with pytest.raises(LedesParseError, match="ASCII"):
        parse_ledes(text.replace("Jane Smith", "Jané Smith", 1))
    with pytest.raises(LedesParseError, match="LINE_ITEM_TAX_TOTAL"):
        parse_ledes(text.replace("|0.2|36.00|", "|0.2|35.00|", 1))


def line_fields(text: str, number: int = 1) -> dict[str, str]:
    """LEDES 1998B line item `number` of a file, field by field."""
    return dict(zip(LEDES_1998B_FIELDS, text.split("\n")[1 + number][:-2].split("|"), strict=True))


def test_control_characters_in_a_narrative_never_reach_the_file() -> None:
    noisy = entry(narrative="Call\x00with\x07client\x1b about\x7f claim\x85file\tnow\r\nthen")
    [prebill] = build([noisy], SETTINGS)
    text = ledes(prebill, LedesFormat.LEDES_1998B)
    assert line_fields(text)["LINE_ITEM_DESCRIPTION"] == "Call with client about claim file now then"
    assert not any(ord(c) < 32 or 127 <= ord(c) < 160 for c in text.replace("\n", ""))
    parse_ledes(text)


@pytest.mark.parametrize("control", ["\x00", "\x07", "\x1b", "\x7f", "\x85", "\r"])
def test_the_strict_reader_refuses_a_control_character_anywhere_in_a_line(control: str) -> None:
    text = good_1998b()
    broken = text.replace("Drafted motion to compel", f"Drafted motion{control} to compel", 1)
    with pytest.raises(LedesParseError, match=r"line 3 LINE_ITEM_DESCRIPTION holds the control character U\+00"):
        parse_ledes(broken)


@pytest.mark.parametrize(
    ("narrative", "written"),
    [
        ("Reviewed 10½ pages of claim file", "Reviewed 10 1/2 pages of claim file"),
        ("Drafted ½-page coverage letter", "Drafted 1/2-page coverage letter"),
        ("Measured 40m² warehouse floor", "Measured 40m^2 warehouse floor"),
        ("Analyzed §5 of policy for Müller", "Analyzed Section 5 of policy for Muller"),
        ("Reviewed invoice for €1200 storage fee", "Reviewed invoice for EUR 1200 storage fee"),
        ("Inspected 90°C boiler", "Inspected 90 deg C boiler"),
    ],
)
def test_narratives_fold_to_ascii_without_changing_what_they_say(narrative: str, written: str) -> None:
    [prebill] = build([entry(narrative=narrative)], SETTINGS)
    text = ledes(prebill, LedesFormat.LEDES_1998B)
    assert text.isascii() and line_fields(text)["LINE_ITEM_DESCRIPTION"] == written


def test_a_matter_number_with_a_pipe_is_an_error_naming_the_matter_not_a_rewrite() -> None:
    piped = LITIGATION.model_copy(update={"number": "0001|0001"})
    [prebill] = build([entry()], SETTINGS, reference=reference(piped))
    assert prebill.number == "PB-2026-10-0001|0001"
    with pytest.raises(LedesError) as refused:
        write_ledes(prebill, parties_for(prebill, reference(piped), SETTINGS), LedesFormat.LEDES_1998B)
    message = str(refused.value)
    assert message.startswith("matter 'Harbor v. Beta' (m1): its number '0001|0001' cannot be written")
    assert "'|' separates LEDES fields" in message and "\n" not in message


@pytest.mark.parametrize(
    ("ledes_client_id", "why"),
    [("C|1[]", "'|' separates LEDES fields"), ("C1[]", "'[]' ends a LEDES line"), ("CÜ1", "'Ü' is not ASCII")],
)
def test_a_ledes_client_id_the_format_cannot_carry_is_an_error_naming_the_client(
    ledes_client_id: str, why: str
) -> None:
    odd = HARBOR.model_copy(update={"ledes_client_id": ledes_client_id})
    reference_data = reference(clients=(odd, SMITH))
    [prebill] = build([entry()], SETTINGS, reference=reference_data)
    with pytest.raises(
        LedesError, match=re.escape(f"client 'Harbor Insurance' (c1): its LEDES client id {ledes_client_id!r}")
    ) as refused:
        write_ledes(prebill, parties_for(prebill, reference_data, SETTINGS), LedesFormat.LEDES_1998B)
    assert why in str(refused.value)


def test_identifiers_the_format_can_carry_are_written_exactly() -> None:
    odd = HARBOR.model_copy(update={"ledes_client_id": "C/1 (EU)[x]"})
    slashed = LITIGATION.model_copy(update={"number": "0001/0001"})
    reference_data = reference(slashed, clients=(odd, SMITH))
    [prebill] = build([entry()], SETTINGS, reference=reference_data)
    fields = line_fields(write_ledes(prebill, parties_for(prebill, reference_data, SETTINGS), LedesFormat.LEDES_1998B))
    assert (fields["CLIENT_ID"], fields["LAW_FIRM_MATTER_ID"]) == ("C/1 (EU)[x]", "0001/0001")
    assert fields["INVOICE_NUMBER"] == "PB-2026-10-0001/0001"


def test_an_empty_prebill_says_why_it_is_empty_instead_of_a_file_syntax_error() -> None:
    # A flat-fee matter with no flat fee configured: the pre-bill carries only its Block finding.
    [prebill] = build([], SETTINGS, matters_with_flat_fees=["m3"])
    assert prebill.lines == ()
    with pytest.raises(LedesError) as refused:
        ledes(prebill, LedesFormat.LEDES_1998B)
    assert str(refused.value) == (
        "pre-bill PB-2026-10-SMITH-0003 has no lines, so there is no LEDES file to write: matter SMITH-0003 bills "
        "a flat fee but none is configured (billing.matters.m3) (flat_fee)"
    )


def test_a_line_outside_the_declared_period_is_never_written_and_never_read() -> None:
    prebill = scenario()
    october_only = replace(prebill, lines=(replace(prebill.lines[0], work_date=date(2026, 9, 30)), *prebill.lines[1:]))
    with pytest.raises(LedesError, match="line 1 is dated 2026-09-30, outside the billing period it declares"):
        ledes(october_only, LedesFormat.LEDES_1998B)
    with pytest.raises(LedesParseError, match="LINE_ITEM_DATE 20260930 is outside the billing period 20261001"):
        parse_ledes(good_1998b().replace("|20261005|", "|20260930|", 1))


def test_a_classification_ledes_does_not_allow_is_refused_naming_the_timekeeper_and_the_key() -> None:
    # Regression: "Partner" (from a capture file's reference data) was written as is.
    prebill = scenario()
    partner_line = replace(prebill.lines[0], classification="Partner")
    wrong = replace(prebill, lines=(partner_line, *prebill.lines[1:]))
    parties = parties_for(wrong, reference(), SETTINGS, firm_id="acme")
    with pytest.raises(LedesError) as refused:
        write_ledes(wrong, parties, LedesFormat.LEDES_1998B)
    assert str(refused.value) == (
        "timekeeper Jane Smith (user u1) needs a LEDES classification and 'Partner' is not one LEDES allows: "
        "set firms.acme.billing.timekeepers.u1.classification to one of PARTNR, ASSOC, OFCNSL, PRLGL, LGLAST, OTH"
    )


def test_a_line_built_before_its_classification_was_known_takes_the_firms_setting() -> None:
    prebill = scenario()
    unknown = replace(prebill, lines=(replace(prebill.lines[0], classification=""), *prebill.lines[1:]))
    text = write_ledes(unknown, parties_for(unknown, reference(), SETTINGS), LedesFormat.LEDES_1998B)
    assert parse_ledes(text)
    assert text.split("\n")[2].split("|")[LEDES_1998B_FIELDS.index("TIMEKEEPER_CLASSIFICATION")] == "PARTNR"
