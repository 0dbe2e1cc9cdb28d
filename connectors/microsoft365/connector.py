"""Microsoft 365 for billsync: an activity source (calendar, sent mail, Teams calls) with webhooks."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import UTC, datetime, timedelta
from typing import ClassVar
from urllib.parse import quote, urlsplit

from pydantic import BaseModel, ConfigDict, Field, SecretStr, field_validator, model_validator

from connectors.microsoft365.auth import GraphAuth, client_credential, is_loopback
from connectors.microsoft365.client import GraphClient, GraphForbidden, GraphNotFound
from connectors.microsoft365.streams import CalendarEvents, MailboxDirectory, SentMail, TeamsCalls
from connectors.microsoft365.webhooks import GraphWebhooks
from core.connector import ConnectorRole, Context, Stream, VendorUrl
from core.errors import AuthFailed

PUBLIC_GRAPH = "https://graph.microsoft.com/v1.0"
PUBLIC_AUTHORITY_HOST = "https://login.microsoftonline.com"


class Microsoft365Settings(BaseModel):
    """A firm's Entra app registration (application permissions, admin consent) and what to read."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    tenant_id: str = Field(min_length=1)  # a tenant GUID or domain: never "common" (§1)
    client_id: str = Field(min_length=1)
    client_secret: SecretStr | None = None
    certificate_private_key: SecretStr | None = None  # PEM, with the thumbprint below
    certificate_thumbprint: str | None = None
    certificate_passphrase: SecretStr | None = None
    # The timekeepers' mailboxes (user principal names); empty means every enabled user with mail.
    mailboxes: list[str] = Field(default_factory=list)
    teams_calls: bool = True  # needs CallRecords.Read.All, tenant-wide
    # National clouds (§1 table) and the sandbox: where Graph and Entra live.
    graph_base_url: VendorUrl = PUBLIC_GRAPH
    authority_host: VendorUrl = PUBLIC_AUTHORITY_HOST
    lookback_days: int = Field(default=30, ge=1, le=365)  # how far back the first round reads
    horizon_days: int = Field(default=14, ge=1, le=90)  # how far ahead a calendar round looks
    page_size: int = Field(default=100, ge=1, le=1000)

    @model_validator(mode="after")
    def _one_credential(self) -> Microsoft365Settings:
        has_certificate = self.certificate_private_key is not None or self.certificate_thumbprint is not None
        if (self.client_secret is None) == (not has_certificate):
            raise ValueError("give either client_secret or certificate_private_key + certificate_thumbprint")
        if has_certificate and (self.certificate_private_key is None or not self.certificate_thumbprint):
            raise ValueError("a certificate needs both certificate_private_key and certificate_thumbprint")
        if self.tenant_id.lower() in ("common", "organizations", "consumers"):
            raise ValueError("tenant_id must name the firm's tenant: app-only tokens need a tenant-specific authority")
        return self

    @field_validator("graph_base_url")
    @classmethod
    def _graph_over_https(cls, value: str) -> str:
        graph = urlsplit(value)
        if graph.scheme != "https" and not (graph.scheme == "http" and is_loopback(graph.hostname)):
            raise ValueError("must be https (plain http only on loopback, for the sandbox)")
        return value

    @property
    def scope(self) -> str:
        """The app-only scope: the Graph host's /.default (§1: {graph-host}/.default)."""
        parts = urlsplit(self.graph_base_url)
        return f"{parts.scheme}://{parts.netloc}/.default"


class Microsoft365Connector:
    """Reads calendar events, sent mail and Teams calls of the firm's timekeepers from Microsoft Graph."""

    name: ClassVar[str] = "microsoft365"
    roles: ClassVar[frozenset[ConnectorRole]] = frozenset({ConnectorRole.ACTIVITY_SOURCE})
    Settings: ClassVar[type[BaseModel]] = Microsoft365Settings

    def __init__(
        self, settings: Microsoft365Settings, ctx: Context, *, clock: Callable[[], datetime] | None = None
    ) -> None:
        self.settings = settings
        self._ctx = ctx
        self._clock = clock or (lambda: datetime.now(UTC))
        # One msal app per connector, kept for the process: its in-memory cache serves every request.
        self.auth = GraphAuth(
            tenant_id=settings.tenant_id,
            client_id=settings.client_id,
            credential=client_credential(
                settings.client_secret,
                settings.certificate_private_key,
                settings.certificate_thumbprint,
                settings.certificate_passphrase,
            ),
            authority_host=settings.authority_host,
            scope=settings.scope,
            timeout=ctx.http.timeout,
            transport=ctx.http.session,
        )
        self.client = GraphClient(
            ctx,
            self.auth,
            base_url=settings.graph_base_url,
            tenant_id=settings.tenant_id,
            page_size=settings.page_size,
        )
        self.directory = MailboxDirectory(self.client, settings.mailboxes, self._clock)

    def check(self) -> None:
        """Raise AuthFailed or Retryable with a clear message when Graph cannot be used."""
        probe = f"users/{quote(self.settings.mailboxes[0])}" if self.settings.mailboxes else "users"
        try:
            self.client.get(probe, params={"$select": "id"} | ({} if self.settings.mailboxes else {"$top": "1"}))
        except AuthFailed as exc:
            raise AuthFailed(f"Microsoft 365 (tenant {self.settings.tenant_id}): {exc}") from None
        except GraphForbidden as exc:
            raise AuthFailed(f"Microsoft 365 (tenant {self.settings.tenant_id}) denied access: {exc}") from None
        except GraphNotFound:
            mailbox, tenant = self.settings.mailboxes[0], self.settings.tenant_id
            raise AuthFailed(f"Microsoft 365: mailbox {mailbox} does not exist in tenant {tenant}") from None

    def streams(self) -> Sequence[Stream]:
        """Calendar events, sent mail, and (when enabled) Teams calls: activity streams only."""
        lookback = timedelta(days=self.settings.lookback_days)
        found: list[Stream] = [
            CalendarEvents(
                self.client,
                self.directory,
                lookback=lookback,
                horizon=timedelta(days=self.settings.horizon_days),
                clock=self._clock,
                log=self._ctx.log,
            ),
            SentMail(self.client, self.directory, lookback=lookback, clock=self._clock, log=self._ctx.log),
        ]
        if self.settings.teams_calls:
            found.append(
                TeamsCalls(self.client, self.directory, lookback=lookback, clock=self._clock, log=self._ctx.log)
            )
        return found

    def webhooks(self) -> GraphWebhooks:
        """Change notifications: handshake, clientState, lifecycle events, renewal."""
        return GraphWebhooks(
            self.client, self.directory, clock=self._clock, log=self._ctx.log, calls=self.settings.teams_calls
        )

    def writer(self) -> None:
        """An activity source writes nothing back."""
        return None
