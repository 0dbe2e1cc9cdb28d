"""The rules billsync ships, each with the default a careful firm would start from.

Defaults follow the outside-counsel guidelines that e-billing systems enforce: whole
increments (of the firm's increment in effect, 0.1 h unless the firm or its PMS sets another; a
client's own unit is set on the rule), no block billing, no vague narratives, a daily cap,
approved rates only, UTBMS codes on LEDES matters, no duplicates. Each default can be changed at firm, client or matter
level in the configuration.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import replace
from functools import lru_cache
from typing import Any

from core.models import BillingMethod, MatterStatus, Severity, TimeEntry
from core.policy import DEFAULT_HOURS_PER_DAY, DEFAULT_HOURS_PER_ENTRY, DEFAULT_INCREMENT_MINUTES, RuleConfig
from core.rules.runner import Check, EntryFacts, Rule
from core.units import hours

VAGUE_WORDS = (
    "attention to",
    "work on",
    "review file",
    "telephone conference",
    "telephone call",
    "text message",
    "conference",
    "call",
    "e-mail",
    "email",
    "emails",
    "correspondence",
    "research",
    "review",
    "meeting",
    "follow up",
    "follow-up",
    "various",
    "miscellaneous",
    "misc",
    "prepare",
    "prepared",
    "draft",
    "drafted",
    "document",
    "discuss",
    "discussion",
    "analysis",
    "matter",
    "file",
    "note",
    "task",
    "completed",
    "attended",
)
_FILLER = {"with", "to", "re", "and", "the", "a", "an", "of", "for", "on", "in", "regarding"}
_TASK_VERBS = {
    "drafted",
    "draft",
    "reviewed",
    "review",
    "revised",
    "revise",
    "prepared",
    "prepare",
    "attended",
    "attend",
    "researched",
    "research",
    "analyzed",
    "analysed",
    "analyze",
    "conferred",
    "confer",
    "called",
    "telephoned",
    "emailed",
    "e-mailed",
    "met",
    "discussed",
    "edited",
    "filed",
    "negotiated",
    "corresponded",
    "finalized",
    "finalised",
    "reviewing",
    "drafting",
    "revising",
    "preparing",
    "attending",
    "researching",
}
# docs/billing-domain.md §5 ("No vague narratives"): clients cut "telephone conference", "research",
# "emails": a narrative needs verb + deliverable + issue. Attending a proceeding of a named kind
# ("Attended: Mediation", "Appeared at hearing on motion to dismiss") has all three: the verb,
# the proceeding, and the matter's own proceeding on that date as its subject. It is UTBMS
# activity A109 "Appear for/attend" (§4, where a calendar hearing maps to A109), not a vague
# entry. An attended *meeting* or *conference* names no proceeding and stays vague.
_ATTENDANCE = re.compile(r"^\W*(?:attended|attending|attend|appeared|appearance)\b", re.IGNORECASE)
_PROCEEDING = re.compile(
    r"\b(?:hearings?|mediations?|depositions?|trials?|arbitrations?|arraignments?|sentencing|oral argument"
    r"|(?:status|settlement|pre-?trial|scheduling|case management) conferences?|court)\b",
    re.IGNORECASE,
)
_TASK_SEPARATORS = re.compile(r";|,|/|\band\b|\bthen\b|&", re.IGNORECASE)
_WORD = re.compile(r"[a-z0-9][a-z0-9'-]*")


@lru_cache(maxsize=64)
def _phrases_pattern(words: tuple[str, ...]) -> re.Pattern[str]:
    ordered = sorted(words, key=len, reverse=True)  # "telephone call" before "call"
    return re.compile(r"\b(?:" + "|".join(re.escape(w.lower()) for w in ordered) + r")\b")


def increment(entry: TimeEntry, facts: EntryFacts, cfg: RuleConfig) -> str | None:
    """Billed time must be whole increments of the client's billing unit, and not zero."""
    unit = (cfg.minutes or DEFAULT_INCREMENT_MINUTES) * 60
    if entry.billed_seconds == 0:
        return "entry has no time"
    if entry.billed_seconds % unit:
        return f"{hours(entry.billed_seconds):.2f} h is not a whole number of {cfg.minutes}-minute increments"
    return None


def max_entry_hours(entry: TimeEntry, facts: EntryFacts, cfg: RuleConfig) -> str | None:
    """One entry may not exceed the per-entry maximum."""
    limit = cfg.hours or DEFAULT_HOURS_PER_ENTRY
    if hours(entry.billed_seconds) > limit:
        return f"{hours(entry.billed_seconds):.2f} h in one entry exceeds {limit} h"
    return None


def max_day_hours(entry: TimeEntry, facts: EntryFacts, cfg: RuleConfig) -> str | None:
    """A timekeeper's billed time on one day may not exceed the daily cap."""
    limit = cfg.hours or DEFAULT_HOURS_PER_DAY
    total = hours(facts.day_seconds)
    if total > limit:
        return f"{facts.timekeeper.name} has {total:.2f} h on {entry.work_date}, over the {limit} h daily cap"
    return None


def vague_narrative(entry: TimeEntry, facts: EntryFacts, cfg: RuleConfig) -> str | None:
    """A narrative needs more than generic words: what was done, on what, about what."""
    words = tuple(cfg.words) if cfg.words is not None else VAGUE_WORDS
    if _is_vague(entry.narrative, words):
        return f"narrative is vague: {entry.narrative!r} says what kind of work, not what or why"
    return None


@lru_cache(maxsize=8192)  # narratives repeat a lot ("Telephone call with J. Smith")
def _is_vague(narrative: str, vague_words: tuple[str, ...]) -> bool:
    if _ATTENDANCE.search(narrative) and _PROCEEDING.search(narrative):
        return False  # attendance at a named proceeding: see _ATTENDANCE
    generic = _phrases_pattern(vague_words)
    remaining = [w for w in _WORD.findall(generic.sub(" ", narrative.lower())) if w not in _FILLER and len(w) > 1]
    return len(remaining) < 2


def block_billing(entry: TimeEntry, facts: EntryFacts, cfg: RuleConfig) -> str | None:
    """One entry, one task: several tasks joined in one narrative are block billing."""
    tasks = _task_count(entry.narrative)
    if tasks > 1:
        return f"narrative joins {tasks} tasks in one entry (block billing)"
    return None


@lru_cache(maxsize=8192)
def _task_count(narrative: str) -> int:
    tasks = 0
    for part in _TASK_SEPARATORS.split(narrative):
        words = _WORD.findall(part.lower())
        if words and words[0] in _TASK_VERBS:
            tasks += 1
    return tasks


def closed_matter(entry: TimeEntry, facts: EntryFacts, cfg: RuleConfig) -> str | None:
    """A closed matter takes no time."""
    if facts.matter.status is MatterStatus.CLOSED:
        return f"matter {facts.matter.number} is closed"
    return None


def non_billable_matter(entry: TimeEntry, facts: EntryFacts, cfg: RuleConfig) -> str | None:
    """Time on a non-billable matter (pro bono, internal) is recorded, never billed."""
    if not facts.matter.billable:
        return f"matter {facts.matter.number} is non-billable: entry recorded for utilization only"
    return None


def alternative_fee(entry: TimeEntry, facts: EntryFacts, cfg: RuleConfig) -> str | None:
    """Flat-fee and contingency matters never bill incremental entries."""
    method = facts.matter.billing_method
    if method is not BillingMethod.HOURLY:
        return f"{method.value} matter: entry recorded non-billable, for utilization only"
    return None


def utbms_codes(entry: TimeEntry, facts: EntryFacts, cfg: RuleConfig) -> str | None:
    """E-billing (LEDES) matters need a UTBMS task code and activity code on every entry."""
    if not facts.matter.ebilling:
        return None
    missing = [name for name, code in (("task", entry.task_code), ("activity", entry.activity_code)) if not code]
    if missing:
        return f"e-billing matter needs a UTBMS {' and '.join(missing)} code"
    return None


def duplicate(entry: TimeEntry, facts: EntryFacts, cfg: RuleConfig) -> str | None:
    """The same work on the same day, matter and timekeeper must not be billed twice."""
    if facts.duplicate_of is not None:
        return f"looks like a duplicate of entry {facts.duplicate_of}"
    return None


def unapproved_rate(entry: TimeEntry, facts: EntryFacts, cfg: RuleConfig) -> str | None:
    """When the client approves rates, the timekeeper and the rate must both be approved."""
    approved = facts.client.approved_rates if facts.client else None
    if approved is None or not entry.billable:
        return None
    limit = approved.get(entry.timekeeper_id)
    if limit is None:
        return f"{facts.timekeeper.name} is not an approved timekeeper for this client"
    if entry.rate > limit:
        return f"rate {entry.rate} exceeds the approved rate {limit}"
    return None


def matter_cap(entry: TimeEntry, facts: EntryFacts, cfg: RuleConfig) -> str | None:
    """A not-to-exceed cap was reached; the entry was reduced to what remained."""
    if facts.capped:
        return f"matter cap of {facts.matter.cap_amount} reached: amount reduced to {entry.amount}"
    return None


def suggested_matter(entry: TimeEntry, facts: EntryFacts, cfg: RuleConfig) -> str | None:
    """A matter guessed from the client's most recent open matter needs a person's confirmation."""
    if facts.suggested:
        return f"matter {facts.matter.number} suggested: the client's most recently updated open matter"
    return None


def _rule(name: str, check: Check, severity: Severity, **params: Any) -> Rule:
    return Rule(name=name, default=RuleConfig(severity=severity, **params), check=check)


def rules_for_increment(increment_minutes: int, rules: Sequence[Rule]) -> tuple[Rule, ...]:
    """`rules` with the `increment` rule's default unit set to the firm's increment in effect.

    billsync's own rounding is then never a finding by itself (a firm whose PMS rounds to
    quarter hours bills 0.25 h without "not a whole number of 6-minute increments"), while a
    unit set on the rule for the firm, a client or a matter still applies.
    """
    default = {"minutes": increment_minutes}
    return tuple(
        replace(rule, default=rule.default.model_copy(update=default)) if rule.name == "increment" else rule
        for rule in rules
    )


BUILTIN_RULES: tuple[Rule, ...] = (
    _rule("increment", increment, Severity.REVIEW, minutes=DEFAULT_INCREMENT_MINUTES),
    _rule("max_entry_hours", max_entry_hours, Severity.BLOCK, hours=DEFAULT_HOURS_PER_ENTRY),
    _rule("max_day_hours", max_day_hours, Severity.REVIEW, hours=DEFAULT_HOURS_PER_DAY),
    _rule("vague_narrative", vague_narrative, Severity.WARN),
    _rule("block_billing", block_billing, Severity.REVIEW),
    _rule("closed_matter", closed_matter, Severity.BLOCK),
    _rule("non_billable_matter", non_billable_matter, Severity.WARN),
    _rule("alternative_fee", alternative_fee, Severity.WARN),
    _rule("utbms_codes", utbms_codes, Severity.REVIEW),
    _rule("duplicate", duplicate, Severity.REVIEW),
    _rule("unapproved_rate", unapproved_rate, Severity.REVIEW),
    _rule("matter_cap", matter_cap, Severity.REVIEW),
    _rule("suggested_matter", suggested_matter, Severity.REVIEW),
)
