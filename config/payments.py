"""A firm's payments settings: gateway accounts, payment pages, link delivery, per-client rules.

Trust safety is configured, never guessed: the operating and trust account ids are named here
and checked against the gateway's own trust flags before any money moves.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

DEFAULT_EMAIL_TEMPLATE = (
    "Dear {{ client_name }},\n\n"
    "Invoice {{ invoice_number }} for ${{ amount }} is due{% if due_on %} on {{ due_on }}{% endif %}.\n"
    "You can pay it securely online: {{ link }}\n\n"
    "Thank you,\n{{ firm_name }}\n"
)


class ClientPayments(BaseModel):
    """How one client pays: retainer deductions, an evergreen retainer, payment plans."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    # never: trust is never applied to invoices; on_request: only `billsync pay transfer`;
    # auto: issued invoices are paid from available trust (each transfer recorded and listed for posting).
    retainer_deduction: Literal["never", "on_request", "auto"] = "on_request"
    evergreen_minimum: Decimal | None = Field(default=None, ge=0, decimal_places=2)
    evergreen_target: Decimal | None = Field(default=None, gt=0, decimal_places=2)
    plans_allowed: bool = False
    plan_instalments: int = Field(default=3, ge=2, le=36)
    plan_interval: Literal["week", "month"] = "month"

    @model_validator(mode="after")
    def _evergreen_pair(self) -> ClientPayments:
        if (self.evergreen_minimum is None) != (self.evergreen_target is None):
            raise ValueError("evergreen_minimum and evergreen_target go together")
        minimum, target = self.evergreen_minimum, self.evergreen_target
        if minimum is not None and target is not None and target <= minimum:
                raise ValueError("evergreen_target must be above evergreen_minimum")
        return self


class PaymentsSettings(BaseModel):
    """[firms.<id>.payments]: off unless the section is present."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    gateway: str = "lawpay"  # the connector taking payments; its settings are under [firms.<id>.connectors.<gateway>]
    operating_account: str = Field(min_length=1)  # card deposits of earned fees
    trust_account: str = Field(min_length=1)  # card deposits of retainers (client money)
    operating_bank_account: str | None = None  # eCheck deposits use other ids (docs/vendors/lawpay.md §3)
    trust_bank_account: str | None = None
    operating_page_url: str = Field(min_length=1)  # hosted page depositing into operating
    trust_page_url: str = Field(min_length=1)  # hosted page depositing into trust
    # pms_memo: the link is written on the bill in the PMS where its API allows (Clio's bill memo);
    # email: the firm's template is rendered for the billing staff to send.
    delivery: Literal["pms_memo", "email"] = "pms_memo"
    email_template: str = DEFAULT_EMAIL_TEMPLATE
    default_client: ClientPayments = Field(default_factory=ClientPayments)
    clients: dict[str, ClientPayments] = Field(default_factory=dict)  # by the PMS's client id

    @model_validator(mode="after")
    def _accounts_apart(self) -> PaymentsSettings:
        operating = {self.operating_account, self.operating_bank_account} - {None}
        trust = {self.trust_account, self.trust_bank_account} - {None}
        if operating & trust:
            raise ValueError("an account cannot be both operating and trust (ABA Model Rule 1.15)")
        return self

    def client(self, client_id: str) -> ClientPayments:
        """A client's own settings, or the firm's default."""
        return self.clients.get(client_id, self.default_client)
