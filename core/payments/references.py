"""The references billsync puts on gateway transactions, and how they are read back.

A hosted-page payment carries exactly the invoice number (the page locks it, docs/vendors/lawpay.md §15).
A charge billsync makes itself adds " | <intent id>" so that a lost answer can be found by
reference without mistaking an earlier payment of the same invoice for it. Trust deposits carry
"TRUST <client id>" or "TRUST <client id>/<matter id>". Gateways cap references at 128 characters.
"""

from __future__ import annotations

from dataclasses import dataclass

from core.errors import BillsyncError
from core.models import RemoteBill

SEPARATOR = " | "
TRUST_PREFIX = "TRUST "
MAX_LENGTH = 128


@dataclass(frozen=True, slots=True)
class ParsedReference:
    """What a reference names: an invoice, or a client's (and matter's) trust."""

    invoice: str | None = None
    client_id: str | None = None
    matter_id: str | None = None
    tag: str | None = None  # the intent or plan id billsync added

    @property
    def is_trust(self) -> bool:
        """A trust deposit reference."""
        return self.client_id is not None


def invoice_key(bill: RemoteBill) -> str:
    """How an invoice is named in references: its number (PracticePanther bills have none: their id)."""
    return bill.number or bill.id


def trust_reference(client_id: str, matter_id: str | None = None) -> str:
    """The reference of a deposit to a client's (or one matter's) trust."""
    return _checked(TRUST_PREFIX + client_id + (f"/{matter_id}" if matter_id else ""))


def tagged(base: str, tag: str) -> str:
    """A reference unique to one intent or plan."""
    return _checked(f"{base}{SEPARATOR}{tag}")


def parse(reference: str | None) -> ParsedReference | None:
    """Read a reference back; None when there is none."""
    if not reference or not reference.strip():
        return None
    base, _, tag = reference.strip().partition(SEPARATOR)
    if base.startswith(TRUST_PREFIX):
        client, _, matter = base[len(TRUST_PREFIX) :].partition("/")
        return ParsedReference(client_id=client or None, matter_id=matter or None, tag=tag or None)
    return ParsedReference(invoice=base.strip(), tag=tag or None)


def _checked(reference: str) -> str:
    if len(reference) > MAX_LENGTH:
        raise BillsyncError(f"the gateway reference would exceed {MAX_LENGTH} characters: {reference[:40]}...")
    return reference
