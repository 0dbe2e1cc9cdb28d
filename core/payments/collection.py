"""Collecting invoices and retainers with hosted payment page links.

An invoice's link pays its outstanding balance into operating, reference = the invoice number,
both locked on the page. It reaches the client in the PMS where the PMS's API allows (Clio: the
bill's memo) or through the firm's own e-mail template, rendered for the staff to send. The
template sees only the client's name, the invoice number, amount, due date, link and firm name.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from decimal import Decimal

from jinja2.sandbox import SandboxedEnvironment

from core.errors import BillsyncError
from core.payments import references
from core.payments.firm import FirmPayments
from core.payments.ledger import ZERO
from core.payments.models import Link

MEMO_PREFIX = "Pay online: "


@dataclass(frozen=True)
class Delivery:
    """A link and how it reached the client; `email` holds the rendered message when e-mailed."""

    link: Link
    email: str | None = None


def invoice_link(fp: FirmPayments, number: str) -> Link:
    """The operating page link for what the invoice still owes (a partial payment lowers it)."""
    bill = fp.invoice(number)
    fp.verified_accounts()  # the page pays into the operating account: it must be one at the gateway
    # What is free, not the whole balance: a charge under way or a live plan already asks for the rest.
    room = fp.claims().invoice(bill)
    balance = room.free
    if balance <= 0:
        raise BillsyncError(f"invoice {number} has nothing free to ask for (it owes {room.figures()}): no link to send")
    url = fp.gateway.payment_link(
        page_url=fp.settings.operating_page_url, amount=balance, reference=references.invoice_key(bill)
    )
    previous = fp.payments.link(fp.firm, bill.id)
    if previous is not None and previous.url == url:
        return previous
    return Link(
        bill_id=bill.id,
        invoice_number=references.invoice_key(bill),
        amount=balance,
        url=url,
        delivered_via="none",
        delivered_at=fp.now(),
    )


def deliver_invoice_link(fp: FirmPayments, number: str, *, client_name: str = "") -> Delivery:
    """Put the link where the client sees it, and remember it."""
    link = invoice_link(fp, number)
    bill = fp.invoice(number)
    if fp.settings.delivery == "pms_memo" and fp.memo_writer is not None:
        fp.memo_writer.set_bill_memo(bill.id, MEMO_PREFIX + link.url)
        delivered = replace(link, delivered_via="pms_memo", delivered_at=fp.now())
        fp.payments.save_link(fp.firm, delivered)
        return Delivery(delivered)
    text = render_email(
        fp.settings.email_template,
        client_name=client_name or bill.client_id,
        invoice_number=link.invoice_number,
        amount=link.amount,
        due_on=str(bill.due_on or ""),
        link=link.url,
        firm_name=fp.firm_name,
    )
    delivered = replace(link, delivered_via="email", delivered_at=fp.now())
    fp.payments.save_link(fp.firm, delivered)
    return Delivery(delivered, email=text)


def render_email(template: str, **values: object) -> str:
    """The firm's template, sandboxed: a template from configuration can call nothing."""
    return SandboxedEnvironment(autoescape=False).from_string(template).render(**values)


def trust_link(fp: FirmPayments, client_id: str, amount: Decimal, matter_id: str | None = None) -> str:
    """A retainer or evergreen top-up request: the trust page, reference naming the client (and matter)."""
    if amount <= 0:
        raise BillsyncError("a trust request must be a positive amount")
    fp.check_client(client_id, matter_id)
    fp.verified_accounts()
    return fp.gateway.payment_link(
        page_url=fp.settings.trust_page_url, amount=amount, reference=references.trust_reference(client_id, matter_id)
    )


def evergreen_requests(fp: FirmPayments) -> list[tuple[str, Decimal, str]]:
    """(client, top-up amount, trust link) for clients whose trust fell below their evergreen minimum."""
    ledger = fp.ledger()
    requests = []
    for client_id, config in sorted(fp.settings.clients.items()):
        if config.evergreen_minimum is None or config.evergreen_target is None:
            continue
        held = sum((r.trust for r in ledger.rows if r.client_id == client_id), ZERO)
        if held < config.evergreen_minimum:
            top_up = config.evergreen_target - held
            requests.append((client_id, top_up, trust_link(fp, client_id, top_up)))
    return requests
