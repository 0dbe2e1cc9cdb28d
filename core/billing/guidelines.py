"""Outside-counsel guideline checks over a whole invoice, as a client's e-billing system runs them.

Entry rules (core.rules) look at one entry as it is captured; these look at the invoice the client
will receive: hours per timekeeper per day across all its lines, duplicates between lines, codes
in the right LEDES fields, line dates inside the billing period (docs/billing-domain.md §5). Each
finding names its line. Severities: the defaults below, overridden firm-wide and then per client.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from decimal import Decimal

from config.billing import BillingSettings, LedesFormat
from core.billing.model import GuidelineFinding, LineType, PreBill, PreBillLine
from core.matching import ReferenceData
from core.models import Client, Matter, Severity

# The entry rules' narrative tests, reused so an entry and its invoice line are judged alike.
from core.rules.builtin import VAGUE_WORDS, _is_vague, _task_count

TASK_CODE = re.compile(r"^[LBCP]\d{3}$")  # UTBMS task codes: litigation, bankruptcy, counseling, project
ACTIVITY_CODE = re.compile(r"^A\d{3}$")
EXPENSE_CODE = re.compile(r"^E\d{3}$")
_SUPPORT = frozenset({"FLTFEE", "ADJSMT"})  # fee-support lines, not a person's work


@dataclass(frozen=True, slots=True)
class InvoiceFacts:
    """What the checks need beyond the pre-bill."""

    client: Client | None
    matter: Matter | None
    ledes: LedesFormat
    daily_cap_hours: Decimal


Check = Callable[[PreBill, InvoiceFacts], Iterator[tuple[int | None, str]]]


def _work_lines(prebill: PreBill) -> Iterator[PreBillLine]:
    return (ln for ln in prebill.lines if ln.type is LineType.FEE and ln.classification not in _SUPPORT)


def daily_cap(prebill: PreBill, facts: InvoiceFacts) -> Iterator[tuple[int | None, str]]:
    """A timekeeper's hours on one day, over every line of the invoice, stay under the cap."""
    days: dict[tuple[str, object], list[PreBillLine]] = {}
    for line in _work_lines(prebill):
        days.setdefault((line.timekeeper_name, line.work_date), []).append(line)
    for (name, day), lines in days.items():
        total = sum((ln.units for ln in lines), Decimal("0"))
        if total > facts.daily_cap_hours:
            for line in lines:
                yield line.number, f"{name} bills {total:.2f} h on {day}, over the {facts.daily_cap_hours} h daily cap"


def duplicate(prebill: PreBill, facts: InvoiceFacts) -> Iterator[tuple[int | None, str]]:
    """Two lines billing the same work twice: same timekeeper, date, codes, amount *and* narrative.

    The same amount alone is not the same work: a 0.2 h call and a 0.2 h e-mail by one person on
    one day are two tasks. The narrative says what the work was (the capture rule compares it too),
    compared without regard to case or spacing, as a reviewer reads it.
    """
    seen: dict[tuple[object, ...], int] = {}
    for line in _work_lines(prebill):
        work = " ".join(line.narrative.casefold().split())
        key = (line.timekeeper_id, line.work_date, line.task_code, line.activity_code, line.amount, work)
        if key in seen:
            yield line.number, f"same timekeeper, date, codes, amount and narrative as line {seen[key]}"
        else:
            seen[key] = line.number


def block_billing(prebill: PreBill, facts: InvoiceFacts) -> Iterator[tuple[int | None, str]]:
    """One line, one task: several tasks joined in a narrative are block billing."""
    for line in _work_lines(prebill):
        tasks = _task_count(line.narrative)
        if tasks > 1:
            yield line.number, f"narrative joins {tasks} tasks (block billing)"


def vague_narrative(prebill: PreBill, facts: InvoiceFacts) -> Iterator[tuple[int | None, str]]:
    """A narrative says what was done, on what, about what."""
    for line in _work_lines(prebill):
        if _is_vague(line.narrative, VAGUE_WORDS):
            yield line.number, f"narrative is vague: {line.narrative!r}"


def unapproved_timekeeper(prebill: PreBill, facts: InvoiceFacts) -> Iterator[tuple[int | None, str]]:
    """When the client approves timekeepers, every line's timekeeper must be approved."""
    approved = facts.client.approved_rates if facts.client else None
    if approved is None:
        return
    for line in _work_lines(prebill):
        if line.timekeeper_id not in approved:
            yield line.number, f"{line.timekeeper_name} is not an approved timekeeper for this client"


def unapproved_rate(prebill: PreBill, facts: InvoiceFacts) -> Iterator[tuple[int | None, str]]:
    """An approved timekeeper bills at most the approved rate."""
    approved = facts.client.approved_rates if facts.client else None
    if approved is None:
        return
    for line in _work_lines(prebill):
        limit = approved.get(line.timekeeper_id or "")
        if limit is not None and line.unit_cost > limit:
            yield line.number, f"rate {line.unit_cost} exceeds the approved rate {limit} for {line.timekeeper_name}"


def utbms_missing(prebill: PreBill, facts: InvoiceFacts) -> Iterator[tuple[int | None, str]]:
    """A client billed by LEDES (or an e-billing matter) needs task and activity codes on every fee line."""
    if facts.ledes is LedesFormat.NONE and not (facts.matter and facts.matter.ebilling):
        return
    for line in _work_lines(prebill):
        missing = [name for name, code in (("task", line.task_code), ("activity", line.activity_code)) if not code]
        if missing:
            yield line.number, f"UTBMS {' and '.join(missing)} code missing"


def utbms_wrong_field(prebill: PreBill, facts: InvoiceFacts) -> Iterator[tuple[int | None, str]]:
    """Task codes go in the task field, activity codes in the activity field: e-billing rejects swaps."""
    for line in prebill.lines:
        if line.task_code and not TASK_CODE.match(line.task_code):
            kind = _kind_of(line.task_code)
            yield line.number, f"{line.task_code} in the task-code field is {kind}, not a task code"
        if line.activity_code and not ACTIVITY_CODE.match(line.activity_code):
            kind = _kind_of(line.activity_code)
            yield line.number, f"{line.activity_code} in the activity-code field is {kind}, not an activity code"
        if line.expense_code and not EXPENSE_CODE.match(line.expense_code):
            yield line.number, f"{line.expense_code} in the expense-code field is not an expense code"


def outside_period(prebill: PreBill, facts: InvoiceFacts) -> Iterator[tuple[int | None, str]]:
    """Every line date falls inside the billing period the invoice declares.

    E-billing systems reject the invoice otherwise (docs/billing-domain.md §5, [S91]), so this blocks by
    default. billsync's own pre-bills declare a period from their earliest line; this catches any
    that does not.
    """
    for line in prebill.lines:
        if not prebill.period_start <= line.work_date <= prebill.period_end:
            yield (
                line.number,
                f"dated {line.work_date}, outside the billing period {prebill.period_start} to {prebill.period_end}",
            )


def _kind_of(code: str) -> str:
    if ACTIVITY_CODE.match(code):
        return "an activity code"
    if TASK_CODE.match(code):
        return "a task code"
    if EXPENSE_CODE.match(code):
        return "an expense code"
    return "not a UTBMS code"


@dataclass(frozen=True, slots=True)
class GuidelineRule:
    """A named invoice check and its default severity."""

    name: str
    default: Severity
    check: Check


GUIDELINE_RULES: tuple[GuidelineRule, ...] = (
    GuidelineRule("daily_cap", Severity.REVIEW, daily_cap),
    GuidelineRule("duplicate", Severity.REVIEW, duplicate),
    GuidelineRule("block_billing", Severity.REVIEW, block_billing),
    GuidelineRule("vague_narrative", Severity.WARN, vague_narrative),
    GuidelineRule("unapproved_timekeeper", Severity.BLOCK, unapproved_timekeeper),
    GuidelineRule("unapproved_rate", Severity.BLOCK, unapproved_rate),
    GuidelineRule("utbms_missing", Severity.BLOCK, utbms_missing),
    GuidelineRule("utbms_wrong_field", Severity.BLOCK, utbms_wrong_field),
    GuidelineRule("outside_period", Severity.BLOCK, outside_period),
)
RULE_NAMES = frozenset(rule.name for rule in GUIDELINE_RULES)


def check_invoice(
    prebill: PreBill, reference: ReferenceData, settings: BillingSettings
) -> tuple[GuidelineFinding, ...]:
    """Every finding of every active rule, in rule order then line order."""
    client_cfg = settings.client(prebill.client_id)
    unknown = (set(settings.guidelines) | set(client_cfg.guidelines)) - RULE_NAMES
    if unknown:
        raise ValueError(f"unknown guideline rule(s) in configuration: {', '.join(sorted(unknown))}")
    facts = InvoiceFacts(
        client=reference.clients.get(prebill.client_id),
        matter=reference.matters.get(prebill.matter_id),
        ledes=client_cfg.ledes,
        daily_cap_hours=client_cfg.daily_cap_hours or settings.daily_cap_hours,
    )
    found: list[GuidelineFinding] = []
    for rule in GUIDELINE_RULES:
        severity = client_cfg.guidelines.get(rule.name, settings.guidelines.get(rule.name, rule.default))
        if severity is Severity.OFF:
            continue
        found.extend(
            GuidelineFinding(rule.name, severity, message, line) for line, message in rule.check(prebill, facts)
        )
    return tuple(found)
