"""Amounts typed by a person: plain decimal dollars, at most two places, nothing else.

`Decimal()` alone takes "NaN", "Infinity", "1e3" and full-width digits (U+FF11 for "1"); a payment
command must not. One rule, one error line.
"""

from __future__ import annotations

import re
from decimal import Decimal

from core.errors import BillsyncError
from core.units import CENT

_PLAIN = re.compile(r"[0-9]{1,9}(?:\.[0-9]{1,2})?")  # [0-9], not \d: \d matches every script's digits
LARGEST = Decimal("999999999.99")


def parse_amount(text: str) -> Decimal:
    """A positive amount in dollars and cents, e.g. "1250" or "1250.00"; BillsyncError otherwise."""
    shown = repr(text if len(text) <= 40 else text[:40] + "...")
    if re.fullmatch(r"[0-9]{10,}(?:\.[0-9]{1,2})?", text.strip()):
        raise BillsyncError(f"{shown} is more than billsync takes in one payment (${LARGEST:,})")
    if not _PLAIN.fullmatch(text.strip()):
        raise BillsyncError(
            f"{shown} is not an amount: write plain dollars and cents with at most two decimals, e.g. 1250.00"
        )
    value = Decimal(text.strip()).quantize(CENT)
    if value <= 0:
        raise BillsyncError(f"{shown} must be more than zero")
    return value
