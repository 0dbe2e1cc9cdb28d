"""The demo's firm in each vendor's own record shapes: `billsync demo` and `billsync sandbox --demo-firm` serve it.

Sandbox Law LLP: 12 users, 40 clients, 120 matters and a month of activity (October 2026), in the
system of record, the activity sources beside it and the payment gateway. Each vendor's seed comes
from that vendor's `billsync.demo_seeds` entry point; core names no vendor's records.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

from core.demo_data import SyntheticFirm, generate_firm
from core.plugins import DEMO_SEEDS, SANDBOXES, load, names

MONTH_START = datetime(2026, 10, 1, tzinfo=UTC)
DEMO_ACTIVITIES = 1500
DEFAULT_SOURCES = ("netdocuments", "microsoft365")
PAYMENT_GATEWAYS = ("lawpay",)
# The demo reads a whole month through the sandbox: its rate limit is scaled up to keep it short
# (the connector still obeys whatever limit the headers announce).
DEMO_RATE_LIMIT = 100_000


def demo_firm(activities: int = DEMO_ACTIVITIES) -> SyntheticFirm:
    """The demo's firm, the same every time, with a month of `activities`."""
    return generate_firm(timekeepers=12, clients=40, matters=120, activities=activities, month_start=MONTH_START)


def demo_seeds(
    firm: SyntheticFirm, *, system_of_record: str = "clio", sources: Sequence[str] = DEFAULT_SOURCES
) -> dict[str, dict[str, Any]]:
    """Each sandbox's seed, by vendor: the system of record first, then the sources, then the gateways installed."""
    chosen = [s for s in sources if s and s != system_of_record]
    gateways = [name for name in PAYMENT_GATEWAYS if name in names(SANDBOXES)]
    return {
        name: load(DEMO_SEEDS, name)(firm, now=_seed_time(name, system_of_record))
        for name in (system_of_record, *chosen, *gateways)
    }


def _seed_time(vendor: str, system_of_record: str) -> datetime:
    """When a seed is made: the system of record at the month's end; sources now.

    Sources keep only recent history (Teams call records 30 days), so their seeds place the
    firm's work in the days before today."""
    return datetime(2026, 11, 1, tzinfo=UTC) if vendor == system_of_record else datetime.now(UTC)
