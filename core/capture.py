"""Wires one firm's configuration, reference data and store into a capture engine."""

from __future__ import annotations

from config.settings import FirmSettings
from core.agreements import with_agreements
from core.engine import CaptureEngine
from core.rules import BUILTIN_RULES, RuleRunner, rules_for_increment
from core.store.store import Store


def engine_for(firm_id: str, firm: FirmSettings, store: Store, *, persist: bool = True) -> CaptureEngine:
    """A capture engine for `firm_id` with the firm's policy and rules and its stored reference data.

    The increment in effect follows the PMS's own rounding as last read (a sync
    reads it before it captures); the `increment` rule's default unit follows it too. The
    reference data carries the firm's configured agreements (discounts, caps, phases).
    """
    read = store.time_increment(firm_id, firm.pms)
    pms_increment = read.minutes if read is not None else None
    increment = firm.capture.increment(pms_increment)
    return CaptureEngine(
        firm=firm_id,
        policy=firm.capture,
        rules=RuleRunner(rules_for_increment(increment, BUILTIN_RULES), firm.rules),
        reference=with_agreements(store.load_reference(firm_id), firm.billing),
        store=store,
        persist=persist,
        pms_increment=pms_increment,
    )
