"""Time and money arithmetic, in one place so every caller rounds the same way.

Time is rounded up per entry to the billing increment and the raw seconds are kept;
totals are sums of rounded entries and are never rounded again. Money is Decimal,
rounded half-up to cents.
"""

from __future__ import annotations

from decimal import ROUND_HALF_UP, Decimal

CENT = Decimal("0.01")
SECONDS_PER_HOUR = Decimal(3600)


def billed_seconds(raw_seconds: int, increment_seconds: int) -> int:
    """Round a raw duration up to the next whole increment; zero stays zero."""
    if raw_seconds < 0:
        raise ValueError("a duration cannot be negative")
    if increment_seconds <= 0:
        raise ValueError("the increment must be positive")
    return -(-raw_seconds // increment_seconds) * increment_seconds


def hours(seconds: int) -> Decimal:
    """Seconds as exact decimal hours (a whole number of increments gives a short decimal)."""
    return Decimal(seconds) / SECONDS_PER_HOUR


def cents(amount: Decimal) -> Decimal:
    """Round money half-up to cents."""
    return amount.quantize(CENT, rounding=ROUND_HALF_UP)


def amount_for(seconds: int, hourly_rate: Decimal) -> Decimal:
    """What `seconds` of work cost at `hourly_rate`, rounded once, half-up to cents."""
    return cents(Decimal(seconds) * hourly_rate / SECONDS_PER_HOUR)
