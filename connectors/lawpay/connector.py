"""LawPay for billsync: a payment gateway. Not an activity source and not a PMS."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime
from typing import ClassVar, Literal

from pydantic import BaseModel, ConfigDict, Field, SecretStr, model_validator

from connectors.lawpay.client import DEFAULT_PAGE_SIZE, MAX_PAGE_SIZE, LawPayClient
from connectors.lawpay.gateway import LawPayGateway
from connectors.lawpay.webhooks import LawPayWebhooks
from core.connector import ConnectorRole, Context, Stream, VendorUrl
from core.errors import AuthFailed, ConfigError


class LawPaySettings(BaseModel):
    """A firm's gateway credentials: one secret key, test or live (docs/vendors/lawpay.md §2)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    secret_key: SecretStr  # the merchant's secret key for `mode`; test and live keys differ
    mode: Literal["test", "live"] = "test"
    base_url: VendorUrl | None = None  # default https://api.8am.com; api.chargeio.com and api.affinipay.com also exist
    page_size: int = Field(default=DEFAULT_PAGE_SIZE, ge=1, le=MAX_PAGE_SIZE)
    # Where event polling starts the first time (the events list is newest-first without start_date).
    events_since: datetime = datetime(2020, 1, 1, tzinfo=UTC)

    @model_validator(mode="after")
    def _live_needs_https(self) -> LawPaySettings:
        if self.mode == "live" and self.base_url and not self.base_url.startswith("https://"):
            raise ValueError(
                "live mode needs an https:// base_url: the gateway rejects plain HTTP (docs/vendors/lawpay.md §2)"
            )
        return self


class LawPayConnector:
    """Payment links, charges, refunds, recurring plans and events through the LawPay gateway."""

    name: ClassVar[str] = "lawpay"
    vendor: ClassVar[str] = "LawPay"
    roles: ClassVar[frozenset[ConnectorRole]] = frozenset({ConnectorRole.PAYMENT_GATEWAY})
    Settings: ClassVar[type[BaseModel]] = LawPaySettings

    def __init__(self, settings: LawPaySettings, ctx: Context) -> None:
        self.settings = settings
        self._ctx = ctx
        self.client = LawPayClient(
            ctx, secret_key=settings.secret_key, base_url=settings.base_url, page_size=settings.page_size
        )

    def check(self) -> None:
        """The key is accepted and the merchant has both an operating and a trust account."""
        try:
            accounts = self.payments().accounts()
        except AuthFailed:
            raise AuthFailed(
                f"LawPay refused the {self.settings.mode}-mode secret key for firm {self._ctx.firm}: "
                "copy it again from Settings > Advanced in LawPay"
            ) from None
        if not any(a.trust for a in accounts) or not any(a.trust is False for a in accounts):
            raise ConfigError(
                "LawPay: the merchant needs an operating and a trust account with known trust flags "
                f"(found {[(a.name, a.trust) for a in accounts]})"
            )

    def streams(self) -> Sequence[Stream]:
        """None: LawPay holds no activity and no reference data."""
        return []

    def webhooks(self) -> LawPayWebhooks:
        """A doorbell handler: a delivery asks core to poll events."""
        return LawPayWebhooks()

    def writer(self) -> None:
        """None: LawPay is not a PMS for time entries."""
        return None

    def payments(self) -> LawPayGateway:
        """The payment operations (core.gateway.GatewayConnector)."""
        return LawPayGateway(self.client, events_since=self.settings.events_since)
