"""NetDocuments for billsync: an activity source (document authoring work); no webhooks, no writer."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import UTC, datetime, timedelta
from typing import ClassVar

from pydantic import BaseModel, ConfigDict, Field, SecretStr, field_validator, model_validator

from connectors.netdocuments import mapping
from connectors.netdocuments.auth import Grant
from connectors.netdocuments.client import NetDocumentsClient, NetDocumentsForbidden, Region
from connectors.netdocuments.streams import DocumentActivities
from core.connector import ConnectorRole, Context, Stream, VendorUrl
from core.errors import AuthFailed, NotConnected
from core.tokens import OAuthToken


class NetDocumentsSettings(BaseModel):
    """A firm's NetDocuments app and repository (client ids look like AP-XXXXXXXX, docs/vendors/netdocuments.md §2)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    client_id: str = Field(min_length=1)
    client_secret: SecretStr
    repository_id: str = Field(pattern=r"^CA-[A-Za-z0-9]+$")  # docs/vendors/netdocuments.md §2: CA-XXXXXXXX
    region: Region = "us"  # docs/vendors/netdocuments.md §1: tokens work only in their own region (UNCONFIRMED)
    grant: Grant = "client_credentials"  # a service account; "authorization_code" for a person's grant
    # docs/vendors/netdocuments.md §3: what the service-account clients ask; the log's needs are UNCONFIRMED
    scope: str = "full"
    base_url: VendorUrl | None = None  # e.g. "http://127.0.0.1:8700/netdocuments" for the sandbox
    # The matter number as the PMS writes it, from the document's profile.
    workspace_format: str = "{client}-{matter}"
    # Profile attribute numbers; None: discovered per cabinet (wsOrgAttrNum, wsAttrNum;
    # docs/vendors/netdocuments.md §5).
    client_attribute: int | None = Field(default=None, ge=1)
    matter_attribute: int | None = Field(default=None, ge=1)
    coalesce_minutes: int = Field(default=30, ge=1, le=24 * 60)
    overlap_minutes: int = Field(default=15, ge=0, le=24 * 60)  # the log's lag billsync tolerates
    # docs/vendors/netdocuments.md §4: the log's own default start
    first_read_days: int = Field(default=30, ge=1, le=365)
    log_window_hours: int = Field(default=24, ge=1, le=24 * 31)  # docs/vendors/netdocuments.md §6: use narrow windows

    @field_validator("workspace_format")
    @classmethod
    def _known_placeholders(cls, value: str) -> str:
        mapping.workspace_fields(value)
        return value

    @model_validator(mode="after")
    def _both_or_neither(self) -> NetDocumentsSettings:
        if (self.client_attribute is None) != (self.matter_attribute is None):
            raise ValueError("set both client_attribute and matter_attribute, or neither (to discover them)")
        return self


class NetDocumentsConnector:
    """Reads document authoring work from the repository log; writes nothing."""

    name: ClassVar[str] = "netdocuments"
    roles: ClassVar[frozenset[ConnectorRole]] = frozenset({ConnectorRole.ACTIVITY_SOURCE})
    Settings: ClassVar[type[BaseModel]] = NetDocumentsSettings

    def __init__(
        self, settings: NetDocumentsSettings, ctx: Context, *, clock: Callable[[], datetime] | None = None
    ) -> None:
        self.settings = settings
        self._ctx = ctx
        self._clock = clock
        self.client = NetDocumentsClient(
            ctx,
            client_id=settings.client_id,
            client_secret=settings.client_secret,
            repository_id=settings.repository_id,
            region=settings.region,
            grant=settings.grant,
            scope=settings.scope,
            base_url=settings.base_url,
            clock=clock,
        )

    def check(self) -> None:
        """Raise AuthFailed or Retryable with a clear message when NetDocuments cannot be used."""
        if self.settings.grant == "authorization_code" and self._ctx.tokens.get(self._ctx.firm, self.name) is None:
            raise NotConnected(self.name, self._ctx.firm)
        try:
            self.client.user_info()
            # The log is what billsync needs; its rights are UNCONFIRMED (docs/vendors/netdocuments.md §6), so ask for
            # an hour of it.
            end = self._clock() if self._clock else datetime.now(UTC)
            self.client.log(end - timedelta(hours=1), end)
        except AuthFailed as exc:
            raise AuthFailed(f"NetDocuments refused billsync's credentials: {exc}") from None
        except NetDocumentsForbidden as exc:
            raise AuthFailed(f"NetDocuments lets billsync in but not into the repository log: {exc}") from None

    def streams(self) -> Sequence[Stream]:
        """The one stream: document authoring work."""
        s = self.settings
        attributes = (s.client_attribute, s.matter_attribute) if s.client_attribute and s.matter_attribute else None
        return [
            DocumentActivities(
                self.client,
                window=timedelta(minutes=s.coalesce_minutes),
                overlap=timedelta(minutes=s.overlap_minutes),
                first_read=timedelta(days=s.first_read_days),
                log_window=timedelta(hours=s.log_window_hours),
                workspace_format=s.workspace_format,
                attributes=attributes,
                clock=self._clock,
                log=self._ctx.log,
            )
        ]

    def webhooks(self) -> None:
        """NetDocuments has no webhooks or event subscriptions (docs/vendors/netdocuments.md §9): core polls the log."""
        return None

    def writer(self) -> None:
        """An activity source only: entries go to the firm's PMS."""
        return None

    def authorize_url(self, redirect_uri: str, state: str) -> str:
        """Where the person who grants billsync access goes (grant = "authorization_code")."""
        return self.client.authorize_url(redirect_uri, state)

    def exchange_code(self, code: str, redirect_uri: str) -> OAuthToken:
        """Tokens for an authorization code; core stores them encrypted."""
        return self.client.exchange_code(code, redirect_uri)
