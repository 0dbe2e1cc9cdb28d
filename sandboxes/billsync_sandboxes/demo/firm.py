"""The demo's firm in each vendor's own record shapes: `billsync demo` and `billsync sandbox --demo-firm` serve it.

Sandbox Law LLP: 12 users, 40 clients, 120 matters and a month of activity (October 2026), in the
PMS, the activity sources beside it and the payment gateway. Each vendor's seed comes
from that vendor's `billsync.demo_seeds` entry point; core names no vendor's records.

Every vendor is seeded as it stood when the month ended, so the work in Clio (or PracticePanther),
NetDocuments and Microsoft 365 all falls in that one calendar month, and the demo's banner and
reports name it. In `billsync demo` the activity sources' sandboxes also run on a clock set to that
moment (`demo_clocks`): Microsoft keeps Teams call records for 30 days, and the Graph sandbox
measures those 30 days from its own clock, so the month's calls are still there when the demo
reads them (on the real clock they would be gone). The PMS and the gateway keep the
real clock: the month end's bills are dated when October closed, and its payments happen today.
`billsync sandbox --demo-firm` serves a daemon for as long as it runs, so its sandboxes keep the
real clock (Graph refuses a webhook subscription that expires more than three days after its own
"now", and billsync's subscriptions are made on the real clock).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from typing import Any

from billsync_sandboxes.demo.data import SyntheticFirm, generate_firm
from billsync_sandboxes.kit import Clock, ShiftedClock
from core.plugins import DEMO_SEEDS, SANDBOXES, load, names

MONTH_START = datetime(2026, 10, 1, tzinfo=UTC)
MONTH_END = datetime(2026, 11, 1, tzinfo=UTC)  # the moment the month ended: every seed is made then
MONTH_NAME = "October 2026"  # what the banner calls MONTH_START's month
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
    firm: SyntheticFirm, *, pms: str = "clio", sources: Sequence[str] = DEFAULT_SOURCES
) -> dict[str, dict[str, Any]]:
    """Each sandbox's seed, by vendor: the PMS first, then the sources, then the gateways installed."""
    chosen = [s for s in sources if s and s != pms]
    gateways = [name for name in PAYMENT_GATEWAYS if name in names(SANDBOXES)]
    return {
        name: load(DEMO_SEEDS, name)(firm, now=MONTH_END) for name in (pms, *chosen, *gateways)
    }


def demo_clocks(seeds: Mapping[str, object], *, pms: str = "clio") -> dict[str, Clock]:
    """The clock each activity source's sandbox runs on: set to the month's end, then running on.

    Vendors missing here (the PMS, the gateways) keep the real clock.
    """
    return {
        name: ShiftedClock(MONTH_END)
        for name in seeds
        if name != pms and name not in PAYMENT_GATEWAYS
    }
