"""Load a firm's facts and compute its report in one call: what the CLI, the daemon and snapshots use."""

from __future__ import annotations

from datetime import date

from config.settings import FirmSettings
from core.errors import BillsyncError
from core.reports.compute import DIMENSIONS, Dimension, Report, compute_report
from core.reports.facts import FirmFacts, load_facts
from core.reports.period import parse_period
from core.store.store import Store


def build_report(
    store: Store, firm_id: str, firm: FirmSettings, *, period: str | None, by: str, today: date
) -> tuple[FirmFacts, Report]:
    """The firm's report for `period` ("2026-10", "2026-Q4", "all", ...), grouped `by`."""
    if by not in DIMENSIONS:
        raise BillsyncError(f"cannot group by {by!r}: choose one of {', '.join(DIMENSIONS)}")
    dimension: Dimension = by  # checked just above
    facts = load_facts(store, firm_id, firm, today)
    chosen = parse_period(period, first=facts.first_day(), today=today)
    return facts, compute_report(facts, chosen, dimension)
