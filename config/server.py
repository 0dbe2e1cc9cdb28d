"""The `[server]` section: what `billsync run`'s HTTP listener serves, and how long it waits for a client.

The listener vendors post webhooks to is reachable from the internet, so it serves nothing a
stranger may read by default: the report pages need a firm's token, `/openapi.json` is off, and
`/metrics` has a listener of its own (on loopback) only when a port is given for it.
"""

from __future__ import annotations

import ipaddress

from pydantic import BaseModel, ConfigDict, Field, field_validator


class ServerSettings(BaseModel):
    """Routes of the main listener, the metrics listener, and the limits every connection lives under."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    openapi: bool = False  # GET /openapi.json on the main listener
    # /metrics on a listener of its own; None: not served there (`billsync run --metrics-port` sets it too).
    metrics_port: int | None = Field(default=None, ge=0, le=65535)
    metrics_host: str = "127.0.0.1"
    # /metrics on the main listener as well: only where that listener is not reachable from outside.
    metrics_on_main_listener: bool = False
    # A client gets this long for a request's headers (from connecting, or from the previous
    # response on a kept-alive connection) and then for its body; too slow and it is cut off.
    header_timeout_seconds: float = Field(default=10, gt=0, le=300)
    body_timeout_seconds: float = Field(default=30, gt=0, le=600)
    keep_alive_seconds: int = Field(default=5, ge=1, le=300)  # an idle connection between requests
    # Connections held at once; one more is answered 503 and closed (a vendor retries it).
    max_connections: int = Field(default=256, ge=1, le=10_000)
    # Proxies (addresses or networks, "10.0.0.0/8") whose X-Forwarded-For and X-Forwarded-Proto are
    # believed. None by default: the client is the connection's peer, whatever a header claims, so
    # a header cannot dodge the sign-in limit or make the cookie Secure.
    trusted_proxies: tuple[str, ...] = ()

    @field_validator("trusted_proxies")
    @classmethod
    def _addresses_or_networks(cls, proxies: tuple[str, ...]) -> tuple[str, ...]:
        for proxy in proxies:
            try:
                ipaddress.ip_network(proxy, strict=False)
            except ValueError:
                raise ValueError(f"{proxy!r} is not an IP address or network (e.g. 127.0.0.1, 10.0.0.0/8)") from None
        return proxies
