"""Runs the rule list over an entry, with each rule configured for the entry's client and matter."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

from core.models import Client, Finding, Matter, Severity, TimeEntry, Timekeeper
from core.policy import RuleConfig, RuleSets


@dataclass(frozen=True, slots=True)
class EntryFacts:
    """What the rules need to know beyond the entry itself."""

    timekeeper: Timekeeper
    matter: Matter
    client: Client | None
    day_seconds: int  # the timekeeper's billed seconds that day, this entry included
    duplicate_of: str | None = None  # id of an earlier entry this one duplicates
    capped: bool = False  # the matter's cap reduced the amount
    suggested: bool = False  # the matter was inferred from the client's recent matter


Check = Callable[[TimeEntry, EntryFacts, RuleConfig], str | None]


@dataclass(frozen=True, slots=True)
class Rule:
    """A named check with its default severity and parameters."""

    name: str
    default: RuleConfig
    check: Check  # returns a message when the entry breaks the rule


class RuleRunner:
    """Applies an explicit list of rules; configurations are resolved once per client and matter."""

    def __init__(self, rules: Sequence[Rule], rule_sets: RuleSets) -> None:
        unknown = _configured_names(rule_sets) - {rule.name for rule in rules}
        if unknown:
            raise ValueError(f"unknown rule(s) in configuration: {', '.join(sorted(unknown))}")
        self._rules = tuple(rules)
        self._sets = rule_sets
        self._resolved: dict[tuple[str, str], tuple[tuple[Rule, RuleConfig], ...]] = {}

    def _active(self, client_id: str, matter_id: str) -> tuple[tuple[Rule, RuleConfig], ...]:
        # Most clients and matters have no overrides of their own: they share the firm's set.
        key = (
            client_id if client_id in self._sets.clients else "",
            matter_id if matter_id in self._sets.matters else "",
        )
        active = self._resolved.get(key)
        if active is None:
            resolved = ((r, self._sets.resolve(r.name, key[0], key[1], r.default)) for r in self._rules)
            active = tuple((r, cfg) for r, cfg in resolved if cfg.severity is not Severity.OFF)
            self._resolved[key] = active
        return active

    def findings(self, entry: TimeEntry, facts: EntryFacts) -> tuple[Finding, ...]:
        """Every finding of every active rule, in rule order."""
        found = []
        for rule, cfg in self._active(entry.client_id, entry.matter_id):
            message = rule.check(entry, facts, cfg)
            if message is not None:
                assert cfg.severity is not None  # every built-in default sets one
                found.append(Finding(rule=rule.name, severity=cfg.severity, message=message))
        return tuple(found)


def _configured_names(rule_sets: RuleSets) -> set[str]:
    names = set(rule_sets.firm)
    for level in (*rule_sets.clients.values(), *rule_sets.matters.values()):
        names |= set(level)
    return names
