"""The capture engine most store, billing and engine tests run: capture on, the built-in rules only."""

from __future__ import annotations

from typing import Any

from core.engine import CaptureEngine
from core.policy import CapturePolicy, RuleSets
from core.rules import BUILTIN_RULES, RuleRunner
from core.store.store import Store


def capture_engine(store: Store, firm_id: str, **policy: Any) -> CaptureEngine:
    """A CaptureEngine for `firm_id` with capture enabled (and `policy`'s other settings), the
    built-in rules with no firm rule sets, and the reference data stored for the firm now."""
    return CaptureEngine(
        firm=firm_id,
        policy=CapturePolicy(**({"enabled": True} | policy)),
        rules=RuleRunner(BUILTIN_RULES, RuleSets()),
        reference=store.load_reference(firm_id),
        store=store,
    )
