"""Build the Microsoft 365 sandbox for `billsync sandbox` / `billsync demo`, and the settings that reach it.

Registered as the `microsoft365` entry point of `billsync.sandboxes`; core's sandbox server mounts
it at /microsoft365 (Graph at /microsoft365/graph/v1.0, Entra at /microsoft365/login) and its
admin API at /_sandbox/microsoft365.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from billsync_sandboxes.kit import Clock
from billsync_sandboxes.kit.server import api_root
from billsync_sandboxes.microsoft365.state import (
    DEFAULT_CLIENT_ID,
    DEFAULT_CLIENT_SECRET,
    DEFAULT_TENANT,
    Microsoft365Sandbox,
)


def build_sandbox(
    seed: Mapping[str, Any], *, rate_limit_per_minute: int | None = None, clock: Clock | None = None
) -> Microsoft365Sandbox:
    """A Graph sandbox loaded with seed.

    `rate_limit_per_minute` is the CLI's knob for Clio-style limits; Graph's limits are its own
    (10,000 requests per 10 minutes and 4 at a time per mailbox), so it is not used.

    `clock`: the sandbox's clock (the demo's: its month's end, running on); None: the real clock.
    Call records are kept 30 days back from it.
    """
    return Microsoft365Sandbox(seed, clock=clock)


def connector_settings(base_url: str) -> dict[str, Any]:
    """The microsoft365 connector settings that point at a sandbox server at base_url.

    The demo month lies in the past, so the first round reads a year back (Teams calls still only
    as far as Microsoft keeps them: 30 days).
    """
    root = api_root(base_url, "microsoft365")
    return {
        "tenant_id": DEFAULT_TENANT,
        "client_id": DEFAULT_CLIENT_ID,
        "client_secret": DEFAULT_CLIENT_SECRET,
        "graph_base_url": f"{root}/graph/v1.0",
        "authority_host": f"{root}/login",
        "lookback_days": 365,
    }


def firm_settings(sandbox: Microsoft365Sandbox, base_url: str) -> dict[str, Any]:
    """What a firm on this sandbox configures (`billsync sandbox --write-config`): an activity source."""
    del sandbox  # every sandbox tenant is reached the same way
    return {"sources": ["microsoft365"], "connectors": {"microsoft365": connector_settings(base_url)}}
