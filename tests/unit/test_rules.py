"""Each built-in rule fires when it should, at the severity its level sets, and decides the state."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

import pytest

from core.engine import decide_state
from core.models import ActivityKind, BillingMethod, EntryState, Finding, MatterStatus, Severity, TimeEntry
from core.policy import ReviewMode, RuleConfig, RuleSets
from core.rules import BUILTIN_RULES, EntryFacts, RuleRunner
from tests.factories import T0, client, matter, timekeeper

D = Decimal


def entry(**kw) -> TimeEntry:
    base = {
        "id": "e1",
        "activity_key": ("test", "a1"),
        "timekeeper_id": "u1",
        "matter_id": "m1",
        "client_id": "c1",
        "work_date": date(2026, 10, 5),
        "started_at": T0,
        "ended_at": T0,
        "raw_seconds": 600,
        "billed_seconds": 720,
        "rate": D("400"),
        "amount": D("80.00"),
        "billable": True,
        "narrative": "Telephone call with P. Jones re: settlement terms",
        "kind": ActivityKind.CALL,
        "task_code": "L120",
        "activity_code": "A106",
    }
    return TimeEntry(**(base | kw))


def facts(**kw) -> EntryFacts:
    base = {"timekeeper": timekeeper(), "matter": matter(), "client": client(), "day_seconds": 720}
    return EntryFacts(**(base | kw))


def findings(e=None, f=None, sets=None) -> dict[str, Finding]:
    runner = RuleRunner(BUILTIN_RULES, sets or RuleSets())
    return {x.rule: x for x in runner.findings(e or entry(), f or facts())}


def test_a_clean_entry_has_no_findings() -> None:
    assert findings() == {}


# Each rule: (entry overrides, facts overrides, rule name, default severity)
CASES = [
    ({"billed_seconds": 0, "raw_seconds": 0}, {}, "increment", Severity.REVIEW),
    ({"billed_seconds": 900}, {}, "increment", Severity.REVIEW),  # 15 min is not whole 0.1 h
    ({"billed_seconds": 25 * 3600}, {"day_seconds": 25 * 3600}, "max_entry_hours", Severity.BLOCK),
    ({}, {"day_seconds": 13 * 3600}, "max_day_hours", Severity.REVIEW),
    ({"narrative": "Telephone call"}, {}, "vague_narrative", Severity.WARN),
    (
        {"narrative": "Reviewed the lease and drafted the amendment; called client"},
        {},
        "block_billing",
        Severity.REVIEW,
    ),
    ({}, {"matter": matter(status=MatterStatus.CLOSED)}, "closed_matter", Severity.BLOCK),
    ({"billable": False}, {"matter": matter(billable=False)}, "non_billable_matter", Severity.WARN),
    ({"billable": False}, {"matter": matter(billing_method=BillingMethod.FLAT)}, "alternative_fee", Severity.WARN),
    (
        {"billable": False},
        {"matter": matter(billing_method=BillingMethod.CONTINGENCY)},
        "alternative_fee",
        Severity.WARN,
    ),
    ({"task_code": None}, {"matter": matter(ebilling=True)}, "utbms_codes", Severity.REVIEW),
    ({}, {"duplicate_of": "e0"}, "duplicate", Severity.REVIEW),
    ({"rate": D("450")}, {"client": client(approved_rates={"u1": D("400")})}, "unapproved_rate", Severity.REVIEW),
    ({}, {"client": client(approved_rates={"u9": D("400")})}, "unapproved_rate", Severity.REVIEW),
    ({}, {"capped": True, "matter": matter(cap_amount=D("1000"))}, "matter_cap", Severity.REVIEW),
    ({}, {"suggested": True}, "suggested_matter", Severity.REVIEW),
]


@pytest.mark.parametrize(("entry_kw", "facts_kw", "rule", "severity"), CASES, ids=[c[2] for c in CASES])
def test_rule_fires_at_its_default_severity(entry_kw, facts_kw, rule, severity) -> None:
    found = findings(entry(**entry_kw), facts(**facts_kw))
    assert rule in found, found
    assert found[rule].severity is severity
    assert found[rule].message


@pytest.mark.parametrize(
    ("entry_kw", "facts_kw", "rule"),
    [
        ({"billed_seconds": 360}, {}, "increment"),
        ({"billed_seconds": 24 * 3600}, {}, "max_entry_hours"),
        ({}, {"day_seconds": 12 * 3600}, "max_day_hours"),  # exactly at the cap is allowed
        ({"narrative": "Drafted motion to compel deposition of Smith"}, {}, "vague_narrative"),
        ({"narrative": "Drafted: Engagement letter and NDA"}, {}, "block_billing"),
        ({"task_code": None, "activity_code": None}, {}, "utbms_codes"),  # not an e-billing matter
        ({"rate": D("400")}, {"client": client(approved_rates={"u1": D("400")})}, "unapproved_rate"),
        ({"billable": False}, {"client": client(approved_rates={})}, "unapproved_rate"),  # nothing billed
    ],
)
def test_rule_stays_quiet_when_the_entry_complies(entry_kw, facts_kw, rule) -> None:
    assert rule not in findings(entry(**entry_kw), facts(**facts_kw))


@pytest.mark.parametrize(
    "narrative",
    [
        "Attended: Mediation",
        "Attended: Hearing on motion to dismiss",
        "Appeared at status conference",
        "Attended deposition of claims adjuster",
    ],
)
def test_attending_a_named_proceeding_is_not_vague(narrative: str) -> None:
    # docs/billing-domain.md §5: verb + deliverable + issue; the proceeding is the deliverable (UTBMS A109).
    assert "vague_narrative" not in findings(entry(narrative=narrative), facts())


@pytest.mark.parametrize(
    "narrative",
    ["Telephone call", "Research", "Attention to file", "Attended", "Attended: Meeting", "Attended: Client meeting"],
)
def test_what_clients_reject_as_vague_stays_vague(narrative: str) -> None:
    assert "vague_narrative" in findings(entry(narrative=narrative), facts())


def test_utbms_rule_names_each_missing_code() -> None:
    found = findings(entry(task_code=None, activity_code=None), facts(matter=matter(ebilling=True)))
    assert found["utbms_codes"].message == "e-billing matter needs a UTBMS task and activity code"


LEVELS = {
    "firm": lambda cfg: RuleSets(firm={"vague_narrative": cfg}),
    "client": lambda cfg: RuleSets(clients={"c1": {"vague_narrative": cfg}}),
    "matter": lambda cfg: RuleSets(matters={"m1": {"vague_narrative": cfg}}),
}


@pytest.mark.parametrize("level", list(LEVELS))
@pytest.mark.parametrize("severity", [Severity.BLOCK, Severity.REVIEW, Severity.WARN, Severity.OFF])
def test_each_severity_can_be_set_at_each_level(level, severity) -> None:
    sets = LEVELS[level](RuleConfig(severity=severity))
    found = findings(entry(narrative="Research"), sets=sets)
    if severity is Severity.OFF:
        assert "vague_narrative" not in found
    else:
        assert found["vague_narrative"].severity is severity


def test_more_specific_level_wins_and_only_for_its_own_client_or_matter() -> None:
    sets = RuleSets(
        firm={"vague_narrative": RuleConfig(severity=Severity.BLOCK)},
        clients={"c1": {"vague_narrative": RuleConfig(severity=Severity.REVIEW)}},
        matters={"m1": {"vague_narrative": RuleConfig(severity=Severity.OFF)}},
    )
    vague = "Research"
    assert "vague_narrative" not in findings(entry(narrative=vague), sets=sets)  # matter m1: off
    on_m2 = findings(entry(narrative=vague, matter_id="m2"), facts(matter=matter(id="m2")), sets)
    assert on_m2["vague_narrative"].severity is Severity.REVIEW  # client c1
    on_c2 = findings(entry(narrative=vague, matter_id="m3", client_id="c2"), facts(matter=matter(id="m3")), sets)
    assert on_c2["vague_narrative"].severity is Severity.BLOCK  # firm


def test_parameters_merge_field_by_field_across_levels() -> None:
    sets = RuleSets(
        firm={"max_day_hours": RuleConfig(severity=Severity.BLOCK)},
        clients={"c1": {"max_day_hours": RuleConfig(hours=D("8"))}},
    )
    found = findings(f=facts(day_seconds=9 * 3600), sets=sets)
    assert found["max_day_hours"].severity is Severity.BLOCK  # severity from the firm
    assert "8 h daily cap" in found["max_day_hours"].message  # hours from the client


def test_client_increment_and_vague_word_list_are_configurable() -> None:
    sets = RuleSets(firm={"increment": RuleConfig(minutes=15), "vague_narrative": RuleConfig(words=["settlement"])})
    assert "increment" in findings(entry(billed_seconds=360), sets=sets)
    assert "increment" not in findings(entry(billed_seconds=1800), sets=sets)
    assert "vague_narrative" in findings(entry(narrative="settlement terms"), sets=sets)


def test_unknown_rule_names_in_configuration_are_an_error() -> None:
    with pytest.raises(ValueError, match="vauge_narrative"):
        RuleRunner(BUILTIN_RULES, RuleSets(clients={"c1": {"vauge_narrative": RuleConfig()}}))


@pytest.mark.parametrize(
    ("severities", "mode", "state"),
    [
        ((), ReviewMode.ALL, EntryState.NEEDS_REVIEW),
        ((), ReviewMode.FLAGGED, EntryState.APPROVED),
        ((), ReviewMode.NONE, EntryState.APPROVED),
        ((Severity.WARN,), ReviewMode.FLAGGED, EntryState.NEEDS_REVIEW),
        ((Severity.WARN,), ReviewMode.NONE, EntryState.APPROVED),
        ((Severity.REVIEW,), ReviewMode.NONE, EntryState.NEEDS_REVIEW),
        ((Severity.REVIEW, Severity.BLOCK), ReviewMode.NONE, EntryState.BLOCKED),
        ((Severity.BLOCK,), ReviewMode.ALL, EntryState.BLOCKED),
    ],
)
def test_state_from_findings_and_review_mode(severities, mode, state) -> None:
    found = [Finding(rule="r", severity=s, message="m") for s in severities]
    assert decide_state(found, mode) is state


def _level_sets(rule: str, level: str, severity: Severity) -> RuleSets:
    cfg = {rule: RuleConfig(severity=severity)}
    if level == "firm":
        return RuleSets(firm=cfg)
    if level == "client":
        return RuleSets(clients={"c1": cfg})
    return RuleSets(matters={"m1": cfg})


@pytest.mark.parametrize("level", ["firm", "client", "matter"])
@pytest.mark.parametrize("severity", list(Severity))
@pytest.mark.parametrize(("entry_kw", "facts_kw", "rule", "_default"), CASES, ids=[c[2] for c in CASES])
def test_every_rule_at_every_severity_and_level_decides_the_state(entry_kw, facts_kw, rule, _default, level, severity):
    """The full matrix: each rule, set at each level to each severity, gives that finding and state."""
    sets = _level_sets(rule, level, severity)
    found = RuleRunner(BUILTIN_RULES, sets).findings(entry(**entry_kw), facts(**facts_kw))
    mine = [f for f in found if f.rule == rule]
    if severity is Severity.OFF:
        assert mine == []
        return
    assert [f.severity for f in mine] == [severity]
    state = decide_state(mine, ReviewMode.NONE)
    expected = {
        Severity.BLOCK: EntryState.BLOCKED,
        Severity.REVIEW: EntryState.NEEDS_REVIEW,
        Severity.WARN: EntryState.APPROVED,
    }[severity]
    assert state is expected
