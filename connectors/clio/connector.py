"""Clio Manage for billsync: system of record, activity source, and webhooks."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import datetime, timedelta
from typing import ClassVar, Literal

from pydantic import BaseModel, ConfigDict, Field, SecretStr

from connectors.clio.client import MAX_PAGE_LIMIT, ClioClient, ClioForbidden
from connectors.clio.streams import STREAM_CLASSES
from connectors.clio.webhooks import ClioWebhooks
from connectors.clio.writer import ClioWriter
from core.connector import Context, Stream
from core.errors import AuthFailed
from core.tokens import OAuthToken


class ClioSettings(BaseModel):
    """A firm's Clio developer app and where its account lives."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    client_id: str = Field(min_length=1)
    client_secret: SecretStr
    # clio.md §1 "Regions": one app per region; a token works only in its own region.
    region: Literal["us", "eu", "ca", "au"] = "us"
    base_url: str | None = None  # e.g. "http://127.0.0.1:8765/clio" for the sandbox
    overlap_minutes: int = Field(default=15, ge=0, le=24 * 60)
    page_limit: int = Field(default=MAX_PAGE_LIMIT, ge=1, le=MAX_PAGE_LIMIT)


class ClioConnector:
    """Reads activity and reference data from Clio and writes time entries back."""

    name: ClassVar[str] = "clio"
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

    def check(self) -> None:
        """Raise AuthFailed or Retryable with a clear message when Clio cannot be used."""
        try:
            self.client.who_am_i()
        except AuthFailed as exc:
            raise AuthFailed(f"Clio ({self._where()}) refused billsync's credentials: {exc}") from None
        except ClioForbidden as exc:
            raise AuthFailed(f"Clio ({self._where()}) denied access: {exc}") from None

    def streams(self) -> Sequence[Stream]:
        """Reference streams first (users, categories, clients, matters), then activity."""
        overlap = timedelta(minutes=self.settings.overlap_minutes)
        return [cls(self.client, overlap=overlap, clock=self._clock, log=self._ctx.log) for cls in STREAM_CLASSES]

    def webhooks(self) -> ClioWebhooks:
        """The webhook handler (handshake, signatures, renewal)."""
        return ClioWebhooks(self.client, clock=self._clock, log=self._ctx.log)

    def writer(self) -> ClioWriter:
        """The time-entry writer: Clio is a system of record."""
        return ClioWriter(self.client, log=self._ctx.log)

    def authorize_url(self, redirect_uri: str, state: str) -> str:
        """Where the person who grants billsync access goes (OAuth authorization code)."""
        return self.client.authorize_url(redirect_uri, state)

    def exchange_code(self, code: str, redirect_uri: str) -> OAuthToken:
        """Tokens for an authorization code; core stores them encrypted."""
        return self.client.exchange_code(code, redirect_uri)

    def _where(self) -> str:
        return self.settings.base_url or f"region {self.settings.region}"
