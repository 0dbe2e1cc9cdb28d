"""What the firm agreed with its clients, laid over what the PMS says.

Clio and PracticePanther have no field for a client's or a matter's discount, a matter's
not-to-exceed cap or its current UTBMS phase, and say little about a timekeeper's LEDES
classification, so the firm sets them in `[firms.<id>.billing]` (config/billing.py):

- `clients.<client id>.discount`, `matters.<matter id>.discount`: the matter's wins;
- `matters.<matter id>.cap_amount` and `task_code` (the phase; a code set on the entry wins);
- `timekeepers.<user id>.classification`: wins over what the PMS says (Clio: the user's
  subscription type and job title, see connectors/clio/mapping.py).

Where the configuration says nothing, what the reference data already holds stays. Every caller
that captures, rates or bills a firm's work reads its reference data through `with_agreements`.
"""

from __future__ import annotations

from decimal import Decimal

from config.billing import BillingSettings
from core.matching import ReferenceData
from core.models import Client, Matter, TimeEntry, Timekeeper
from core.rating import agreed_amount, discount_for


def with_agreements(reference: ReferenceData, billing: BillingSettings) -> ReferenceData:
    """The reference data with the firm's configured agreements laid over it."""
    if not (billing.clients or billing.matters or billing.timekeepers):
        return reference
    timekeepers = [_timekeeper(tk, billing) for tk in reference.timekeepers.values()]
    clients = [_client(client, billing) for client in reference.clients.values()]
    matters = [_matter(matter, billing) for matter in reference.matters.values()]
    return ReferenceData(timekeepers, clients, matters, reference.categories.values())


def agreed_price(entry: TimeEntry, reference: ReferenceData, *, rate: Decimal, billed_seconds: int) -> Decimal:
    """What `entry` costs at `rate` for `billed_seconds`, under its matter's (or client's) agreement."""
    matter = reference.matters.get(entry.matter_id)
    category = reference.categories.get(entry.category_id) if entry.category_id else None
    return agreed_amount(
        rate=rate,
        billed_seconds=billed_seconds,
        flat=category is not None and category.flat,
        discount=discount_for(matter, reference.clients.get(entry.client_id)) if matter is not None else None,
    )


def _timekeeper(timekeeper: Timekeeper, billing: BillingSettings) -> Timekeeper:
    cfg = billing.timekeepers.get(timekeeper.id)
    if cfg is None or cfg.classification is None:
        return timekeeper
    return timekeeper.model_copy(update={"classification": cfg.classification})


def _client(client: Client, billing: BillingSettings) -> Client:
    cfg = billing.clients.get(client.id)
    if cfg is None or cfg.discount is None:
        return client
    return client.model_copy(update={"discount": cfg.discount.discount()})


def _matter(matter: Matter, billing: BillingSettings) -> Matter:
    cfg = billing.matters.get(matter.id)
    if cfg is None:
        return matter
    changes: dict[str, object] = {}
    if cfg.discount is not None:
        changes["discount"] = cfg.discount.discount()
    if cfg.cap_amount is not None:
        changes["cap_amount"] = cfg.cap_amount
    if cfg.task_code is not None:
        changes["task_code"] = cfg.task_code
    return matter.model_copy(update=changes)
