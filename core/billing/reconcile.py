"""A bill a person generated in the PMS, compared with the pre-bill billsync prepared for it.

Two ways to match, depending on what the vendor gives:
- By entry (Clio): each bill line names the activity it bills (`BillLine.remote_id`), which is
  the remote id of a billsync entry. The pre-bill is the one on the bill's matter sharing the most
  entries; differences are entries missing from the bill, extra entries (unapproved ones called
  out), and lines whose amount differs.
- By content (PracticePanther: invoice lines carry no remote id): the pre-bill on the bill's
  matter whose period ended last on or before the bill's date; lines are paired by date, hours
  and amount, so a difference names the line that has no partner.
In both, the bill's total must equal the pre-bill's within the firm's tolerance.

An entry approved in billsync whose approval is not written to the PMS yet (`not_in_pms`) cannot
be on the bill: a bill that lacks only such entries is not a real difference. Those lines are
reported apart (`Comparison.not_in_pms`), and the total is compared without them.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from collections.abc import Set as AbstractSet
from dataclasses import dataclass
from datetime import date
from decimal import Decimal

from core.billing.model import AGREED_NOTE, CAP_NOTE, LineType, PreBill, PreBillLine, PreBillStatus
from core.models import BillLine, EntryState, RemoteBill, TimeEntry
from core.units import amount_for, cents

_HOURS = Decimal("0.01")
_APPROVED = frozenset({EntryState.APPROVED, EntryState.POSTED, EntryState.BILLED})


@dataclass(frozen=True, slots=True)
class Comparison:
    """A PMS bill against its pre-bill: what differs, in words a reviewer acts on."""

    prebill: PreBill
    bill: RemoteBill
    differences: tuple[str, ...]
    by_entry: bool  # matched through the lines' remote ids (Clio), not by content
    not_in_pms: tuple[str, ...] = ()  # lines the bill lacks because their approval is not in the PMS yet

    @property
    def matches(self) -> bool:
        """True when the bill bills exactly what the pre-bill does."""
        return not self.differences and not self.not_in_pms

    @property
    def waits_for_pms(self) -> bool:
        """True when the bill lacks only entries whose approval is not written to the PMS yet."""
        return not self.differences and bool(self.not_in_pms)


def find_prebill(bill: RemoteBill, prebills: Sequence[PreBill]) -> PreBill | None:
    """The pre-bill a PMS bill belongs to, or None when billsync prepared none for it."""
    linked = [p for p in prebills if p.pms_bill_id == bill.id]
    if linked:
        return linked[0]
    candidates = [
        p
        for p in prebills
        if p.pms_bill_id is None and p.status is not PreBillStatus.VOID and p.matter_id in bill.matter_ids
    ]
    remote_ids = {line.remote_id for line in bill.lines if line.remote_id}
    if remote_ids:
        scored = [(len(remote_ids & {ln.remote_id for ln in p.lines if ln.remote_id}), p) for p in candidates]
        best = max(scored, key=lambda item: (item[0], item[1].period_end), default=None)
        return best[1] if best is not None and best[0] > 0 else None
    issued = bill.issued_on or date.max
    eligible = [p for p in candidates if p.period_end <= issued]
    return max(eligible, key=lambda p: p.period_end, default=None)


def compare(
    prebill: PreBill,
    bill: RemoteBill,
    entries_by_remote_id: Mapping[str, TimeEntry],
    tolerance: Decimal = Decimal("0"),
    not_in_pms: AbstractSet[str] = frozenset(),
) -> Comparison:
    """Every difference between a PMS bill and its pre-bill; `not_in_pms` names entries not written yet."""
    by_entry = any(line.remote_id for line in bill.lines)
    if by_entry:
        found, waiting = _by_entry(prebill, bill, entries_by_remote_id, not_in_pms)
    else:
        found, waiting = _by_content(prebill, bill, not_in_pms)
    expected = prebill.total - sum((line.total for line in waiting), Decimal("0"))
    if abs(bill.total - expected) > tolerance:
        without = f" ({expected} without the entries not in the PMS yet)" if waiting else ""
        cause = _agreement_left_off(prebill, waiting, bill.total - expected, tolerance)
        found.append(f"the bill's total is {bill.total}, the pre-bill's {prebill.total}{without}{cause}")
    unwritten = tuple(
        f"line {line.number} ({_describe(line)}): approved in billsync, not written to the PMS yet, "
        "so the bill cannot include it"
        for line in waiting
    )
    return Comparison(prebill, bill, tuple(found), by_entry, unwritten)


def _agreement_left_off(
    prebill: PreBill, waiting: Sequence[PreBillLine], difference: Decimal, tolerance: Decimal
) -> str:
    """Why the totals differ when the difference is exactly an agreed adjustment the bill leaves out, else "".

    The PMS shows each entry at hours x rate; the agreed discount (or the price a cap left) and the
    matter's not-to-exceed cap line are the pre-bill's adjustments. A bill made without them totals
    more by exactly those adjustments with their tax, and the reviewer should hear which.
    """
    skipped = {line.number for line in waiting}
    billed = [line for line in prebill.lines if line.number not in skipped and line.adjustment]
    agreed = [line for line in billed if line.note == AGREED_NOTE]
    capped = [line for line in billed if line.note == CAP_NOTE]
    if not agreed and not capped:
        return ""
    agreed_words = f"the discount or cap agreed for the matter ({_numbers(agreed)})"
    cap_words = f"the matter's not-to-exceed cap ({_numbers(capped)})"
    candidates: list[tuple[list[PreBillLine], str]] = []
    if agreed:
        candidates.append((agreed, agreed_words))
    if capped:
        candidates.append((capped, cap_words))
    if agreed and capped:
        candidates.append((agreed + capped, f"{agreed_words} and {cap_words}"))
    for lines, words in candidates:
        left_off = sum((_without_adjustment(line) - line.total for line in lines), Decimal("0"))
        if abs(difference - left_off) <= tolerance:
            return f": the difference, {difference}, is {words}, which the PMS bill does not apply; apply it in the PMS"
    return ""


def _without_adjustment(line: PreBillLine) -> Decimal:
    """The line's total with its tax were its adjustment left off: an invoice-level line is then not there."""
    if line.type in (LineType.FEE_ADJUSTMENT, LineType.EXPENSE_ADJUSTMENT):
        return Decimal("0")
    return line.base + cents(line.base * line.tax_rate)


def _numbers(lines: Sequence[PreBillLine]) -> str:
    numbers = [str(line.number) for line in lines]
    if len(numbers) < 2:
        return f"line {''.join(numbers)}"
    return f"lines {', '.join(numbers[:-1])} and {numbers[-1]}"


def _by_entry(
    prebill: PreBill, bill: RemoteBill, entries_by_remote_id: Mapping[str, TimeEntry], not_in_pms: AbstractSet[str]
) -> tuple[list[str], list[PreBillLine]]:
    found: list[str] = []
    waiting: list[PreBillLine] = []
    ours = {ln.remote_id: ln for ln in prebill.lines if ln.remote_id}
    theirs: dict[str, BillLine] = {b.remote_id: b for b in bill.lines if b.remote_id}
    for line in prebill.lines:
        if line.entry_id is not None and line.remote_id is None:
            if line.entry_id in not_in_pms:
                waiting.append(line)
            else:
                found.append(f"line {line.number} ({_describe(line)}): its entry was never written to the PMS")
    for remote_id, line in ours.items():
        billed = theirs.get(remote_id)
        if billed is None:
            if line.entry_id in not_in_pms:
                waiting.append(line)
            else:
                found.append(f"missing from the bill: line {line.number} ({_describe(line)})")
            continue
        # The PMS line shows hours x rate; an agreed discount is the pre-bill's adjustment. Clio prices
        # the entry's exact time: 40 minutes at 350.00 is 233.33, where hours to four places (0.6667)
        # give the pre-bill's 233.35. Either is the entry at its rate, not a re-priced line.
        entry = entries_by_remote_id.get(remote_id)
        exact = None if entry is None else amount_for(entry.billed_seconds, line.unit_cost)
        if cents(billed.amount) not in (line.base, exact):
            found.append(f"line {line.number} ({_describe(line)}): the bill charges {billed.amount}, not {line.base}")
        if billed.hours.quantize(_HOURS) != line.units.quantize(_HOURS):
            found.append(f"line {line.number}: the bill has {billed.hours} h, the pre-bill {line.units} h")
    for remote_id, billed in theirs.items():
        if remote_id in ours:
            continue
        entry = entries_by_remote_id.get(remote_id)
        if entry is not None and entry.state not in _APPROVED:
            found.append(
                f"unapproved entry on the bill: PMS entry {remote_id} ({billed.work_date}, {billed.amount}) "
                f"is {entry.state.value} in billsync"
            )
        else:
            whose = f"billsync entry {entry.id}" if entry is not None else "not a billsync entry"
            found.append(
                f"extra entry on the bill: PMS entry {remote_id} ({billed.work_date}, {billed.amount}; {whose})"
            )
    found.extend(_unreferenced(prebill, bill))
    return found, sorted(waiting, key=lambda line: line.number)


def _unreferenced(prebill: PreBill, bill: RemoteBill) -> list[str]:
    """Lines without an entry on either side (flat fees, expenses): paired by amount."""
    ours = Counter(ln.base for ln in prebill.lines if ln.entry_id is None and ln.type is LineType.FEE)
    theirs = Counter(cents(ln.amount) for ln in bill.lines if not ln.remote_id)
    found = [f"missing from the bill: a {amount} line (flat fee)" for amount in (ours - theirs).elements()]
    found += [f"extra line on the bill: {amount} without an entry" for amount in (theirs - ours).elements()]
    return found


def _by_content(
    prebill: PreBill, bill: RemoteBill, not_in_pms: AbstractSet[str]
) -> tuple[list[str], list[PreBillLine]]:
    def key(day: date | None, hours: Decimal, amount: Decimal) -> tuple[date | None, Decimal, Decimal]:
        return day, hours.quantize(_HOURS), cents(amount)

    ours: dict[tuple[date | None, Decimal, Decimal], list[PreBillLine]] = {}
    # A bill line pairs with a written entry before one not in the PMS yet (which it cannot be).
    for line in sorted(prebill.lines, key=lambda ln: (ln.entry_id in not_in_pms, ln.number)):
        if line.type is LineType.FEE:
            units = line.units if line.entry_id is not None else Decimal("0")
            day = line.work_date if line.entry_id is not None else None
            ours.setdefault(key(day, units, line.base), []).append(line)
    found: list[str] = []
    for billed in bill.lines:
        day = billed.work_date if billed.kind == "time" else None
        hours = billed.hours if billed.kind == "time" else Decimal("0")
        partners = ours.get(key(day, hours, billed.amount))
        if partners:
            partners.pop(0)
        else:
            when = billed.work_date or "undated"
            found.append(f"extra line on the bill: {when}, {billed.hours.normalize():f} h, {billed.amount}")
    left = sorted((ln for lines in ours.values() for ln in lines), key=lambda ln: ln.number)
    found.extend(
        f"missing from the bill: line {ln.number} ({_describe(ln)})" for ln in left if ln.entry_id not in not_in_pms
    )
    return found, [ln for ln in left if ln.entry_id in not_in_pms]


def _describe(line: PreBillLine) -> str:
    who = f", {line.timekeeper_name}" if line.timekeeper_name else ""
    return f"{line.work_date}{who}, {line.units.normalize():f} h, {line.base}"


def entries_by_remote_id(entries: Iterable[TimeEntry]) -> dict[str, TimeEntry]:
    """billsync's entries by their id in the PMS."""
    return {e.remote_id: e for e in entries if e.remote_id}
