"""Where a client's bills go: the address configured for it, else the one its PMS record carries.

`billing.clients.<id>.address` wins when any part of it is set (a firm may bill a client
somewhere its PMS record does not say); otherwise the client's address as the PMS
keeps it (Clio: the contact's address named Billing, else its primary one; PracticePanther: the
account's address). The PDF pre-bill and LEDES98BI both take it from here, so they never differ.
"""

from __future__ import annotations

from config.billing import BillingSettings, ClientAddress
from core.matching import ReferenceData


def client_address(client_id: str, reference: ReferenceData, billing: BillingSettings) -> ClientAddress:
    """The client's billing address; all parts empty when neither the firm nor the PMS has one.

    A PMS street of several lines is address_1 (its first line) and address_2 (the rest, joined
    with ", "), the two street fields LEDES98BI has.
    """
    configured = billing.client(client_id).address
    if configured.address_lines():
        return configured
    client = reference.clients.get(client_id)
    found = client.address if client is not None else None
    if found is None:
        return configured
    street = [line.strip() for line in found.street.splitlines() if line.strip()]
    # Not validated as configuration: it is the PMS's data, and each output makes it safe to print
    # (the PDF with pdf_text, LEDES with ascii_text); a control character in it is not an error here.
    return ClientAddress.model_construct(
        address_1=street[0] if street else "",
        address_2=", ".join(street[1:]),
        city=found.city.strip(),
        region=found.region.strip(),
        postcode=found.postcode.strip(),
        country=found.country.strip(),
    )
