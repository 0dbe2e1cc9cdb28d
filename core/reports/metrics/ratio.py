"""A rate kept as its two parts, so every output shows the same figure and "undefined" stays undefined."""

from __future__ import annotations

from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal

PERCENT = Decimal("0.1")


@dataclass(frozen=True, slots=True)
class Ratio:
    """numerator / denominator; with a zero denominator the rate is undefined (shown "—"), never 0 or 100 %."""

    numerator: Decimal
    denominator: Decimal

    @property
    def percent(self) -> Decimal | None:
        """The rate in percent, half-up to one place; None when undefined."""
        if self.denominator == 0:
            return None
        return (self.numerator * 100 / self.denominator).quantize(PERCENT, rounding=ROUND_HALF_UP)
