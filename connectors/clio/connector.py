"""Clio Manage for billsync: PMS, activity source, and webhooks."""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from datetime import datetime, timedelta
from typing import ClassVar, Literal

from pydantic import BaseModel, ConfigDict, Field, SecretStr

from connectors.clio.bills import ClioBills
from connectors.clio.client import MAX_PAGE_LIMIT, ClioClient, ClioForbidden
from connectors.clio.streams import STREAM_CLASSES
from connectors.clio.webhooks import ClioWebhooks
from connectors.clio.writer import ClioWriter
from core.connector import ConnectorRole, Context, Stream, VendorUrl
from core.errors import AuthFailed, NotConnected
from core.tokens import OAuthToken


class ClioSettings(BaseModel):
    """A firm's Clio developer app and where its account lives."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    client_id: str = Field(min_length=1)
    client_secret: SecretStr
    # docs/vendors/clio.md §1 "Regions": one app per region; a token works only in its own region.
    region: Literal["us", "eu", "ca", "au"] = "us"
    base_url: VendorUrl | None = None  # e.g. "http://127.0.0.1:8765/clio" for the sandbox
    overlap_minutes: int = Field(default=15, ge=0, le=24 * 60)
    page_limit: int = Field(default=MAX_PAGE_LIMIT, ge=1, le=MAX_PAGE_LIMIT)


class ClioConnector:
    """Reads activity and reference data from Clio and writes time entries back."""

    name: ClassVar[str] = "clio"
    roles: ClassVar[frozenset[ConnectorRole]] = frozenset({ConnectorRole.PMS, ConnectorRole.ACTIVITY_SOURCE})
    Settings: ClassVar[type[BaseModel]] = ClioSettings  # typed as the protocol declares it

    def __init__(self, settings: ClioSettings, ctx: Context, *, clock: Callable[[], datetime] | None = None) -> None:
        self.settings = settings
        self._ctx = ctx
        self._clock = clock
        self.client = ClioClient(
            ctx,
            client_id=settings.client_id,
            client_secret=settings.client_secret,
            region=settings.region,
            base_url=settings.base_url,
            page_limit=settings.page_limit,
            clock=clock,
        )

    @classmethod
    def why_payments_by_hand(cls) -> str:
        """Clio's API has no call that records a payment on a bill (docs/vendors/clio.md §3.14,
        docs/vendors/lawpay.md §17.2).

        Payments reach bills only through Clio's own payment integrations or Clio Payments links;
        POST /bank_transactions (2026) has no bill or allocation field, so billsync does not use it.
        """
        return "Clio's API cannot record a payment on a bill (only Clio's own integrations and Clio Payments links can)"

    def check(self) -> None:
        """Raise AuthFailed or Retryable with a clear message when Clio cannot be used."""
        if self._ctx.tokens.get(self._ctx.firm, self.name) is None:
            raise NotConnected(self.name, self._ctx.firm)
        try:
            self.client.who_am_i()
        except AuthFailed as exc:
            raise AuthFailed(f"Clio ({self._where()}) refused billsync's credentials: {exc}") from None
        except ClioForbidden as exc:
            raise AuthFailed(f"Clio ({self._where()}) denied access: {exc}") from None

    def time_increment_minutes(self) -> int | None:
        """The smallest whole-minute increment Clio keeps as sent (core.connector.TimeRounding).

        docs/vendors/clio.md §4 item 2: Clio rounds each entry's `quantity` up to a multiple of `rounding`
        minutes and, with `use_decimal_rounding`, up to hundredths of an hour (36 s); `total` is
        computed from the rounded value. A quantity that is a multiple of both is left as sent:
        `rounding` itself, or with decimal rounding the least multiple of it that is also a
        multiple of 3 minutes (0.05 h). A Clio that does not round (0) keeps any whole minute.
        """
        minutes, decimal = self._rounding()
        if minutes is None:
            return None
        step = max(minutes, 1)
        return math.lcm(step, 3) if decimal else step

    def rounding_mismatch(self, increment_minutes: int) -> str | None:
        """A warning sentence when Clio's time rounding differs from billsync's, else None."""
        if increment_minutes < 1:
            raise ValueError("the billsync increment must be at least 1 minute")
        minutes, decimal = self._rounding()
        if minutes is None:
            return None  # Clio did not say: no claim either way
        billsync_seconds = increment_minutes * 60
        # docs/vendors/clio.md §4 item 2: Clio rounds each entry's quantity up to its increment, and with
        # use_decimal_rounding up to 0.01 h (36 s), and computes `total` from the rounded value.
        # billsync sends already rounded seconds, so Clio keeps them when they are multiples.
        kept = (minutes == 0 or billsync_seconds % (minutes * 60) == 0) and (not decimal or billsync_seconds % 36 == 0)
        if minutes == increment_minutes and kept:
            return None
        clio = "Clio does not round time" if minutes == 0 else f"Clio rounds time to {minutes}-minute increments"
        if decimal:
            clio += " and to hundredths of an hour"
        outcome = (
            "entries keep billsync's rounding"
            if kept
            else "Clio rounds billsync's entries up again, so its totals can exceed billsync's amounts"
        )
        sentence = f"{clio}; billsync is configured for {increment_minutes}: {outcome}"
        self._ctx.log.warning(
            "clio rounding differs from billsync",
            clio_minutes=minutes,
            clio_decimal=decimal,
            billsync_minutes=increment_minutes,
            kept=kept,
        )
        return sentence

    def _rounding(self) -> tuple[int | None, bool]:
        # docs/vendors/clio.md §3.15: settings/billing carries `rounding` (minute increment) and
        # `use_decimal_rounding`; anything but a non-negative whole number is "not given".
        settings = self.client.billing_settings("rounding,use_decimal_rounding")
        value = settings.get("rounding")
        minutes = value if isinstance(value, int) and not isinstance(value, bool) and value >= 0 else None
        return minutes, settings.get("use_decimal_rounding") is True

    def streams(self) -> Sequence[Stream]:
        """Reference streams first (users, categories, clients, matters), then activity."""
        overlap = timedelta(minutes=self.settings.overlap_minutes)
        return [cls(self.client, overlap=overlap, clock=self._clock, log=self._ctx.log) for cls in STREAM_CLASSES]

    def webhooks(self) -> ClioWebhooks:
        """The webhook handler (handshake, signatures, renewal)."""
        return ClioWebhooks(self.client, clock=self._clock, log=self._ctx.log)

    def writer(self) -> ClioWriter:
        """The time-entry writer: Clio is a PMS."""
        return ClioWriter(self.client, log=self._ctx.log)

    def bills(self) -> ClioBills:
        """Moves bills a person generated along their states (core.connector.MovesBills)."""
        return ClioBills(self.client, log=self._ctx.log)

    def set_bill_memo(self, bill_id: str, memo: str) -> None:
        """Write the memo on a bill, e.g. its payment link (core.connector.BillMemoWriter)."""
        self.bills().set_bill_memo(bill_id, memo)

    def authorize_url(self, redirect_uri: str, state: str) -> str:
        """Where the person who grants billsync access goes (OAuth authorization code)."""
        return self.client.authorize_url(redirect_uri, state)

    def exchange_code(self, code: str, redirect_uri: str) -> OAuthToken:
        """Tokens for an authorization code; core stores them encrypted."""
        return self.client.exchange_code(code, redirect_uri)

    def _where(self) -> str:
        return self.settings.base_url or f"region {self.settings.region}"
