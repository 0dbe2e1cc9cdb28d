"""What an entry costs: Clio's rate hierarchy, agreed discounts and matter caps.

Rate hierarchy, highest priority first (as Clio documents it): a custom rate on the entry;
a flat-rate activity category; the matter's rate; the client's rate; the activity category's
hourly rate; the timekeeper's default rate.

Invariant: an entry's `rate` is the hierarchy's rate, the one the PMS shows on the entry; an
agreed discount lives in its `amount` only (a percentage off the amount, or a fixed sum off each
hour), so a pre-bill shows it as the line's adjustment and re-pricing an entry never applies a
discount twice. When the PMS's rate changes (a price a person typed on the entry, or the rate
PracticePanther chose for an entry billsync left blank), `agreed_amount` prices it again.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from decimal import Decimal

from core.models import ActivityCategory, Client, Discount, Matter, Timekeeper
from core.units import SECONDS_PER_HOUR, amount_for, cents

ZERO = Decimal("0")
HUNDRED = Decimal("100")


@dataclass(frozen=True, slots=True)
class Rated:
    """A rate, the amount it gives, and which level of the hierarchy produced it."""

    rate: Decimal
    amount: Decimal
    level: str  # custom, flat, matter, client, category, timekeeper


def _matter_rate(matter: Matter, timekeeper_id: str, category_id: str | None) -> Decimal | None:
    best: tuple[int, Decimal] | None = None
    for entry in matter.rates:
        if entry.timekeeper_id not in (None, timekeeper_id):
            continue
        if entry.category_id not in (None, category_id):
            continue
        # The most specific matter rate wins: timekeeper and category, then either, then neither.
        specificity = (entry.timekeeper_id is not None) * 2 + (entry.category_id is not None)
        if best is None or specificity > best[0]:
            best = (specificity, entry.rate)
    return best[1] if best else None


def hourly_rate(
    *,
    timekeeper: Timekeeper,
    matter: Matter,
    client: Client | None,
    category: ActivityCategory | None,
    custom_rate: Decimal | None,
) -> tuple[Decimal, str]:
    """The hourly rate before discounts and the hierarchy level it came from (not flat)."""
    if custom_rate is not None:
        return custom_rate, "custom"
    matter_rate = _matter_rate(matter, timekeeper.id, category.id if category else None)
    if matter_rate is not None:
        return matter_rate, "matter"
    if client is not None:
        client_rate = client.rates.get(timekeeper.id, client.rates.get("*"))
        if client_rate is not None:
            return client_rate, "client"
    if category is not None and category.rate is not None:
        return category.rate, "category"
    return timekeeper.default_rate, "timekeeper"


def agreed_amount(*, rate: Decimal, billed_seconds: int, flat: bool, discount: Discount | None) -> Decimal:
    """What an entry at `rate` costs under the agreement: rounded once, half-up to cents.

    A flat rate is the whole price whatever the time, and only a percentage comes off it. An
    hourly rate costs hours x rate, less a percentage of that, or less a fixed sum off each hour.
    """
    if flat:
        whole = rate
    elif discount is not None and discount.kind == "fixed_per_hour":
        return amount_for(billed_seconds, max(rate - discount.value, ZERO))
    else:
        whole = rate * billed_seconds / SECONDS_PER_HOUR
    if discount is not None and discount.kind == "percent":
        whole = whole * (HUNDRED - min(discount.value, HUNDRED)) / HUNDRED
    return cents(whole)


def discount_for(matter: Matter, client: Client | None) -> Discount | None:
    """The matter's agreed discount, or else the client's."""
    return matter.discount or (client.discount if client else None)


def rate_entry(
    *,
    timekeeper: Timekeeper,
    matter: Matter,
    client: Client | None,
    category: ActivityCategory | None,
    custom_rate: Decimal | None,
    billed_seconds: int,
) -> Rated:
    """Rate one entry: hierarchy first, then the matter's (or else the client's) discount."""
    discount = discount_for(matter, client)
    if custom_rate is None and category is not None and category.flat and category.rate is not None:
        # A flat-rate category charges its amount whatever the time.
        amount = agreed_amount(rate=category.rate, billed_seconds=billed_seconds, flat=True, discount=discount)
        return Rated(category.rate, amount, "flat")
    rate, level = hourly_rate(
        timekeeper=timekeeper, matter=matter, client=client, category=category, custom_rate=custom_rate
    )
    return Rated(rate, agreed_amount(rate=rate, billed_seconds=billed_seconds, flat=False, discount=discount), level)


class MatterCaps:
    """Keeps each capped matter's billed total under its not-to-exceed amount."""

    def __init__(self, billed_so_far: Callable[[], dict[str, Decimal]]) -> None:
        self._billed_so_far = billed_so_far  # every capped matter's total, loaded once on first use
        self._totals: dict[str, Decimal] | None = None

    def apply(self, matter: Matter, amount: Decimal) -> tuple[Decimal, bool]:
        """The amount that still fits under the cap, and whether it had to be reduced."""
        if matter.cap_amount is None:
            return amount, False
        if self._totals is None:
            self._totals = self._billed_so_far()
        total = self._totals.get(matter.id, ZERO)
        allowed = min(amount, max(matter.cap_amount - total, ZERO))
        self._totals[matter.id] = total + allowed
        return allowed, allowed < amount
