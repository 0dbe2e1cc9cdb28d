"""Wires one firm's configuration, reference data and store into a capture engine."""

from __future__ import annotations

from config.settings import FirmSettings
from core.engine import CaptureEngine
from core.rules import BUILTIN_RULES, RuleRunner
from core.store.store import Store


def engine_for(firm_id: str, firm: FirmSettings, store: Store, *, persist: bool = True) -> CaptureEngine:
    """A capture engine for `firm_id` with the firm's policy and rules and its stored reference data."""
    return CaptureEngine(
        firm=firm_id,
        policy=firm.capture,
        rules=RuleRunner(BUILTIN_RULES, firm.rules),
        reference=store.load_reference(firm_id),
        store=store,
        persist=persist,
    )
