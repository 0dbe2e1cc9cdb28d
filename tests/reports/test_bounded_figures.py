"""Figures a managing partner can trust on a young firm, worked out by hand.

Lockup days divide by daily revenue over a window that never reaches before the firm's first
record (a firm with 45 days of history has a 45-day window, and the report says so); a firm with
no bill, or whose first bill is fewer than 30 days old, has "not enough history" and the reason.
"all" spans the firm's data, and utilization counts available time only in months someone worked,
so "all" on a firm whose work lies in one month is that month's figure.
"""

from __future__ import annotations

from datetime import UTC, date, datetime
from decimal import Decimal

from config.settings import FirmSettings
from core.matching import ReferenceData
from core.models import (
    ActivityKind,
    BillLine,
    BillState,
    Client,
    EntryState,
    Matter,
    RemoteBill,
    TimeEntry,
    Timekeeper,
)
from core.payments.ledger import build_ledger
from core.reports.compute import compute_report
from core.reports.facts import BilledLine, FirmFacts
from core.reports.period import parse_period
from core.reports.render import report_dict

TODAY = date(2026, 12, 7)


def entry(entry_id: str, work_date: date, hours: int, amount: str, *, timekeeper: str = "u1", **kw) -> TimeEntry:
    start = datetime(work_date.year, work_date.month, work_date.day, 15, tzinfo=UTC)
    base = {
        "id": entry_id, "activity_key": ("src", entry_id), "timekeeper_id": timekeeper, "matter_id": "m1",
        "client_id": "c1", "work_date": work_date, "started_at": start, "ended_at": start,
        "raw_seconds": hours * 3600, "billed_seconds": hours * 3600, "rate": Decimal("400.00"),
        "amount": Decimal(amount), "billable": True, "narrative": "Drafted the motion", "kind": ActivityKind.DOCUMENT,
        "state": EntryState.APPROVED,
    }  # fmt: skip
    return TimeEntry(**(base | kw))


def bill(bill_id: str, issued: date, total: str, remote_id: str) -> RemoteBill:
    return RemoteBill(
        id=bill_id, number=f"INV-{bill_id}", client_id="c1", matter_ids=("m1",), state=BillState.AWAITING_PAYMENT,
        issued_on=issued, total=Decimal(total), outstanding=Decimal(total),
        lines=(BillLine(remote_id=remote_id, amount=Decimal(total)),),
        updated_at=datetime(issued.year, issued.month, issued.day, tzinfo=UTC),
    )  # fmt: skip


def facts(entries: list[TimeEntry], bills: list[RemoteBill], billed: dict[str, BilledLine]) -> FirmFacts:
    people = [
        Timekeeper(id="u1", name="Ann Ortiz", email="ann@firm.example"),
        Timekeeper(id="u2", name="Bo Lee", email="bo@firm.example"),
    ]
    matter = Matter(id="m1", client_id="c1", number="0001-0001", updated_at=datetime(2026, 9, 1, tzinfo=UTC))
    return FirmFacts(
        firm_id="small", firm_name="Small Firm LLP", settings=FirmSettings(name="Small Firm LLP"),
        reference=ReferenceData(people, [Client(id="c1", name="Harbor Holdings")], [matter]),
        activities=[], entries=entries, bills=bills, prebills=[], ledger=build_ledger(bills, [], []),
        billed=billed, today=TODAY,
    )  # fmt: skip


def report(firm: FirmFacts, period: str, by: str = "client") -> dict:
    chosen = parse_period(period, first=firm.first_day(), today=TODAY)
    return report_dict(compute_report(firm, chosen, by))  # type: ignore[arg-type]


def test_lockup_over_45_days_of_history_divides_by_45_days_and_says_so() -> None:
    # The firm's first record is work on 2026-10-24: 8 days of October, 30 of November, 7 of December.
    worked = entry("e1", date(2026, 10, 24), 2, "800.00")
    unbilled = entry("e2", date(2026, 11, 20), 1, "400.00")
    issued = bill("b1", date(2026, 11, 1), "900.00", remote_id="r1")  # 37 days of billing to 2026-12-07
    on_bill = BilledLine("e1", "b1", "INV-b1", date(2026, 11, 1), Decimal("900.00"))
    firm = facts([worked, unbilled], [issued], {"e1": on_bill})

    everything = report(firm, "all")
    # Daily revenue 900 / 45; WIP 400 -> 400 x 45 / 900 = 20.0 days; owed 900 -> 45.0 days.
    window = {
        "start": "2026-10-24", "end": "2026-12-07", "days": 45, "configured_days": 365,
        "first_bill": "2026-11-01", "billing_days": 37,
    }  # fmt: skip
    assert everything["lockup_window"] == window
    total = everything["total"]
    assert (total["unbilled_wip"], total["receivables"]) == ("400.00", "900.00")
    assert (total["wip_days"], total["debtor_days"], total["lockup_days"]) == ("20.0", "45.0", "65.0")
    assert everything["notes"]["lockup_days"] == (
        "daily revenue over the 45 days of the firm's history in billsync (2026-10-24 to 2026-12-07), "
        "not 365 days: there are no earlier records"
    )

    november = report(firm, "2026-11")  # as of 2026-11-30: 38 days of history, 30 of billing (just enough)
    assert (november["lockup_window"]["days"], november["lockup_window"]["billing_days"]) == (38, 30)
    # 400 x 38 / 900 = 16.89 -> 16.9; 900 x 38 / 900 = 38.0.
    assert (november["total"]["wip_days"], november["total"]["debtor_days"]) == ("16.9", "38.0")
    assert november["total"]["lockup_days"] == "54.9"


def test_a_first_bill_fewer_than_30_days_old_is_not_enough_history() -> None:
    # Work from 2026-10-24; WIP 400.00; one bill of 900.00. Report "all", as of 2026-12-07.
    def firm_billed_on(issued_on: date) -> FirmFacts:
        worked = entry("e1", date(2026, 10, 24), 2, "800.00")
        unbilled = entry("e2", date(2026, 11, 20), 1, "400.00")
        on_bill = BilledLine("e1", "b1", "INV-b1", issued_on, Decimal("900.00"))
        return facts([worked, unbilled], [bill("b1", issued_on, "900.00", remote_id="r1")], {"e1": on_bill})

    # Billed on 2026-11-08: 2026-11-08 to 2026-12-07 is 30 days counting both: the figure stands,
    # 400 x 45 / 900 = 20.0 WIP days and 900 x 45 / 900 = 45.0 debtor days.
    month_old = report(firm_billed_on(date(2026, 11, 8)), "all")
    assert month_old["lockup_window"]["billing_days"] == 30
    assert (month_old["total"]["wip_days"], month_old["total"]["lockup_days"]) == ("20.0", "65.0")

    # Billed on 2026-11-09: 29 days. WIP and what is owed still show; the days do not.
    young = report(firm_billed_on(date(2026, 11, 9)), "all")
    total = young["total"]
    assert (total["unbilled_wip"], total["receivables"]) == ("400.00", "900.00")
    assert (total["wip_days"], total["debtor_days"], total["lockup_days"]) == (None, None, None)
    assert young["notes"]["lockup_days"] == (
        "not enough history: the firm's first bill was issued on 2026-11-09, 29 days to 2026-12-07 counting both; "
        "lockup days need at least 30 (one monthly billing cycle), as until then clients owe nearly all that was billed"
    )
    # By client, every row is undefined too: the firm's billing is what is too young.
    assert [row["lockup_days"] for row in report(firm_billed_on(date(2026, 11, 9)), "all", "client")["rows"]] == [None]


def test_a_firm_with_no_bill_has_not_enough_history_and_is_told_why() -> None:
    firm = facts([entry("e1", date(2026, 10, 24), 2, "800.00")], [], {})
    everything = report(firm, "all")
    assert everything["total"]["lockup_days"] is None and everything["total"]["unbilled_wip"] == "800.00"
    assert everything["notes"]["lockup_days"] == (
        "not enough history: no bill was issued from 2026-10-24 to 2026-12-07, so there is no revenue to count days of"
    )
    before = report(firm, "2026-09")
    assert before["lockup_window"] is None
    assert before["notes"]["lockup_days"] == (
        "not enough history: billsync holds no record of the firm dated on or before 2026-09-30"
    )


def test_all_on_a_firm_whose_work_lies_in_one_month_is_that_months_utilization() -> None:
    # Work in October only; a bill issued in December (no work in November or December).
    entries = [
        entry("a", date(2026, 10, 5), 2, "800.00"),
        entry("b", date(2026, 10, 20), 3, "1200.00"),
        entry("c", date(2026, 10, 12), 4, "1600.00", timekeeper="u2"),
        entry("d", date(2026, 10, 14), 6, "2400.00", timekeeper="u2", state=EntryState.NEEDS_REVIEW),
    ]
    issued = bill("b1", date(2026, 12, 3), "800.00", remote_id="r1")
    firm = facts(entries, [issued], {"a": BilledLine("a", "b1", "INV-b1", date(2026, 12, 3), Decimal("800.00"))})

    october, everything = report(firm, "2026-10", "timekeeper"), report(firm, "all", "timekeeper")
    assert (everything["period"]["start"], everything["period"]["end"]) == ("2026-10-01", "2026-12-07")
    # October 2026 has 22 working days; two people worked: 2 x 8 h x 22 = 352 h available.
    # Billable: 2 + 3 + 4 = 9 h (the entry waiting for review is not billable yet): 9 / 352 = 2.56 %.
    for shown in (october, everything):
        assert (shown["total"]["billable_hours"], shown["total"]["available_hours"]) == ("9.00", "352.00")
        assert shown["total"]["utilization"] == "2.6"
        by_person = {row["name"]: row["utilization"] for row in shown["rows"]}
        assert by_person == {"Ann Ortiz": "2.8", "Bo Lee": "2.3"}  # 5 / 176 and 4 / 176
    # Counting October 1 to December 7 (48 working days) would have given 9 / 768 = 1.2 %.
