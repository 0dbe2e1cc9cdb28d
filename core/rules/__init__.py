"""Billing-rule validation: rule sets at firm < client < matter, each rule Block/Review/Warn/Off."""

from core.rules.builtin import BUILTIN_RULES, rules_for_increment
from core.rules.runner import EntryFacts, Rule, RuleRunner

__all__ = ["BUILTIN_RULES", "EntryFacts", "Rule", "RuleRunner", "rules_for_increment"]
