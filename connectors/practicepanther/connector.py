"""PracticePanther for billsync: PMS and activity source; no webhooks (docs/vendors/practicepanther.md §7)."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import datetime, timedelta
from typing import ClassVar

from pydantic import BaseModel, ConfigDict, Field, SecretStr

from connectors.practicepanther.client import DEFAULT_PAGE_SIZE, MAX_PAGE_SIZE, PracticePantherClient
from connectors.practicepanther.streams import STREAM_CLASSES
from connectors.practicepanther.writer import PracticePantherWriter
from core.connector import ConnectorRole, Context, Stream, VendorUrl
from core.errors import AuthFailed, NotConnected
from core.tokens import OAuthToken


class PracticePantherSettings(BaseModel):
    """A firm's PracticePanther API app (access is granted by PP on request, docs/vendors/practicepanther.md §1)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    client_id: str = Field(min_length=1)
    client_secret: SecretStr
    base_url: VendorUrl | None = None  # e.g. "http://127.0.0.1:8765/practicepanther" for the sandbox
    overlap_minutes: int = Field(default=15, ge=0, le=24 * 60)
    page_size: int = Field(default=DEFAULT_PAGE_SIZE, ge=1, le=MAX_PAGE_SIZE)


class PracticePantherConnector:
    """Reads activity and reference data from PracticePanther and writes time entries back."""

    name: ClassVar[str] = "practicepanther"
    roles: ClassVar[frozenset[ConnectorRole]] = frozenset({ConnectorRole.PMS, ConnectorRole.ACTIVITY_SOURCE})
    Settings: ClassVar[type[BaseModel]] = PracticePantherSettings

    def __init__(
        self, settings: PracticePantherSettings, ctx: Context, *, clock: Callable[[], datetime] | None = None
    ) -> None:
        self.settings = settings
        self._ctx = ctx
        self._clock = clock
        self.client = PracticePantherClient(
            ctx,
            client_id=settings.client_id,
            client_secret=settings.client_secret,
            base_url=settings.base_url,
            page_size=settings.page_size,
            clock=clock,
        )

    @classmethod
    def why_payments_by_hand(cls) -> str:
        """PracticePanther's API v2 reads and deletes payments but cannot create one (docs/vendors/lawpay.md §17.1)."""
        return "PracticePanther's API cannot create payments (payments are read-only)"

    def check(self) -> None:
        """Raise AuthFailed or Retryable with a clear message when PracticePanther cannot be used."""
        if self._ctx.tokens.get(self._ctx.firm, self.name) is None:
            raise NotConnected(self.name, self._ctx.firm)
        try:
            self.client.me()
        except AuthFailed as exc:
            raise AuthFailed(f"PracticePanther refused billsync's credentials: {exc}") from None

    def streams(self) -> Sequence[Stream]:
        """Reference streams first (users, accounts, matters), then activity."""
        overlap = timedelta(minutes=self.settings.overlap_minutes)
        return [cls(self.client, overlap=overlap, clock=self._clock, log=self._ctx.log) for cls in STREAM_CLASSES]

    def webhooks(self) -> None:
        """PracticePanther has no webhooks (docs/vendors/practicepanther.md §7): core polls."""
        return None

    def writer(self) -> PracticePantherWriter:
        """The time-entry writer: PracticePanther is a PMS."""
        return PracticePantherWriter(self.client, log=self._ctx.log)

    def authorize_url(self, redirect_uri: str, state: str) -> str:
        """Where the person who grants billsync access goes (OAuth authorization code, scope full)."""
        return self.client.authorize_url(redirect_uri, state)

    def exchange_code(self, code: str, redirect_uri: str) -> OAuthToken:
        """Tokens for an authorization code; core stores them encrypted."""
        return self.client.exchange_code(code, redirect_uri)
